"""A team server keeps its users apart: each sees only the images, jobs and spend they made, administrators see
everything, and an image its owner shared opens for the others by its full id only.

One table, through real sign-in over streamable HTTP: every read path a user has (resources, tools, completions,
image references in inputs, id prefixes, paths, links, the app's tool, the usage report) against every kind of
viewer. alice owns the images; bob is another user; carol is an administrator by subject, dave by scope; "shared"
is bob again, on the image alice shared. Whoever may not see an image is told what they would be told if it did
not exist.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import BlobResourceContents, PromptReference, ResourceTemplateReference, TextResourceContents

from tests.fake_openai import Emulator
from tests.support.results import entries, sidecar_of, text_of
from tests.support.servers import open_client
from tests.support.signin import SCOPE, issuer_of, signed_in_server

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

ADMIN_SCOPE = "images-admin"
NOT_FOUND = "No stored image has id"
NO_JOB = "No job"
VIEWERS = ("owner", "other", "admin", "admin_by_scope", "shared")
SUBJECTS = {"owner": "alice", "other": "bob", "admin": "carol", "admin_by_scope": "dave", "shared": "bob"}


@dataclass(frozen=True)
class Target:
    """What a probe looks for: one of alice's images, the job that made it, and how to reach the server."""

    image: dict[str, Any]
    job_id: str
    origin: str
    token: str

    @property
    def id(self) -> str:
        image_id: str = self.image["id"]
        return image_id

    @property
    def prefix(self) -> str:
        return self.id[:6]


Probe = Callable[[Client, Target], Awaitable[bool]]
"""True: the viewer saw the target; False: it was refused as if it did not exist (anything else fails the test)."""


async def blob(client: Client, uri: str) -> bytes | None:
    try:
        result = await client.read_resource(uri)
    except MCPError as exc:
        refusal = exc.error.message
        result = None
    if result is None:
        assert NOT_FOUND in refusal, refusal
        return None
    [contents] = result.contents
    assert isinstance(contents, BlobResourceContents)
    return base64.b64decode(contents.blob)


async def tool_sees(client: Client, name: str, arguments: dict[str, Any], refusal: str = NOT_FOUND) -> bool:
    result = await client.call_tool(name, arguments)
    if result.is_error:
        assert refusal in text_of(result), text_of(result)
        return False
    return True


async def resources_list(client: Client, target: Target) -> bool:
    return target.image["uri"] in [str(r.uri) for r in (await client.list_resources()).resources]


async def resources_read(client: Client, target: Target) -> bool:
    return await blob(client, target.image["uri"]) == Path(target.image["path"]).read_bytes()


async def resources_read_by_prefix(client: Client, target: Target) -> bool:
    return await blob(client, f"images://{target.prefix}") is not None


async def list_images(client: Client, target: Target) -> bool:
    listed = entries(await client.call_tool("list_images", {"limit": 50}))
    return target.id in [entry["id"] for entry in listed]


async def template_completion(client: Client, target: Target) -> bool:
    ref = ResourceTemplateReference(type="ref/resource", uri="images://{id}")
    return target.id in (await client.complete(ref, {"name": "id", "value": ""})).completion.values


async def prompt_completion(client: Client, target: Target) -> bool:
    ref = PromptReference(type="ref/prompt", name="edit_then_verify")
    return target.id in (await client.complete(ref, {"name": "image", "value": ""})).completion.values


async def analyze_by_id(client: Client, target: Target) -> bool:
    return await tool_sees(client, "analyze_image", {"images": [target.id]})


async def analyze_by_prefix(client: Client, target: Target) -> bool:
    return await tool_sees(client, "analyze_image", {"images": [target.prefix]})


async def analyze_by_path(client: Client, target: Target) -> bool:
    return await tool_sees(client, "analyze_image", {"images": [target.image["path"]]})


async def edit_input(client: Client, target: Target) -> bool:
    return await tool_sees(client, "edit_image", {"images": [target.id], "prompt": "add a hat", "dry_run": True})


async def variation_input(client: Client, target: Target) -> bool:
    return await tool_sees(client, "create_image_variation", {"image": target.image["uri"], "dry_run": True})


async def image_details(client: Client, target: Target) -> bool:
    return await tool_sees(client, "image_details", {"image": target.id})


async def get_job(client: Client, target: Target) -> bool:
    return await tool_sees(client, "get_job", {"job_id": target.job_id, "wait_seconds": 0}, refusal=NO_JOB)


