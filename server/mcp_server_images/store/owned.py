"""The store as one user sees it: the owner-scoped view that every read path goes through.

A team server with sign-in keeps its users apart: each sees the images, jobs and spend they made themselves, and
nobody else's. Administrators (a configured list of subjects, or a scope their token carries) see everything.
An owner may share an image: any signed-in user may then read it by its full id, but it is never listed for
them, never offered as a completion and never found by an id prefix, so a prefix can only ever name one of the
caller's own images and walking prefixes finds nothing.

Whoever cannot see an image is told exactly what they would be told if it did not exist: the view never says
whether an id is taken. Without sign-in (stdio, a static token), or with MCP_IMAGES_OWN_IMAGES_ONLY off, every
caller sees everything, as on a one-person server.

The adapter builds one view per request from the signed-in subject (adapter/context.py) and hands it to every
handler in place of the store; writes go through to the store unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ImageServerError
from ..imaging.info import ImageInfo
from .base import ID_LENGTH, ImageNotFoundError, JobBoard, LedgerEntry, Store, find
from .files import ArrivingFile
from .records import ImageRecord, NewImage


class NotYoursError(ImageServerError):
    """Only an image's owner (or an administrator) may change whether it is shared."""


@dataclass(frozen=True)
class Viewer:
    """Who is asking, and what the server lets them see."""

    subject: str | None = None
    """The signed-in user (the token's `sub`); None without sign-in."""
    admin: bool = False
    own_only: bool = False
    """This caller sees only their own images, jobs and spend (and images shared with them, by full id)."""

    @property
    def sees_all(self) -> bool:
        return not self.own_only or self.admin

    def sees(self, owner: str | None) -> bool:
        """Whether something made by `owner` (a subject; None: made without sign-in) is this caller's to see."""
        return self.sees_all or owner == self.subject


EVERYONE = Viewer()
"""A caller who sees everything: no sign-in, or a server that does not keep its users apart."""


class OwnedStore:
    """A `Store` as `viewer` sees it. Every method of the Store protocol, the reads filtered."""

    def __init__(self, store: Store, viewer: Viewer = EVERYONE) -> None:
        self.inner = store
        """The whole store, for building another viewer's view (never for reads on a user's behalf)."""
        self.viewer = viewer

    def seen_by(self, viewer: Viewer) -> OwnedStore:
        return OwnedStore(self.inner, viewer)

    @property
    def location(self) -> str:
        return self.inner.location

    @property
    def folder(self) -> Path | None:
        return self.inner.folder

    @property
    def jobs(self) -> JobBoard:
        return self.inner.jobs

    def save(self, data: bytes, info: ImageInfo, meta: NewImage, *, arrived: ArrivingFile | None = None) -> ImageRecord:
        return self.inner.save(data, info, meta, arrived=arrived)

    def arriving_file(self) -> ArrivingFile | None:
        return self.inner.arriving_file()

    def get(self, image_id: str, *, user: str | None = None) -> ImageRecord:
        """An own image by id or unique prefix; another user's only by its full id, and only once shared. `user`
        narrows it further, as the store's own `get` does (for those who see all, to that user's images)."""
        if self.viewer.sees_all:
            return self.inner.get(image_id, user=user)
        if user is not None and user != self.viewer.subject:
            return find([], image_id, self.inner.location)  # another user's images are never this caller's to name
        try:
            return self.inner.get(image_id, user=self.viewer.subject)
        except ImageNotFoundError as missing:
            wanted = image_id.strip().lower()
            if len(wanted) != ID_LENGTH:
                raise
            try:
                record = self.inner.get(wanted)  # a full id: one the store has not listed yet, or a shared one
            except ImageNotFoundError:
                raise missing from None
            if record.id == wanted and (record.shared or record.user == self.viewer.subject):
                return record
            raise missing from None

    def ids_starting(self, prefix: str, most: int, *, user: str | None = None) -> list[str]:
        """The caller's own ids (everyone's, or `user`'s, for those who see all); shared ones are never offered."""
        return self.inner.ids_starting(prefix, most, user=user if self.viewer.sees_all else self.viewer.subject)

    def read(self, record: ImageRecord) -> bytes:
        return self.inner.read(record)

    def recent(
        self, *, offset: int = 0, limit: int | None = None, query: str | None = None, user: str | None = None
    ) -> list[ImageRecord]:
        """The caller's own images (everyone's for those who see all); shared images are never listed."""
        mine = user if self.viewer.sees_all else self.viewer.subject
        return self.inner.recent(offset=offset, limit=limit, query=query, user=mine)

    def count(self, *, query: str | None = None, user: str | None = None) -> int:
        """How many images `recent` lists for this caller."""
        return self.inner.count(query=query, user=user if self.viewer.sees_all else self.viewer.subject)

    def job_images(self, job_id: str) -> list[ImageRecord]:
        return [record for record in self.inner.job_images(job_id) if self.viewer.sees(record.user)]

    def made_before(self, before: float, limit: int) -> list[ImageRecord]:
        """Everyone's: the expiry sweep runs on the whole store, never on a user's behalf; a view that does not
        see all has nothing to expire."""
        return self.inner.made_before(before, limit) if self.viewer.sees_all else []

    def link(self, record: ImageRecord) -> str | None:
        return self.inner.link(record)

    def mark_shared(self, record: ImageRecord, *, shared: bool) -> ImageRecord:
        """Share an image or take the share back: its owner may, and an administrator; nobody else."""
        mine = self.viewer.subject is not None and record.user == self.viewer.subject
        if not (mine or self.viewer.admin or not self.viewer.own_only):
            raise NotYoursError(
                f"Image {record.id} is not yours: only the user who made it can share it or take the share back."
            )
        return self.inner.mark_shared(record, shared=shared)

    def delete(self, record: ImageRecord) -> None:
        """Writes go through: whoever deletes found the record through this view (delete_images also checks its
        owner)."""
        self.inner.delete(record)

    def ping(self) -> None:
        self.inner.ping()

    def compact(self, before: float) -> int:
        return self.inner.compact(before)

    def ledger(self, month: str, after: int = -1) -> dict[int, LedgerEntry]:
        return self.inner.ledger(month, after)

    def ledger_checkpoint(self, month: str) -> bytes | None:
        return self.inner.ledger_checkpoint(month)

    def save_ledger_checkpoint(self, month: str, data: bytes) -> None:
        self.inner.save_ledger_checkpoint(month, data)

    def append_ledger(self, month: str, number: int, entry: LedgerEntry) -> bool:
        return self.inner.append_ledger(month, number, entry)
