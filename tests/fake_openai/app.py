"""The emulated OpenAI API: a Starlette app with the real endpoints, answers and error bodies.

Every request is recorded and checked against the official contract; scripted faults replace the next matching
answer; holds keep a request (or a stream, between its events) waiting until the test releases it; switches make
answers photo-like, break streams or drop dall-e-2, as the tests need, or slow for benchmarks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

import anyio
import anyio.lowlevel
from PIL import Image
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.support.credentials import signed
from tests.support.waiting import until

from . import contract, providers
from .image_apis import Conversation, chat_image, respond, wants_images
from .pictures import describe, item_base64, item_bytes, picture
from .providers import PLAYED, Operation, Played
from .rules import GPT, ApiError, check_image_request, model_missing, model_name, output_size
from .served import check_served, models_endpoint
from .wire import request_id, split_event


@dataclass
class UploadedFile:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None = None
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)
    query: str = ""
    """The URL's query string (Azure's api-version)."""


@dataclass
class Fault:
    """One scripted answer that replaces the normal one for the next request to `path` (any path when None)."""

    status: int = 500
    body: dict[str, Any] | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    drop_connection: bool = False
    trickle: float = 0.0
    """Above 0: send the body one byte at a time, this many seconds apart (each read is quick, the whole is not)."""
    hold: threading.Event | None = None
    """When given, this one answer waits until the test sets the event (at most HOLD_LIMIT seconds); for holding
    one of several scripted answers to the same path, which `Emulator.hold` (every request to a path) cannot."""


HOLD_LIMIT = 60.0


class Hold:
    """Keeps matching requests waiting until the test releases them, so a test orders events instead of timing them.

    With `after_partials` None a request whose path contains `path_part` waits before it is answered; with a number,
    a streamed answer waits after sending that many partial images (0: as soon as the stream has started). Requests
    wait in the emulator's event loop; the test releases them from its own thread.
    """

    def __init__(self, path_part: str, after_partials: int | None, exact: bool = False) -> None:
        self.path_part = path_part
        self.after_partials = after_partials
        self.exact = exact
        """Only a request to exactly `path_part` waits (OpenRouter's `/images` and `/images/models` told apart)."""
        self._lock = threading.Lock()
        self._released = False
        self._held = 0
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def held(self) -> int:
        """How many requests have reached this hold (including those already let through)."""
        return self._held

    def applies_to(self, path: str, partials_sent: int | None) -> bool:
        matches = path == self.path_part if self.exact else self.path_part in path
        return matches and self.after_partials == partials_sent

    async def wait(self) -> None:
        event = asyncio.Event()
        with self._lock:
            self._held += 1
            if self._released:
                return
            self._waiting.append((asyncio.get_running_loop(), event))
        await event.wait()

    def release(self) -> None:
        """Let every request waiting here, and every later one, through."""
        with self._lock:
            self._released = True
            waiting, self._waiting = self._waiting, []
        for loop, event in waiting:
            # A loop that has already closed (the emulator stopped) has nobody left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def until_held(self, count: int = 1) -> None:
        """Wait (in the test) until `count` requests have reached this hold."""
        await until(lambda: self.held >= count, f"{count} request(s) to {self.path_part} to reach the hold")

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


STATUS_MESSAGES = {
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


class Switches(TypedDict, total=False):
    """What a test can change in the emulator's answers (`emulator.set(...)`); reset() restores the defaults."""

    photo_like: bool
    """Images of noise, large like photos, instead of flat colours (default False)."""
    delay: float
    """Seconds every answer waits: a slow upstream for `make bench`; tests hold requests instead (default 0)."""
    pace: float
    """Bytes per second an Images API answer's body is sent at, in 64 KiB chunks, as a real upstream's arrives
    (default 0: all at once). `GET /bench/last-byte` says when the last answer's last byte was sent; a hold on
    "last piece" keeps its last chunk back."""
    variations_model_missing: bool
    """/images/variations answers 404 model_not_found, as a gateway without variations does (default False)."""
    chat_invalid_json: bool
    """A chat answer asked for JSON by a schema is not JSON (default False)."""
    stream_end_early: bool
    """An image stream ends after its partial images, without the final event (default False)."""
    stream_error: bool
    """An image stream sends an error event instead of the final image (default False)."""
    stream_bad_partial: bool
    """An image stream's first partial image is not an image (default False)."""
    stream_drop: bool
    """An image stream's connection drops in the middle of the final event (default False)."""
    serves_retired: bool
    """A gateway that still serves the models OpenAI shut down (default False)."""
    served_models: list[str | dict[str, Any]] | None
    """The models `GET /v1/models` lists (ids or whole model objects) and the only ones served (default None:
    OpenAI's list)."""
    models_answer: str
    """"list" (the default), or the broken answers of providers without a usable list: "404", "401", "html"."""
    usage: dict[str, Any] | None
    """The `usage` every GPT image answer reports, instead of the one computed from the request (default None)."""
    chat_image_shape: str
    """How chat answers carry images: "images" (the default), "content" (image_url parts), "text" (a data URL in
    the text) or "text_only" (none)."""
    responses_text_only: bool
    """The Responses API's mainline model answers in words, without calling the image tool (default False)."""
    edits_refused: set[str] | dict[str, str]
    """Models /images/edits refuses, as it refused gpt-image-2 at launch; a dict gives each refusal's message
    (default none)."""
    also_serves: list[str]
    """Models served though `GET /v1/models` does not list them, as gateways that list partially do (default
    none)."""
    item_faults: list[str | None] | None
    """One entry per image of every answer (see pictures.ITEM_FAULTS; None: a good image). Chat and Responses
    answers then carry that many images, where they normally carry one (default None)."""
    answer_urls: bool
    """Every Images API image answered as a URL on the emulator, as local servers and xAI do (default False)."""
    escape_slashes: bool
    """Images API answers written with every `/` escaped as `\\/`, valid JSON some encoders write (default False)."""
    content_credentials: bool
    """Images API images carry C2PA Content Credentials, as OpenAI's do, signed with the suite's own test
    certificate (default False)."""
    provider_keys: dict[str, str | None]
    """Keys the played providers expect instead of their own (a rotated key), by provider name (default none)."""
    provider_models: dict[str, list[str]]
    """Models the played providers serve and list instead of their own, by provider name (default none)."""
    azure_deployments: dict[str, str]
    """Azure deployments by name and the model each serves (default: a deployment named like a model serves it)."""
    echo_keys: bool
    """The played providers echo the key a request presented in their answer's `x-request-id` header, as a broken
    proxy might (default False)."""


SWITCHES = frozenset(Switches.__annotations__)


class EmulatorState:
    """What the tests read and steer; shared between the test thread and the server thread."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.origin = ""
        self._lock = threading.Lock()
        self.holds: list[Hold] = []
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: list[RecordedRequest] = []
            self.contract_violations: list[str] = []
            self.sent_images: list[bytes] = []
            self.faults: deque[Fault] = deque()
            self.files: dict[str, tuple[bytes, str]] = {}
            self.photo_like = False
            self.delay = 0.0
            self.pace = 0.0
            self.last_byte_at = 0.0
            self.variations_model_missing = False
            self.chat_invalid_json = False
            self.stream_end_early = False
            self.stream_error = False
            self.stream_bad_partial = False
            self.stream_drop = False
            self.streams_aborted = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self.streams_completed = 0
            self.serves_retired = False
            self.chat_image_shape = "images"
            self.responses_text_only = False
            self.conversations: dict[str, Conversation] = {}
            self.edits_refused: set[str] | dict[str, str] = set()
            self.served_models: list[str | dict[str, Any]] | None = None
            self.also_serves: list[str] = []
            self.models_answer = "list"
            self.usage: dict[str, Any] | None = None
            self.item_faults: list[str | None] | None = None
            self.answer_urls = False
            self.escape_slashes = False
            self.content_credentials = False
            self.provider_keys: dict[str, str | None] = {}
            self.provider_models: dict[str, list[str]] = {}
            self.azure_deployments: dict[str, str] = {}
            self.echo_keys = False
        self.release_holds()

    def key_of(self, played: Played) -> str | None:
        """The key a played provider accepts now (None: it takes none, and a request carrying one is refused)."""
        return self.provider_keys.get(played.name, played.key)

    def served_by(self, played: Played) -> tuple[str, ...]:
        return tuple(self.provider_models.get(played.name, played.served))

    def deployment_model(self, deployment: str) -> str:
        """The model an Azure deployment serves; an unknown deployment answers Azure's 404."""
        model = self.azure_deployments.get(deployment)
        if model is None and deployment in self.served_by(PLAYED["azure"]):
            model = deployment
        if model is None:
            raise ApiError(
                404,
                "The API deployment for this resource does not exist. If you created the deployment within the last "
                "5 minutes, please wait a moment and try again.",
                code="DeploymentNotFound",
            )
        return model

    def release_holds(self) -> None:
        with self._lock:
            released, self.holds = self.holds, []
        for hold in released:
            hold.release()

    def hold(self, path_part: str, after_partials: int | None, exact: bool = False) -> Hold:
        hold = Hold(path_part, after_partials, exact)
        with self._lock:
            self.holds.append(hold)
        return hold

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Counts the requests being answered at the same time."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    async def pass_holds(self, path: str, partials_sent: int | None = None) -> None:
        """Wait at every hold that applies to this request at this point of its answer."""
        with self._lock:
            applying = [hold for hold in self.holds if hold.applies_to(path, partials_sent)]
        for hold in applying:
            await hold.wait()

    def remember_sent(self, data: bytes) -> None:
        with self._lock:
            self.sent_images.append(data)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def violation(self, messages: list[str]) -> None:
        with self._lock:
            self.contract_violations.extend(messages)

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path is None or fault.path == path:
                    self.faults.remove(fault)
                    return fault
        return None


def _error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    error_type: str = "invalid_request_error",
) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id()})