async def image_link(client: Client, target: Target) -> bool:
    url = f"{target.origin}/images/{target.id}"
    answer = httpx2.get(url, headers={"authorization": f"Bearer {target.token}"}, timeout=30)
    assert answer.status_code in (200, 404), answer.text
    return answer.status_code == 200


def names_the_owner(report: dict[str, Any]) -> bool:
    """Whether a usage report shows alice's name or her spend (the viewers other than alice spent nothing): a report
    that does not name her shows no spend at all, by period, by model or in the per-model averages."""
    said = "alice" in json.dumps(report)
    assert said or (report["today"]["spent"] == 0 and not report["by_model"] and not report["per_model"]), report
    return said


async def usage_report(client: Client, target: Target) -> bool:
    result = await client.call_tool("usage_report", {})
    assert result.structured_content is not None, text_of(result)
    return names_the_owner(result.structured_content) or "alice" in text_of(result)


async def usage_resource(client: Client, target: Target) -> bool:
    [contents] = (await client.read_resource("images://usage")).contents
    assert isinstance(contents, TextResourceContents)
    return names_the_owner(json.loads(contents.text))


async def share_again(client: Client, target: Target) -> bool:
    """Setting the share as it is (a change nobody sees): only the owner and administrators may."""
    arguments = {"image": target.id, "shared": target.image.get("shared", False)}
    result = await client.call_tool("share_image", arguments)
    if result.is_error:
        assert NOT_FOUND in text_of(result) or "is not yours" in text_of(result), text_of(result)
        return False
    return True


T, F = True, False
TABLE: dict[str, tuple[Probe, tuple[bool, ...]]] = {
    #                                           owner other admin by-scope shared
    "resources/list": (resources_list, (T, F, T, T, F)),
    "resources/read": (resources_read, (T, F, T, T, T)),
    "resources/read by id prefix": (resources_read_by_prefix, (T, F, T, T, F)),
    "list_images": (list_images, (T, F, T, T, F)),
    "completion of images://{id}": (template_completion, (T, F, T, T, F)),
    "completion of edit_then_verify.image": (prompt_completion, (T, F, T, T, F)),
    "analyze_image by id": (analyze_by_id, (T, F, T, T, T)),
    "analyze_image by id prefix": (analyze_by_prefix, (T, F, T, T, F)),
    "analyze_image by path": (analyze_by_path, (T, F, T, T, T)),
    "edit_image input": (edit_input, (T, F, T, T, T)),
    "create_image_variation input": (variation_input, (T, F, T, T, T)),
    "image_details (the app)": (image_details, (T, F, T, T, T)),
    "get_job": (get_job, (T, F, T, T, F)),
    "/images/<id> link": (image_link, (T, F, T, T, T)),
    "usage_report": (usage_report, (T, F, T, T, F)),
    "images://usage": (usage_resource, (T, F, T, T, F)),
    "share_image": (share_again, (T, F, T, T, F)),
}


