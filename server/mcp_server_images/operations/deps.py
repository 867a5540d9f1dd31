"""What the image use cases work with, opened once by the server's lifespan and passed to every plan and run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..backends.base import ImageBackend
from ..catalog.spec import Api
from ..inputs.resolver import ImageResolver
from ..store import Store
from .model_choice import Models


@dataclass(frozen=True)
class ImageDeps:
    store: Store
    resolver: ImageResolver
    models: Models
    backends: Mapping[Api, ImageBackend] = field(default_factory=dict)
    """Every image-making API by name; a plan's route picks one (`routing.route`)."""
    preferred_api: Api = Api.IMAGES
    """The API a GPT image model uses when a call names none (setting image_api)."""

    def seen_by(self, store: Store) -> ImageDeps:
        """The same, reading and resolving stored images through `store` (a user's owner-scoped view)."""
        return replace(self, store=store, resolver=self.resolver.seen_by(store))