def build_app(state: EmulatorState) -> Starlette:
    async def record(request: Request) -> RecordedRequest:
        recorded = RecordedRequest(
            request.method,
            request.url.path,
            {k.lower(): v for k, v in request.headers.items()},
            query=request.url.query,
        )
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            async with request.form(max_files=64, max_fields=64, max_part_size=64 * 1024 * 1024) as form:
                for name, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        upload = UploadedFile(value.filename, value.content_type, await value.read())
                        recorded.files.setdefault(name, []).append(upload)
                    else:
                        recorded.form.setdefault(name, []).append(value)
        elif request.method == "POST":
            raw = await request.body()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            recorded.json = parsed if isinstance(parsed, dict) else None
        state.record(recorded)
        return recorded

    def unauthorised(recorded: RecordedRequest) -> Response | None:
        """The real API's 401 for a missing or wrong key, or None when the key is right."""
        presented = recorded.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if state.api_key in (presented, recorded.headers.get("x-api-key")):
            return None
        masked = f"{presented[:3]}{'*' * 8}{presented[-4:]}" if len(presented) > 8 else "(none)"
        return _error(
            401,
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )

    async def api(request: Request) -> Response:
        recorded = await record(request)
        body = (
            recorded.json
            if recorded.json is not None
            else contract.multipart_body(
                recorded.form, {name: [f.data for f in parts] for name, parts in recorded.files.items()}
            )
        )
        state.violation(contract.violations(recorded.path, body))
        with state.answering():
            # The scripted answer is bound on arrival: a request held by an earlier test and released by reset()
            # must not take the answer the next test scripted.
            fault = state.take_fault(recorded.path)
            await state.pass_holds(recorded.path)
            return await scripted_or_normal(recorded, body, fault)

    async def scripted_or_normal(recorded: RecordedRequest, body: dict[str, Any], fault: Fault | None) -> Response:
        if fault is not None:
            if fault.hold is not None:
                await anyio.to_thread.run_sync(fault.hold.wait, HOLD_LIMIT, abandon_on_cancel=True)
            return _faulted(fault)
        refused = unauthorised(recorded)
        if refused is not None:
            return refused
        if state.delay:  # a slow upstream for `make bench`; tests hold requests instead of timing them
            await anyio.sleep(state.delay)
        return await _answer(state, recorded, body)

    async def files(request: Request) -> Response:
        recorded = await record(request)
        fault = state.take_fault(recorded.path)
        if fault is not None:
            if fault.hold is not None:
                await anyio.to_thread.run_sync(fault.hold.wait, HOLD_LIMIT, abandon_on_cancel=True)
            return _faulted(fault)
        name = request.path_params["name"]
        if name not in state.files:
            return Response("not found", status_code=404)
        data, content_type = state.files[name]
        return Response(data, media_type=content_type)

    async def last_byte(_: Request) -> Response:
        """When the last paced answer's last byte was sent (time.monotonic()), for `make bench`."""
        return JSONResponse({"monotonic": state.last_byte_at})

    async def loop(request: Request) -> Response:
        """A URL that redirects to itself forever: clients must give up after a few hops."""
        await record(request)
        return Response(status_code=302, headers={"location": str(request.url)})

    async def models(request: Request) -> Response:
        await record(request)
        return await models_endpoint(state, request)

    async def provider_api(request: Request) -> Response:
        """A request to one of the providers the emulator plays (providers.py), under its prefix."""
        played = PLAYED.get(request.path_params["provider"])
        if played is None:
            return await unknown(request)
        recorded = await record(request)
        try:
            operation = providers.operation(
                played, request.method, request.path_params["rest"], dict(request.query_params)
            )
        except ApiError as exc:
            state.violation([f"{recorded.method} {recorded.path}: not an endpoint of {played.name}"])
            return JSONResponse(exc.body, status_code=exc.status, headers={"x-request-id": request_id()})
        body = (
            recorded.json
            if recorded.json is not None
            else contract.multipart_body(
                recorded.form, {name: [f.data for f in parts] for name, parts in recorded.files.items()}
            )
        )
        if operation.schema is not None:
            state.violation(contract.violations(recorded.path, body, operation.schema))
        with state.answering():
            fault = state.take_fault(recorded.path)
            await state.pass_holds(recorded.path)
            if fault is not None:
                return _faulted(fault)
            if providers.presented_key(played, recorded.headers) != state.key_of(played):
                return _error(401, f"Incorrect API key provided for {played.name}.", code="invalid_api_key")
            try:
                answer = await _provider_answer(state, played, operation, recorded, body)
            except ApiError as exc:
                answer = JSONResponse(exc.body, status_code=exc.status, headers={"x-request-id": request_id()})
            if state.echo_keys:
                answer.headers["x-request-id"] = f"req-{providers.presented_key(played, recorded.headers)}"
            return answer

    async def unknown(request: Request) -> Response:
        recorded = await record(request)
        state.violation([f"{recorded.method} {recorded.path}: not an endpoint of the API"])
        return _error(404, f"Invalid URL ({recorded.method} {recorded.path})")

    routes = [Route(path, api, methods=["POST"]) for path in contract.OPERATIONS]
    routes.append(Route("/files/{name:path}", files, methods=["GET"]))
    routes.append(Route("/loop/{name}", loop, methods=["GET"]))
    routes.append(Route("/v1/models", models, methods=["GET"]))
    routes.append(Route("/bench/last-byte", last_byte, methods=["GET"]))
    routes.append(Route("/{provider}/{rest:path}", provider_api, methods=["GET", "POST"]))
    routes.append(Route("/{rest:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]))
    return Starlette(routes=routes)


async def _answer(state: EmulatorState, recorded: RecordedRequest, body: dict[str, Any]) -> Response:
    """The normal answer of an API endpoint: a chat completion, images as JSON, or images as an event stream."""
    try:
        check_served(state, body.get("model"))
        if recorded.path.endswith("/responses"):
            return respond(state, body)
        if recorded.path.endswith("/chat/completions") and wants_images(body):
            return chat_image(state, body)
        if recorded.path.endswith("/chat/completions"):
            return JSONResponse(await _chat(state, body), headers={"x-request-id": request_id()})
        answer = _images(state, recorded, body)
        if body.get("stream") is True and model_name(body.get("model"), "dall-e-2") in GPT:
            return StreamingResponse(
                _events(state, recorded.path, body, answer),
                media_type="text/event-stream",
                headers={"x-request-id": request_id()},
            )
        if state.pace:
            return StreamingResponse(
                _paced(state, recorded.path, json.dumps(answer).encode()),
                media_type="application/json",
                headers={"x-request-id": request_id()},
            )
        if state.escape_slashes:
            escaped = json.dumps(answer).replace("/", "\\/")
            return Response(escaped, media_type="application/json", headers={"x-request-id": request_id()})
        return JSONResponse(answer, headers={"x-request-id": request_id()})
    except ApiError as exc:
        return JSONResponse(exc.body, status_code=exc.status, headers={"x-request-id": request_id()})


async def _provider_answer(
    state: EmulatorState, played: Played, operation: Operation, recorded: RecordedRequest, body: dict[str, Any]
) -> Response:
    """The answer of a provider the emulator plays: its model list, its own image shapes (xAI, OpenRouter's Image
    API), or OpenAI's answers for the requests it shapes as OpenAI does (a deployment standing for its model)."""
    headers = {"x-request-id": request_id()}
    served = state.served_by(played)
    if operation.name == "models":
        return JSONResponse(providers.listing(played, served), headers=headers)
    if operation.name == "images/models":
        return JSONResponse(providers.image_models(served), headers=headers)
    model = str(body.get("model") or "")
    if played.name == "azure":
        model = state.deployment_model(operation.deployment or model)
        body = body | {"model": model}
    elif model not in served:
        raise model_missing(model)
    if operation.name == "images":
        return JSONResponse(providers.openrouter_images(state, body, served), headers=headers)
    if operation.name == "chat/completions" and wants_images(body):
        image_format = "jpeg" if played.name == "gemini" else "png"
        cost = providers.OPENROUTER_IMAGE_COST if played.name == "openrouter" else None
        return chat_image(state, body, image_format=image_format, cost=cost)
    if operation.name == "chat/completions":
        return JSONResponse(await _chat(state, body), headers=headers)
    if operation.name == "responses":
        return respond(state, body)
    if played.name == "xai":
        inputs = [upload.data for upload in recorded.files.get("image", []) + recorded.files.get("image[]", [])]
        endpoint = operation.name.rsplit("/", 1)[-1]
        return JSONResponse(
            providers.xai_images(state, endpoint, body, inputs, mask="mask" in recorded.files), headers=headers
        )
    return JSONResponse(_images(state, recorded, body, url_answers=played.url_answers), headers=headers)


def _faulted(fault: Fault) -> Response:
    headers = {"x-request-id": request_id(), **fault.headers}
    if fault.drop_connection:
        return _TruncatedResponse(headers)
    if fault.trickle:
        content = fault.body.encode() if isinstance(fault.body, str) else json.dumps(fault.body).encode()
        return StreamingResponse(_trickled(content, fault.trickle), status_code=fault.status, headers=headers)
    if fault.body is None and fault.status >= 400:
        message, error_type, code = STATUS_MESSAGES.get(fault.status, ("Error.", "server_error", None))
        return JSONResponse(
            {"error": {"message": message, "type": error_type, "param": None, "code": code}},
            status_code=fault.status,
            headers=headers,
        )
    if isinstance(fault.body, dict):
        return JSONResponse(fault.body, status_code=fault.status, headers=headers)
    content = fault.body.encode() if isinstance(fault.body, str) else fault.body or b""
    return Response(content, status_code=fault.status, headers=headers)


PACE_CHUNK = 64 * 1024


async def _paced(state: EmulatorState, path: str, content: bytes) -> AsyncIterator[bytes]:
    """The body at `state.pace` bytes per second; the moment its last byte is handed to the socket is kept (on the
    machine's monotonic clock, which every process shares) for the bench to read. A hold on "last piece" keeps
    the last piece back until the test releases it."""
    started = time.monotonic()
    for start in range(0, len(content), PACE_CHUNK):
        due = started + start / state.pace
        await anyio.sleep(max(due - time.monotonic(), 0))
        if start + PACE_CHUNK >= len(content):
            await state.pass_holds(f"{path} last piece")
        yield content[start : start + PACE_CHUNK]
    state.last_byte_at = time.monotonic()


async def _trickled(content: bytes, interval: float) -> AsyncIterator[bytes]:
    for index in range(len(content)):
        await anyio.sleep(interval)
        yield content[index : index + 1]


class DroppedStreamError(Exception):
    """Raised inside a streamed answer: the server closes the connection without ending the body."""


class _TruncatedResponse(Response):
    """Promises a body and closes after a few bytes: the client sees the connection drop mid-answer."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(status_code=200, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000"), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"data": [', "more_body": False})


def _images(
    state: EmulatorState, recorded: RecordedRequest, body: dict[str, Any], *, url_answers: bool = False
) -> dict[str, Any]:
    endpoint = recorded.path.rsplit("/", 1)[-1]
    if endpoint == "variations":
        return _variations(state, recorded, body)
    model = check_image_request(body, endpoint=endpoint)
    if endpoint == "edits" and model in state.edits_refused:
        # As /images/edits answered gpt-image-2 at launch (reported by a peer that routes its edits through the
        # Responses API for that reason; shared/reference/models-2026-11.md), in the wording the test chose.
        wording = state.edits_refused[model] if isinstance(state.edits_refused, dict) else None
        raise ApiError(
            400, wording or f"Image edits are not supported for {model}.", param="model", code="invalid_value"
        )
    first_input = None
    if endpoint == "edits":
        first_input = _check_edit_files(recorded, model)
    width, height = output_size(body, model, first_input)
    output_format = str(body.get("output_format") or "png") if model in GPT else "png"
    transparent = body.get("background") == "transparent"
    n = int(body.get("n") or 1)
    seed = body.get("seed")
    answer: dict[str, Any] = {"created": int(time.time()), "data": []}
    for index in range(n):
        data = picture(
            width, height, output_format=output_format, transparent=transparent, photo=state.photo_like, seed=seed
        )
        if state.content_credentials:
            data = signed(data, f"image/{output_format}")
        answer["data"].append(_item(state, data, body, model, _fault(state, index), url_answers=url_answers))
    if model in GPT:
        answer |= {
            "background": "transparent" if transparent else "opaque",
            "output_format": output_format,
            "size": f"{width}x{height}",
            "quality": body.get("quality") or "medium",
            "usage": state.usage
            or _usage(
                str(body.get("prompt", "")),
                n,
                len(recorded.files.get("image", [])) + len(recorded.files.get("image[]", [])),
            ),
        }
    return answer


async def _events(
    state: EmulatorState, path: str, body: dict[str, Any], answer: dict[str, Any]
) -> AsyncIterator[bytes]:
    """The answer as the API streams it: partial images, then one completed event per image; no [DONE].

    Each event is written in two chunks and preceded by a comment line, so readers must join split events and
    skip comments. Holds pause the stream before a partial image or the final event; switches end the stream early,
    send an error event instead of the final images, or drop the connection halfway through the first final event.
    """
    prefix = "image_edit" if path.endswith("/edits") else "image_generation"
    width, height = (int(v) for v in str(answer.get("size", "1024x1024")).split("x"))
    common = {
        "size": answer.get("size"),
        "quality": answer.get("quality"),
        "background": answer.get("background"),
        "output_format": answer.get("output_format"),
    }
    finished = False
    partials = int(body.get("partial_images") or 0)
    try:
        for index in range(partials):
            await state.pass_holds(path, index)
            damaged = state.stream_bad_partial and index == 0
            partial = base64.b64encode(b"not a picture" if damaged else picture(width, height)).decode()
            yield b": keep-alive\n\n"
            async for chunk in split_event(
                f"{prefix}.partial_image",
                {
                    "type": f"{prefix}.partial_image",
                    "b64_json": partial,
                    "created_at": int(time.time()),
                    "partial_image_index": index,
                    **common,
                },
            ):
                yield chunk
        await state.pass_holds(path, partials)
        if state.stream_end_early:
            finished = True
            return
        if state.stream_drop:
            finished = True
            yield f"event: {prefix}.completed\ndata: {{".encode()
            raise DroppedStreamError("the emulator cut the stream in the middle of an event")
        if state.stream_error:
            error = {
                "type": "error",
                "error": {
                    "type": "server_error",
                    "code": "generation_failed",
                    "message": "Image generation failed midway.",
                    "param": None,
                },
            }
            async for chunk in split_event("error", error):
                yield chunk
            finished = True
            return
        for item in answer["data"]:
            async for chunk in split_event(
                f"{prefix}.completed",
                {
                    "type": f"{prefix}.completed",
                    "b64_json": item.get("b64_json"),
                    "created_at": int(time.time()),
                    "usage": answer.get("usage"),
                    **common,
                },
            ):
                yield chunk
        finished = True
        state.streams_completed += 1
    finally:
        if not finished:
            state.streams_aborted += 1


def _fault(state: EmulatorState, index: int) -> str | None:
    return state.item_faults[index] if state.item_faults and index < len(state.item_faults) else None


def _item(
    state: EmulatorState,
    data: bytes,
    body: dict[str, Any],
    model: str,
    fault: str | None = None,
    *,
    url_answers: bool = False,
) -> dict[str, Any]:
    """One `data` item: base64, or (DALL·E without response_format, a provider that answers URLs, or `answer_urls`)
    a URL to fetch it from."""
    state.remember_sent(data)
    item: dict[str, Any] = {}
    as_url = state.answer_urls or url_answers or (model not in GPT and body.get("response_format") != "b64_json")
    if not as_url:
        encoded = item_base64(fault, data)
        if encoded is not None:
            item["b64_json"] = encoded
    elif fault == "url_fails":
        item["url"] = f"{state.origin}/files/{secrets.token_hex(6)}-gone.png"
    elif fault != "missing":
        name = f"{secrets.token_hex(6)}.png"
        state.files[name] = (item_bytes(fault, data), "image/png")
        item["url"] = f"{state.origin}/files/{name}"
    if model == "dall-e-3":
        item["revised_prompt"] = f"{body.get('prompt')}, rendered in rich detail"
    return item


def _usage(prompt: str, n: int, image_count: int) -> dict[str, Any]:
    text_tokens = max(1, len(prompt) // 4)
    image_tokens = 323 * image_count
    output = 4160 * n
    return {
        "input_tokens": text_tokens + image_tokens,
        "output_tokens": output,
        "total_tokens": text_tokens + image_tokens + output,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
    }


def _decoded(upload: UploadedFile, param: str) -> tuple[int, int, str]:
    if not upload.filename or not (upload.content_type or "").startswith("image/"):
        raise ApiError(
            400,
            f"Invalid file '{param}': unsupported mimetype ('{upload.content_type or 'application/octet-stream'}'). "
            "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
            param=param,
            code="unsupported_file_mimetype",
        )
    try:
        width, height, image_format, _ = describe(upload.data)
    except Exception as exc:
        raise ApiError(
            400,
            f"Invalid image file or mode for image '{param}', please check your image file.",
            param=param,
            code="invalid_image",
        ) from exc
    return width, height, image_format


def _check_edit_files(recorded: RecordedRequest, model: str) -> tuple[int, int]:
    images = recorded.files.get("image", []) + recorded.files.get("image[]", [])
    if not images:
        raise ApiError(400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    sizes = [_decoded(upload, "image") for upload in images]
    if model == "dall-e-2":
        width, height, image_format = sizes[0]
        if len(images) > 1 or width != height or image_format != "png" or len(images[0].data) >= 4 * 1024 * 1024:
            raise ApiError(400, "Uploaded image must be a PNG and less than 4 MB.", param="image", code="invalid_image")
    elif len(images) > 16:
        raise ApiError(400, "Too many images: at most 16.", param="image", code="invalid_value")
    for mask in recorded.files.get("mask", []):
        mask_width, mask_height, mask_format = _decoded(mask, "mask")
        if mask_format != "png":
            raise ApiError(400, "Invalid mask image format - mask must be a PNG.", param="mask", code="invalid_image")
        if (mask_width, mask_height) != sizes[0][:2]:
            raise ApiError(
                400,
                "Invalid mask image: mask and image must have the same dimensions.",
                param="mask",
                code="invalid_image",
            )

        with Image.open(io.BytesIO(mask.data)) as image:
            if "A" not in image.getbands():
                raise ApiError(
                    400,
                    "Invalid mask image format - mask image missing alpha channel",
                    param="mask",
                    code="invalid_image",
                )
    return sizes[0][0], sizes[0][1]


def _variations(state: EmulatorState, recorded: RecordedRequest, body: dict[str, Any]) -> dict[str, Any]:
    model = model_name(body.get("model"), "dall-e-2")
    if state.variations_model_missing:
        raise ApiError(
            404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
        )
    if model != "dall-e-2":
        raise ApiError(400, f"Invalid value: '{model}'. Value must be 'dall-e-2'.", param="model", code="invalid_value")
    uploads = recorded.files.get("image", [])
    if len(uploads) != 1:
        raise ApiError(400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    image = uploads[0]
    width, height, image_format = _decoded(image, "image")
    if width != height or image_format != "png":
        raise ApiError(
            400, "Uploaded image must be a square PNG and less than 4 MB.", param="image", code="invalid_image"
        )
    size = body.get("size") or "1024x1024"
    if size not in ("256x256", "512x512", "1024x1024"):
        raise ApiError(
            400,
            f"Invalid value: '{size}'. Supported values are: '256x256', '512x512', and '1024x1024'.",
            param="size",
            code="invalid_value",
        )
    side = int(str(size).split("x")[0])
    answer: dict[str, Any] = {"created": int(time.time()), "data": []}
    for index in range(int(body.get("n") or 1)):
        data = picture(side, side, photo=state.photo_like)
        answer["data"].append(_item(state, data, body, model, _fault(state, index)))
    return answer


async def _chat(state: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    lines = []
    images = [
        part
        for message in body.get("messages", [])
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "image_url"
    ]
    for index, part in enumerate(images, start=1):
        url = part["image_url"]["url"]
        data = await _vision_bytes(state, url)
        try:
            width, height, image_format, colour = describe(data)
        except Exception as exc:
            raise ApiError(
                400,
                "You uploaded an unsupported image. Please make sure your image has of one the "
                "following formats: ['png', 'jpeg', 'gif', 'webp'].",
                code="invalid_image_format",
            ) from exc
        detail = part["image_url"].get("detail", "auto")
        lines.append(f"image {index}: {width}x{height} {image_format} dominant {colour} detail={detail}")
    text = "\n".join(lines) or "no image"
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        text = (
            "Sure! Here is the data: {oops"
            if state.chat_invalid_json
            else json.dumps(_fill(response_format["json_schema"]["schema"], "", lines))
        )
    return {
        "id": f"chatcmpl-{secrets.token_hex(8)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {
            "prompt_tokens": 100 * max(1, len(images)),
            "completion_tokens": 20,
            "total_tokens": 100 * max(1, len(images)) + 20,
        },
    }


async def _vision_bytes(state: EmulatorState, url: str) -> bytes:
    if url.startswith("data:"):
        try:
            return base64.b64decode(url.split(",", 1)[1])
        except (ValueError, IndexError) as exc:
            raise ApiError(400, "Invalid base64 image data.", code="invalid_image_format") from exc
    prefix = f"{state.origin}/files/"
    if url.startswith(prefix) and url.removeprefix(prefix) in state.files:
        state.record(RecordedRequest("GET", f"/files/{url.removeprefix(prefix)}", {"user-agent": "emulator-fetch"}))
        return state.files[url.removeprefix(prefix)][0]
    raise ApiError(400, f"Error while downloading {url}.", code="invalid_image_url")


def _fill(schema: dict[str, Any], name: str, lines: list[str]) -> Any:
    """A deterministic value for a schema, using what was seen for text and sizes."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {key: _fill(sub, key, lines) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_fill(schema.get("items", {}), name, lines)]
    first = lines[0].split() if lines else ["", "0x0"]
    width, height = (int(v) for v in first[2].split("x")) if len(first) > 2 else (0, 0)
    if kind == "integer":
        return width if "width" in name else height if "height" in name else 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    return "\n".join(lines) if any(word in name for word in ("description", "text")) else f"{name or 'value'} seen"