async def test_every_read_path_shows_each_user_only_what_is_theirs(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    admins = {"MCP_IMAGES_ADMIN_SUBJECTS": "carol", "MCP_IMAGES_ADMIN_SCOPE": ADMIN_SCOPE}
    with signed_in_server(emulator, issuer, output_dir, admins) as (origin, resource):
        tokens = {
            viewer: issuer.token(resource, subject=SUBJECTS[viewer], scope=SCOPE)
            for viewer in VIEWERS
            if viewer != "admin_by_scope"
        }
        tokens["admin_by_scope"] = issuer.token(resource, subject="dave", scope=f"{SCOPE} {ADMIN_SCOPE}")
        async with open_client(resource, token=tokens["owner"]) as alice:
            [private] = entries(await alice.call_tool("generate_image", {"prompt": "alice's private fox"}))
            [public] = entries(await alice.call_tool("generate_image", {"prompt": "alice's shared owl"}))
            shared = await alice.call_tool("share_image", {"image": public["id"]})
        assert shared.structured_content == {"id": public["id"], "uri": public["uri"], "shared": True}
        targets = {
            viewer: Target(
                image=public | {"shared": True} if viewer == "shared" else private,
                job_id=sidecar_of((public if viewer == "shared" else private)["path"])["job_id"],
                origin=origin,
                token=tokens[viewer],
            )
            for viewer in VIEWERS
        }
        seen: dict[str, tuple[bool, ...]] = {}
        for viewer in VIEWERS:
            async with open_client(resource, token=tokens[viewer]) as client:
                for path, (probe, _) in TABLE.items():
                    seen[path] = (*seen.get(path, ()), await probe(client, targets[viewer]))

    assert seen == {path: expected for path, (_, expected) in TABLE.items()}


DELETIONS = {
    # viewer: (which of alice's images they try to delete, what they are told; None: it is deleted)
    "other": ("private", NOT_FOUND),
    "admin": ("private", "was not made by you; only the user who made it may."),
    "shared": ("shared", "was not made by you; only the user who made it may."),
    "owner": ("private", None),
}
"""delete_images is a write, so it has a table of its own: each row changes what the next may find. Only the owner
deletes; another user is told what a missing id tells, and those who may see the image (an administrator, a user
it was shared with) are told it is not theirs."""


async def test_only_the_owner_deletes_an_image(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    with signed_in_server(emulator, issuer, output_dir, {"MCP_IMAGES_ADMIN_SUBJECTS": "carol"}) as (_, resource):
        tokens = {viewer: issuer.token(resource, subject=SUBJECTS[viewer], scope=SCOPE) for viewer in DELETIONS}
        async with open_client(resource, token=tokens["owner"]) as alice:
            [private] = entries(await alice.call_tool("generate_image", {"prompt": "alice's private fox"}))
            [shared] = entries(await alice.call_tool("generate_image", {"prompt": "alice's shared owl"}))
            await alice.call_tool("share_image", {"image": shared["id"]})
        images = {"private": private, "shared": shared}
        told: dict[str, str | None] = {}
        for viewer, (which, _) in DELETIONS.items():
            async with open_client(resource, token=tokens[viewer]) as client:
                result = await client.call_tool("delete_images", {"images": [images[which]["id"]]})
            told[viewer] = text_of(result) if result.is_error else None

    for viewer, (_, refusal) in DELETIONS.items():
        said = told[viewer]
        assert (said is None) if refusal is None else (said is not None and refusal in said), (viewer, said)
    assert not Path(private["path"]).exists(), "the owner deleted it"
    assert Path(shared["path"]).exists(), "nobody else could"


async def test_a_refusal_never_says_whether_an_id_is_taken(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    with signed_in_server(emulator, issuer, output_dir) as (_, resource):
        async with open_client(resource, token=issuer.token(resource, subject="alice")) as alice:
            [image] = entries(await alice.call_tool("generate_image", {"prompt": "a fox"}))
        untaken = "0123abcd" if image["id"] != "0123abcd" else "0123abce"
        async with open_client(resource, token=issuer.token(resource, subject="bob")) as bob:
            taken = await bob.call_tool("analyze_image", {"images": [image["id"]]})
            free = await bob.call_tool("analyze_image", {"images": [untaken]})

    assert taken.is_error and free.is_error
    assert text_of(taken).replace(image["id"], "ID") == text_of(free).replace(untaken, "ID")


async def test_estimates_learn_from_each_users_own_calls_only(emulator: Emulator, output_dir: Path) -> None:
    """An estimate learned from recorded costs says "your last calls": on a team server it is made from the
    caller's own calls, so it never carries what another user's calls cost."""
    issuer = issuer_of(emulator)
    usage = {"input_tokens": 10, "output_tokens": 1000, "total_tokens": 1010}
    emulator.set(usage=usage | {"input_tokens_details": {"text_tokens": 10, "image_tokens": 0}})
    low = {"prompt": "a fox", "quality": "low", "size": "1024x1024"}
    with signed_in_server(emulator, issuer, output_dir) as (_, resource):
        async with open_client(resource, token=issuer.token(resource, subject="alice")) as alice:
            for _ in range(3):
                assert not (await alice.call_tool("generate_image", low)).is_error
            own = await alice.call_tool("generate_image", low | {"dry_run": True})
        async with open_client(resource, token=issuer.token(resource, subject="bob")) as bob:
            other = await bob.call_tool("generate_image", low | {"dry_run": True})

    assert own.structured_content is not None and other.structured_content is not None
    assert own.structured_content["cost"]["estimate"]["basis"].startswith("about $0.030, from your last 3 calls")
    assert not other.structured_content["cost"]["estimate"]["basis"].startswith("about"), text_of(other)
