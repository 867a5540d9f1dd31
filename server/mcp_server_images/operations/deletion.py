"""delete_images' use case: stored images removed with their sidecars, by whoever may.

With sign-in (OAuth), an image may be deleted only by the user who made it: images are looked up through the
caller's owner-scoped view (another user's image is not found, as anywhere else), and one shared with the caller
is still not theirs to delete (its recorded `user` is checked against the caller's subject; administrators
included). An image made without sign-in has no owner and is kept from every signed-in user. Without sign-in
whoever reaches the server is its one user. Links to a deleted image (presigned URLs, the public image route)
stop working with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store import URI_SCHEME, ImageNotFoundError, ImageRecord
from ..store.owned import OwnedStore


@dataclass
class Deletion:
    deleted: list[ImageRecord] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    """(the reference as given, why it was not deleted)."""


def delete_images(store: OwnedStore, refs: list[str], user: str | None) -> Deletion:
    """Delete each image `user` may delete; say why for the others. Blocks on the store."""
    deletion = Deletion()
    for ref in dict.fromkeys(refs):
        try:
            record = store.get(ref.strip().removeprefix(f"{URI_SCHEME}://"))
        except ImageNotFoundError as exc:
            deletion.kept.append((ref, str(exc)))
            continue
        if user is not None and record.user != user:
            deletion.kept.append((ref, f"Image {record.id} was not made by you; only the user who made it may."))
            continue
        store.delete(record)
        deletion.deleted.append(record)
    return deletion
