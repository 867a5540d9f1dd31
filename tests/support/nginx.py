"""A real load balancer for the multi-instance tests: Debian's nginx (`make lb-tools`), configured with the README's
own example (the block after `<!-- nginx-example -->`), with the test's loopback ports in place of the example's
addresses, and the files nginx writes kept in the test's folder.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from tests.support.outside import REPO, installed_nginx
from tests.support.servers import free_port

START_LIMIT = 20.0
UPSTREAM_LOG = '$remote_addr "$request" $status upstream=$upstream_addr upstream_status=$upstream_status'
"""Each request's line in the access log: which instances nginx tried, and what each answered."""


def readme_example() -> str:
    """The nginx configuration the README gives, as written there."""
    readme = (REPO / "README.md").read_text()
    return readme.split("<!-- nginx-example -->\n```nginx\n", 1)[1].split("\n```", 1)[0]


def configured(example: str, port: int, instances: list[str], folder: Path) -> str:
    """The example with this test's ports, inside the main context a non-root nginx needs."""
    lines = re.findall(r"^    server \S+( [^;\n]*)?;$", example, re.MULTILINE)
    assert len(lines) == len(instances), "the README's example names one `server host:port ...;` line per instance"
    servers = iter(instances)
    body = re.sub(r"^(    server )\S+", lambda line: line[1] + next(servers), example, flags=re.MULTILINE)
    body, count = re.subn(r"listen \d+;", f"listen 127.0.0.1:{port};", body, count=1)
    assert count == 1, "the README's example has one `listen PORT;`"
    temporary = "\n".join(
        f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} info;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n    log_format upstreams '{UPSTREAM_LOG}';\n    access_log {folder / 'access.log'} upstreams;\n"
        f"{temporary}\n{body}\n}}\n"
    )


@contextmanager
def running_nginx(instances: list[str], folder: Path) -> Iterator[str]:
    """nginx in front of `instances` (`host:port`), round-robin as the README configures it; yields its origin."""
    nginx = installed_nginx()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "nginx.conf"
    config.write_text(configured(readme_example(), port, instances, folder))
    command = [str(nginx), "-e", str(folder / "error.log"), "-p", str(folder), "-c", str(config)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        origin = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(origin, process, folder)
            yield origin
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wait_until_up(origin: str, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    while True:
        try:
            httpx2.get(f"{origin}/healthz", timeout=2)
            return
        except httpx2.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"nginx did not start: {(folder / 'error.log').read_text()}")
        time.sleep(0.05)


def upstream_lines(folder: Path) -> list[str]:
    """The access log: one line per request, with the instances nginx tried."""
    log = folder / "access.log"
    return log.read_text().splitlines() if log.exists() else []
