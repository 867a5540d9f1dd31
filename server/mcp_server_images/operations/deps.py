"""What the image use cases work with, opened once by the server's lifespan and passed to every plan and run."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..catalog.spec import Api
from ..inputs.resolver import ImageResolver
from ..store import Store
from .upstreams import Upstreams


@dataclass(frozen=True)
class ImageDeps:
    store: Store
    resolver: ImageResolver
    upstreams: Upstreams
    """Every provider with its models and image-making APIs; a call's model picks one (`model_choice.choose`), and
    a plan's route one of its APIs (`routing.route_for`)."""
    most_reported: float
    """The most one image of an answer may be reported to cost before the report is not believed
    (cost.most_per_image)."""
    preferred_api: Api = Api.IMAGES
    """The API a GPT image model uses when a call names none (setting image_api)."""

    def seen_by(self, store: Store) -> ImageDeps:
        """The same, reading and resolving stored images through `store` (a user's owner-scoped view)."""
        return replace(self, store=store, resolver=self.resolver.seen_by(store))
