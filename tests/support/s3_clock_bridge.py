"""A bridge between a test process whose clock was moved (`faketime -f +365d`) and the real SeaweedFS.

SeaweedFS is a static Go binary: `faketime` cannot move its clock, and it refuses a signed request dated more than
15 minutes from its own time (RequestTimeTooSkewed). When the suite runs with a moved clock, the S3 tests reach
SeaweedFS through this bridge instead: a small HTTP server started with the real clock, which dates each request
again with that clock and signs it again with the test credentials (AWS Signature Version 4, both the header form
and presigned URLs), then forwards it unchanged otherwise. A request in the header form that the test credentials
did not sign (a wrong key) goes on as it came, so SeaweedFS refuses it as it would without the bridge. Nothing else
about the requests changes, so the server under test still signs every request as it does in use; with the real
clock the suite does not start the bridge.

Run as `python -m tests.support.s3_clock_bridge UPSTREAM PORT ACCESS_KEY SECRET_KEY`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

import httpx2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ALGORITHM = "AWS4-HMAC-SHA256"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})
"""Request headers the bridge does not pass on as they came (the client library sets them for the new request)."""
RESPONSE_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding"})
"""Response headers not passed back; the body goes back as it came, so its length and encoding stay true."""
SKEW_LIMIT = 300.0
"""Seconds between this process's clock and the file system's from which the clock counts as moved."""


def clock_moved() -> bool:
    """Whether this process's clock differs from the real one (the file system dates a new file by the real one)."""
    with tempfile.NamedTemporaryFile() as probe:
        return abs(time.time() - os.fstat(probe.fileno()).st_mtime) > SKEW_LIMIT


def real_clock_env() -> dict[str, str]:
    """This process's environment without faketime's variables: a child started with it keeps the real clock."""
    return {
        name: value for name, value in os.environ.items() if name != "LD_PRELOAD" and not name.startswith("FAKETIME")
    }


def _query(pairs: list[tuple[str, str]]) -> str:
    """The canonical query string: sorted, every character but unreserved ones percent-encoded."""
    return "&".join(f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}" for key, value in sorted(pairs))


def _signature(secret: str, scope_parts: list[str], amz_date: str, canonical: str) -> str:
    key = f"AWS4{secret}".encode()
    for part in scope_parts:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    scope = "/".join(scope_parts)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(key, f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}".encode(), hashlib.sha256).hexdigest()


def _authorization(authorization: str) -> tuple[list[str], list[str], str]:
    """The credential (access key and scope), the signed header names and the signature of an Authorization
    header."""
    fields = dict(part.strip().split("=", 1) for part in authorization.removeprefix(ALGORITHM).split(","))
    return fields["Credential"].split("/"), fields["SignedHeaders"].split(";"), fields["Signature"]


def _canonical(method: str, path: str, pairs: list[tuple[str, str]], headers: dict[str, str], signed: list[str]) -> str:
    """The canonical request of a request signed in the Authorization header."""
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    payload = headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    return f"{method}\n{path}\n{_query(pairs)}\n{canonical_headers}\n{';'.join(signed)}\n{payload}"


class Resigner:
    """Signs requests again for `host` with the real time."""

    def __init__(self, host: str, access_key: str, secret_key: str) -> None:
        self.host = host
        self.access_key = access_key
        self.secret_key = secret_key

    def verifies(self, method: str, path: str, pairs: list[tuple[str, str]], headers: dict[str, str]) -> bool:
        """Whether a request signed in the Authorization header was signed with the test credentials, as its client
        dated it. One that was not (a wrong key) is passed on as it came, for SeaweedFS to refuse: the bridge moves
        dates, it never makes a bad signature good."""
        credential, signed, signature = _authorization(headers["authorization"])
        access_key, *scope = credential
        canonical = _canonical(method, path, pairs, headers, signed)
        expected = _signature(self.secret_key, scope, headers.get("x-amz-date", ""), canonical)
        return access_key == self.access_key and hmac.compare_digest(expected, signature)

    def headers(self, method: str, path: str, pairs: list[tuple[str, str]], headers: dict[str, str]) -> dict[str, str]:
        """The headers of a request signed in the Authorization header, dated and signed again."""
        credential, signed, _ = _authorization(headers["authorization"])
        _, _, region, service, _ = credential
        now = datetime.now(UTC)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        headers = {**headers, "host": self.host, "x-amz-date": amz_date}
        canonical = _canonical(method, path, pairs, headers, signed)
        scope = [now.strftime("%Y%m%d"), region, service, "aws4_request"]
        signature = _signature(self.secret_key, scope, amz_date, canonical)
        signer = "/".join([self.access_key, *scope])
        headers["authorization"] = (
            f"{ALGORITHM} Credential={signer}, SignedHeaders={';'.join(signed)}, Signature={signature}"
        )
        return headers

    def presigned(self, method: str, path: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The query of a presigned URL, dated and signed again (its lifetime kept)."""
        query = dict(pairs)
        _, _, region, service, _ = query["X-Amz-Credential"].split("/")
        now = datetime.now(UTC)
        scope = [now.strftime("%Y%m%d"), region, service, "aws4_request"]
        query["X-Amz-Date"] = now.strftime("%Y%m%dT%H%M%SZ")
        query["X-Amz-Credential"] = "/".join([self.access_key, *scope])
        query.pop("X-Amz-Signature", None)
        signed = query["X-Amz-SignedHeaders"].split(";")
        canonical_headers = "".join(f"{name}:{self.host}\n" for name in signed if name == "host")
        unsigned = list(query.items())
        canonical = f"{method}\n{path}\n{_query(unsigned)}\n{canonical_headers}\n{';'.join(signed)}\nUNSIGNED-PAYLOAD"
        return [*unsigned, ("X-Amz-Signature", _signature(self.secret_key, scope, query["X-Amz-Date"], canonical))]


def bridge_app(upstream: str, resigner: Resigner) -> Starlette:
    http = httpx2.AsyncClient(base_url=upstream, timeout=120)

    async def forward(request: Request) -> Response:
        path = request.scope["raw_path"].decode()
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in request.headers.items()}
        if "x-amz-signature" in {key.lower() for key, _ in pairs}:
            pairs = resigner.presigned(request.method, path, pairs)
        elif "authorization" in headers and resigner.verifies(request.method, path, pairs, headers):
            headers = resigner.headers(request.method, path, pairs, headers)
        sent = {name: value for name, value in headers.items() if name not in HOP_BY_HOP}
        url = httpx2.URL(path, query=_query(pairs).encode())
        outgoing = http.build_request(request.method, url, headers=sent, content=await request.body())
        answer = await http.send(outgoing, stream=True)
        try:
            body = b"".join([chunk async for chunk in answer.aiter_raw()])
        finally:
            await answer.aclose()
        kept = {name: value for name, value in answer.headers.items() if name.lower() not in RESPONSE_HOP_BY_HOP}
        return Response(body, status_code=answer.status_code, headers=kept)

    methods = ["GET", "PUT", "POST", "DELETE", "HEAD"]
    return Starlette(routes=[Route("/{rest:path}", forward, methods=methods)])


def main() -> None:
    upstream, port, access_key, secret_key = sys.argv[1:5]
    host = upstream.split("://", 1)[1].rstrip("/")
    app = bridge_app(upstream, Resigner(host, access_key, secret_key))
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
