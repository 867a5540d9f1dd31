"""Retries that never pay twice: a producing call repeated with its `idempotency_key` gets the first call's answer.

Nothing is sent upstream again, whether the first call finished, is still running (on this instance or another),
failed, or was lost with an instance killed under it; a key is tied to its call only once the call starts a job,
and each signed-in user's keys are their own.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.fake_openai import Emulator, Fault
from tests.support.results import entries, text_of
from tests.support.s3 import S3Server
from tests.support.servers import SettingsFactory, http_server, open_client, server_env
from tests.support.signin import issuer_of, signed_in_server
from tests.support.waiting import PATIENCE

pytestmark = pytest.mark.anyio

GENERATIONS = "/images/generations"
REPEATED = "Answered from the earlier call with this idempotency_key"


def generation(key: str, prompt: str = "a red kite", **more: Any) -> dict[str, Any]:
    return {"prompt": prompt, "idempotency_key": key, **more}


def status_of(result: CallToolResult) -> dict[str, Any]:
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None, text_of(result)
    return structured


async def test_a_repeated_key_gets_the_first_answer_and_sends_nothing(client: Client, emulator: Emulator) -> None:
    first = await client.call_tool("generate_image", generation("kite-1"))
    again = await client.call_tool("generate_image", generation("kite-1"))
    other = await client.call_tool("generate_image", generation("kite-2"))

    assert [image["id"] for image in entries(again)] == [image["id"] for image in entries(first)]
    assert f"{REPEATED} (job " in text_of(again) and "nothing was sent or paid again" in text_of(again)
    assert entries(other)[0]["id"] != entries(first)[0]["id"]
    assert len(emulator.requests_to(GENERATIONS)) == 2, "the repeat was not sent"


async def test_a_repeat_while_the_first_call_runs_gets_its_job(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    async with open_client(make_settings(response_deadline=0.5)) as client:
        with emulator.hold(GENERATIONS) as upstream:
            first = status_of(await client.call_tool("generate_image", generation("slow-kite")))
            repeat = status_of(await client.call_tool("generate_image", generation("slow-kite")))
            upstream.release()
        done = await client.call_tool("get_job", {"job_id": first["job_id"], "wait_seconds": PATIENCE})
        after = await client.call_tool("generate_image", generation("slow-kite"))

    assert (first["status"], repeat["status"], repeat["job_id"]) == ("running", "running", first["job_id"])
    assert [image["id"] for image in entries(after)] == [image["id"] for image in entries(done)]
    assert len(emulator.requests_to(GENERATIONS)) == 1


async def test_a_failed_first_call_is_the_answer_and_a_refused_one_leaves_the_key_free(
    client: Client, emulator: Emulator
) -> None:
    """A call that reached the image API is answered again as it was (here: refused by moderation); a call stopped
    before it started (a dry run, invalid arguments) does not take the key."""
    refusal = {"error": {"message": "Your request was rejected by the safety system.", "code": "moderation_blocked"}}
    emulator.enqueue(Fault(status=400, path="/v1/images/generations", body=refusal))
    failed = await client.call_tool("generate_image", generation("blocked"))
    failed_again = await client.call_tool("generate_image", generation("blocked"))
    dry = await client.call_tool("generate_image", generation("fresh", dry_run=True))
    invalid = await client.call_tool("generate_image", generation("fresh", size="7x7"))
    made = await client.call_tool("generate_image", generation("fresh"))

    assert failed.is_error and failed_again.is_error
    assert text_of(failed_again).startswith(text_of(failed)) and REPEATED in text_of(failed_again)
    assert status_of(dry)["dry_run"] is True and invalid.is_error
    assert len(entries(made)) == 1
    assert len(emulator.requests_to(GENERATIONS)) == 2, "the moderation refusal once, the fresh call once"


@pytest.mark.subprocess
async def test_keys_are_each_users_own(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    with signed_in_server(emulator, issuer, output_dir) as (_, resource):
        async with (
            open_client(resource, token=issuer.token(resource, subject="alice")) as alice,
            open_client(resource, token=issuer.token(resource, subject="bob")) as bob,
        ):
            from_alice = await alice.call_tool("generate_image", generation("same-key", "alice's kite"))
            from_bob = await bob.call_tool("generate_image", generation("same-key", "bob's kite"))
            alice_again = await alice.call_tool("generate_image", generation("same-key", "alice's kite"))

    assert entries(from_bob)[0]["id"] != entries(from_alice)[0]["id"]
    assert entries(alice_again)[0]["id"] == entries(from_alice)[0]["id"]
    assert len(emulator.requests_to(GENERATIONS)) == 2


@pytest.mark.subprocess
async def test_a_retry_on_another_instance_pays_once_even_when_the_first_was_killed(
    emulator: Emulator, s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    """Two instances on one bucket. A finished call is answered again through B; then A is killed (SIGKILL) while
    the image API works on a call, and the client's retry through B, with the same key, waits for the job and
    reports it lost once its lease runs out, instead of paying for the image again."""
    never = threading.Event()
    env = server_env(emulator, tmp_path / "unused") | s3_server.env(s3_prefix)
    env |= {"MCP_IMAGES_STATELESS_HTTP": "true", "MCP_IMAGES_JOB_LEASE": "3", "MCP_IMAGES_RESPONSE_DEADLINE": "0.5"}
    try:
        with (
            http_server(env | {"MCP_IMAGES_INSTANCE_NAME": "B"}, log=tmp_path / "B.log") as (b_origin, _),
            http_server(env | {"MCP_IMAGES_INSTANCE_NAME": "A"}, log=tmp_path / "A.log") as (a_origin, a),
        ):
            async with open_client(f"{a_origin}/mcp") as on_a, open_client(f"{b_origin}/mcp") as on_b:
                made = await finished(on_a, await on_a.call_tool("generate_image", generation("done-on-a")))
                through_b = await on_b.call_tool("generate_image", generation("done-on-a"))
                emulator.enqueue(Fault(status=500, path="/v1/images/generations", hold=never))
                started = status_of(await on_a.call_tool("generate_image", generation("killed-on-a")))
                await emulator.wait_for_request(GENERATIONS, count=2)
                a.kill()
                with anyio.fail_after(PATIENCE * 2):  # the client retries while it is told the job runs
                    retried = await on_b.call_tool("generate_image", generation("killed-on-a"))
                    while not retried.is_error and status_of(retried).get("status") == "running":
                        retried = await on_b.call_tool("generate_image", generation("killed-on-a"))
    finally:
        never.set()

    assert [image["id"] for image in entries(through_b)] == [image["id"] for image in entries(made)]
    assert retried.is_error
    assert text_of(retried).startswith(f"Job {started['job_id']} was lost: instance A, which was running it,")
    assert REPEATED in text_of(retried)
    assert len(emulator.requests_to(GENERATIONS)) == 2, "each key paid once"


async def finished(client: Client, result: CallToolResult) -> CallToolResult:
    """The call's images, asking get_job while it answers with a job id."""
    while status_of(result).get("status") == "running":
        result = await client.call_tool("get_job", {"job_id": status_of(result)["job_id"], "wait_seconds": 30})
    return result
