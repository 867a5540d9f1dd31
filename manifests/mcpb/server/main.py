"""Starts mcp-server-images from its MCPB bundle with the Python 3.11+ installed on the user's machine.

The bundle carries the server as a wheel in `server/wheels/`. Its libraries (pydantic, Pillow, ...) have
compiled parts that differ per platform, so they cannot ship inside one portable bundle: on the first start this
script creates a virtual environment in the user's cache folder and installs the wheel and its dependencies
from PyPI into it; later starts reuse it. Each wheel gets its own environment, so an updated bundle installs
afresh. Only the standard library is used here, and nothing is printed to stdout, which belongs to MCP.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

MIN_PYTHON = (3, 11)
HERE = Path(__file__).resolve().parent
WINDOWS = sys.platform == "win32"


def say(message: str) -> None:
    print(f"mcp-server-images bundle: {message}", file=sys.stderr, flush=True)


def cache_folder() -> Path:
    """The platform's per-user cache folder, as platformdirs would choose it."""
    if WINDOWS:
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def bundled_wheel() -> Path:
    wheels = sorted((HERE / "wheels").glob("mcp_server_images-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"mcp-server-images bundle: expected one wheel in {HERE / 'wheels'}, found {len(wheels)}.")
    return wheels[0]


def interpreter(environment: Path) -> Path:
    return environment / ("Scripts/python.exe" if WINDOWS else "bin/python")


def install(wheel: Path, environment: Path) -> None:
    """Build the environment beside its final place and move it there at once, so a half install is never used."""
    staging = environment.with_name(f"{environment.name}.installing-{os.getpid()}")
    say(f"first start: installing the server and its libraries into {environment} (needs the internet once)")
    venv.create(staging, with_pip=True, clear=True)
    pip = [str(interpreter(staging)), "-m", "pip", "--disable-pip-version-check", "install", "--quiet", str(wheel)]
    try:
        subprocess.run(pip, stdout=sys.stderr, check=True)
        staging.replace(environment)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if not interpreter(environment).is_file():  # unless a second start finished the same install first
            sys.exit(f"mcp-server-images bundle: installing failed ({exc}); check the internet connection.")
    say("installed")


def main() -> None:
    if sys.version_info < MIN_PYTHON:
        found = ".".join(map(str, sys.version_info[:3]))
        sys.exit(f"mcp-server-images needs Python 3.11 or newer, found {found}: install it from python.org.")
    wheel = bundled_wheel()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()[:12]
    environment = cache_folder() / "mcp-server-images" / f"bundle-{digest}"
    if not interpreter(environment).is_file():
        environment.parent.mkdir(parents=True, exist_ok=True)
        install(wheel, environment)
    command = [str(interpreter(environment)), "-m", "mcp_server_images", *sys.argv[1:]]
    if WINDOWS:  # exec on Windows starts a new process and lets this one exit, which would close the client's pipes
        sys.exit(subprocess.call(command))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
