"""A provider's key as requests need it: given directly, read from a file, or printed by a command.

Teams keep keys where they keep secrets: a variable, a mounted file (rotated by whoever mounts it), or a command
that prints a short-lived token (`az account get-access-token --query accessToken -o tsv` for Entra ID,
`gcloud auth print-access-token`, a vault client). A file is read and a command run when a request first needs
the key; the key is then used for `lifetime` seconds, or until the provider answers 401, whichever comes first,
and read or run again. Concurrent requests share one read or run. A command runs through the shell with a
timeout; what it prints is the key, which is never logged: it goes to the redactor (so no answer, log line or
error can carry it) and into the request's auth header, nowhere else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio

from ..errors import ConfigurationError
from ..providers import KeySpec
from .redact import Redactor

log = logging.getLogger(__name__)

STDERR_SHOWN = 300
"""Characters of a failing command's error output shown in the message (after redaction)."""


class Credential:
    """One provider's key: the current value, renewed when it expires or the provider refuses it."""

    def __init__(self, spec: KeySpec, redactor: Redactor, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._spec = spec
        self._redactor = redactor
        self._monotonic = monotonic
        self._key: str | None = spec.secret.get_secret_value().strip() if spec.secret is not None else None
        self._read_at: float | None = None
        self._lock = anyio.Lock()
        if self._key:
            redactor.learn(self._key)

    @property
    def renewable(self) -> bool:
        """Whether a refused key can be replaced by reading the file or running the command again."""
        return self._spec.file is not None or self._spec.command is not None

    async def current(self) -> str | None:
        """The key to send now (None when none is configured); read or run again once its lifetime is over."""
        if not self.renewable:
            return self._key
        async with self._lock:
            fresh = self._read_at is not None and self._monotonic() - self._read_at < self._spec.lifetime
            if not fresh:
                await self._fetch()
            return self._key

    async def renew(self, refused: str | None) -> str | None:
        """After a 401 for `refused`: a new key when one can be had (None: the same one would be refused again).

        Requests refused together renew once: a request whose key was already replaced takes the new one.
        """
        if not self.renewable:
            return None
        async with self._lock:
            if self._key == refused:
                log.info("the provider refused the key from %s; getting it again", self._spec.source)
                await self._fetch()
            return self._key if self._key != refused else None

    async def _fetch(self) -> None:
        key = await (self._read_file() if self._spec.file is not None else self._run_command())
        self._redactor.learn(key)
        self._key = key
        self._read_at = self._monotonic()

    async def _read_file(self) -> str:
        path = self._spec.file
        assert path is not None
        try:
            text = await anyio.Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot read the API key file {path}: {exc.strerror or exc}. Check the path and its permissions."
            ) from exc
        key = text.strip()
        if not key:
            raise ConfigurationError(f"The API key file {path} is empty; put the key in it.")
        return key

    async def _run_command(self) -> str:
        command = self._spec.command
        assert command is not None
        timeout = self._spec.command_timeout
        try:
            with anyio.fail_after(timeout):
                done = await anyio.run_process(command, check=False)
        except TimeoutError as exc:
            raise ConfigurationError(
                f"The key command ({self._spec.source}) did not finish within {timeout:g} s; check that it runs "
                "without asking for input (sign in first), or raise its timeout."
            ) from exc
        except OSError as exc:
            raise ConfigurationError(f"The key command ({self._spec.source}) could not be started: {exc}.") from exc
        if done.returncode != 0:
            said = self._redactor.text(done.stderr.decode("utf-8", "replace").strip())[-STDERR_SHOWN:].rstrip(".")
            raise ConfigurationError(
                f"The key command ({self._spec.source}) failed with exit status {done.returncode}"
                + (f": {said}" if said else "")
                + ". Run it in a terminal to see why (a sign-in may have expired)."
            )
        key = done.stdout.decode("utf-8", "replace").strip()
        if not key or len(key.splitlines()) != 1:
            raise ConfigurationError(
                f"The key command ({self._spec.source}) printed {'nothing' if not key else 'more than one line'}; "
                "it must print the key alone (e.g. az ... --query accessToken -o tsv)."
            )
        return key
