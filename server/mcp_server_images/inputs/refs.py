"""What kind of image reference a string is, decided by its shape alone (no I/O).

An assistant names images the way people do: an id from an earlier result, its resource URI, a path (POSIX or
Windows, absolute, `~` or relative), a `file://` URL, an http(s) URL, a `data:` URL, or raw base64. Parsing is
separate from reading so that every form is handled the same way by every tool.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlsplit

from ..errors import ImageServerError
from ..store import URI_SCHEME

_STORED_ID = re.compile(r"^[0-9a-fA-F]{4,8}$")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64,(?P<data>.*)$", re.DOTALL)
_BASE64 = re.compile(r"^[A-Za-z0-9+/=_\-\s]+$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF")
_PATH_HINTS = ("/", "~", "./", "../", ".\\", "..\\", "\\\\")
_MIN_BASE64_CHARS = 64


class RefError(ImageServerError):
    """An image reference that cannot be used, with a message that names it."""


@dataclass(frozen=True)
class StoredRef:
    image_id: str


@dataclass(frozen=True)
class PathRef:
    path: PurePath
    windows: bool


@dataclass(frozen=True)
class UrlRef:
    url: str


@dataclass(frozen=True)
class InlineRef:
    data: bytes
    kind: str
    """"data URL" or "base64", for messages."""


ParsedRef = StoredRef | PathRef | UrlRef | InlineRef


def short(ref: str, limit: int = 80) -> str:
    """A reference as it can appear in a message: base64 and data URLs are cut short."""
    ref = ref.strip()
    return ref if len(ref) <= limit else f"{ref[: limit - 20]}…({len(ref):,} characters)"


def parse_ref(ref: str, *, windows: bool) -> ParsedRef:
    """Classify a reference. `windows` says how paths are spelled on the machine the server runs on."""
    text = ref.strip()
    if not text:
        raise RefError("An image reference is empty; give an image id, a path, a URL or base64 data.")
    lowered = text.lower()
    if lowered.startswith(f"{URI_SCHEME}://"):
        return StoredRef(text[len(URI_SCHEME) + 3 :].strip("/"))
    if lowered.startswith("data:"):
        return _data_url(text)
    if lowered.startswith(("http://", "https://")):
        return UrlRef(text)
    if lowered.startswith("file:"):
        return _file_url(text, windows=windows)
    if _STORED_ID.match(text):
        return StoredRef(text.lower())
    inline = _bare_base64(text)
    if inline is not None:
        return inline
    if _WINDOWS_DRIVE.match(text) or text.startswith(_PATH_HINTS) or any(c in text for c in "/\\."):
        return parse_path(text, windows=windows)
    raise RefError(
        f"Cannot tell what image {short(ref)!r} refers to. Give a stored image id (see list_images), an image "
        "URI (images://<id>), a file path, an http(s) URL, a data:image/...;base64 URL, or base64 image data."
    )


def _data_url(text: str) -> InlineRef:
    match = _DATA_URL.match(text)
    if match is None:
        raise RefError(f"{short(text)!r} is not a base64 data URL; use data:image/png;base64,<data>.")
    mime = (match.group("mime") or "").lower()
    if mime and not mime.startswith("image/"):
        raise RefError(f"The data URL {short(text)!r} holds {mime}, not an image.")
    return InlineRef(_decode_base64(match.group("data"), text), "data URL")


def _bare_base64(text: str) -> InlineRef | None:
    """Raw base64 image data, recognised by its alphabet, length and the image signature it decodes to."""
    if len(text) < _MIN_BASE64_CHARS or not _BASE64.match(text):
        return None
    try:
        data = _decode_base64(text, text)
    except RefError:
        return None
    return InlineRef(data, "base64") if data.startswith(_IMAGE_SIGNATURES) else None


def _decode_base64(data: str, ref: str) -> bytes:
    compact = "".join(data.split())
    compact += "=" * (-len(compact) % 4)
    try:
        if "-" in compact or "_" in compact:
            return base64.urlsafe_b64decode(compact)
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RefError(f"The image data in {short(ref)!r} is not valid base64 ({exc}).") from exc


def parse_path(text: str, *, windows: bool) -> PathRef:
    """A reference that can only be a path (a destination): plain paths and file:// URLs."""
    text = text.strip()
    if text.lower().startswith("file:"):
        return _file_url(text, windows=windows)
    if _WINDOWS_DRIVE.match(text) or text.startswith("\\\\"):
        return PathRef(PureWindowsPath(text), windows=True)
    return PathRef(PureWindowsPath(text) if windows else PurePosixPath(text), windows=windows)


def _file_url(text: str, *, windows: bool) -> PathRef:
    """`file:///home/me/a.png`, `file:///C:/Users/me/a.png`, `file://server/share/a.png`, `file:~/a.png`."""
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. an unclosed "[" in the host part
        raise RefError(f"The file URL {short(text)!r} cannot be read ({exc}); use file:///path/to/image.png.") from exc
    path = unquote(parts.path)
    host = parts.netloc
    if host and host.lower() != "localhost":
        return PathRef(PureWindowsPath(f"\\\\{host}{path.replace('/', chr(92))}"), windows=True)
    if re.match(r"^/[A-Za-z]:[/\\]", path) or re.match(r"^[A-Za-z]:[/\\]", path):
        return PathRef(PureWindowsPath(path.lstrip("/")), windows=True)
    if not path:
        raise RefError(f"The file URL {text!r} names no file.")
    return PathRef(PureWindowsPath(path) if windows else PurePosixPath(path), windows=windows)
