"""structuredContent models: the public output contract of the tools (keys may be added, never renamed)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...store import ImageRecord


class ImageEntry(BaseModel):
    id: str
    uri: str
    path: str = Field(description="Where the full image is: a file path, or s3://bucket/key in a team deployment.")
    mime_type: str
    width: int
    height: int
    bytes: int
    revised_prompt: str | None
    url: str | None = Field(
        default=None,
        description="A link to the full image that a client can fetch (time-limited with object storage); present "
        "only when the server has one.",
    )

    def public(self) -> dict[str, Any]:
        """As structuredContent: `url` only when there is one, so a server without links keeps the old keys."""
        data = self.model_dump()
        if data["url"] is None:
            del data["url"]
        return data


class EstimateInfo(BaseModel):
    amount: float | None = Field(description="USD; null when no published figure covers the call.")
    basis: str


class CostInfo(BaseModel):
    """What a call cost, in USD."""

    amount: float | None = Field(description="null when unknown (no usage, or no published price): never guessed.")
    currency: Literal["USD"] = "USD"
    exact: bool = Field(description="True when computed from the usage the API returned; false for an estimate.")
    basis: str = Field(description="Which prices or formula the amount comes from.")
    estimate: EstimateInfo | None = Field(description="The estimate made before the call, when there was one.")


class UsagePartEntry(BaseModel):
    model: str
    usage: dict[str, Any]


class ImagesResult(BaseModel):
    """structuredContent of every image-producing tool and of get_job; keys may be added, never renamed.

    It is one of two shapes: the images that were made (`images`, `model`, `usage`, and `saved_to` / `method`
    where they apply), or, when the image API outlived the response deadline, the job to ask about (`job_id`,
    `status`, `elapsed_seconds`). The fields are optional here so that both shapes validate; the advertised
    schema says which keys each shape requires.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["images", "model", "usage"]},
                {"required": ["job_id", "status", "elapsed_seconds"]},
            ]
        }
    )

    images: list[ImageEntry] | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    saved_to: list[str] | None = Field(default=None, description="Where save_to copies were written, if asked.")
    method: Literal["variations", "edits"] | None = Field(
        default=None, description="Variations only: dall-e-2's native endpoint, or emulated through edits."
    )
    cost: CostInfo | None = Field(default=None, description="What the call cost, with the estimate made before it.")
    dry_run: bool | None = Field(default=None, description="True when nothing was sent (dry_run: true).")
    plan: dict[str, Any] | None = Field(
        default=None, description="dry_run: the operation, model, endpoint, parameters and requests it would send."
    )
    usage_parts: list[UsagePartEntry] | None = Field(
        default=None,
        description="Usage per model when several worked on the call (Responses API: the mainline model and the "
        "image model); usage is their sum.",
    )
    job_id: str | None = Field(default=None, description="Pass to get_job when the images are not ready yet.")
    status: Literal["running", "succeeded", "failed"] | None = None
    elapsed_seconds: float | None = None


class ListedImage(ImageEntry):
    prompt: str | None
    model: str | None
    created: str


class ImageList(BaseModel):
    images: list[ListedImage]
    total: int = Field(description="How many stored images match (on every page).")
    next_cursor: str | None = Field(description="Pass as cursor to list the next page; null on the last page.")


class NotDeleted(BaseModel):
    image: str
    reason: str


class DeletedImages(BaseModel):
    """structuredContent of delete_images."""

    deleted: list[str] = Field(description="The ids of the images deleted.")
    not_deleted: list[NotDeleted] = Field(description="The images asked for that were not deleted, and why.")


def entry(record: ImageRecord, url: str | None = None) -> ImageEntry:
    return ImageEntry(
        id=record.id,
        uri=record.uri,
        path=record.location,
        mime_type=record.mime_type,
        width=record.width,
        height=record.height,
        bytes=record.bytes,
        revised_prompt=record.revised_prompt,
        url=url,
    )


def listed(record: ImageRecord, url: str | None = None) -> ListedImage:
    return ListedImage(
        **entry(record, url).model_dump(), prompt=record.prompt, model=record.model, created=record.created
    )


class ImageDetails(ListedImage):
    """structuredContent of image_details: what the app shows beside an image, and the images it came from."""

    operation: str | None
    usage: dict[str, Any] | None
    cost: dict[str, Any] | None = Field(description="What the request that made this image cost (see cost).")
    parameters: dict[str, Any]
    sources: list[ImageEntry] = Field(description="The stored images this one was made from (before/after).")


def details(record: ImageRecord, sources: list[ImageRecord]) -> ImageDetails:
    return ImageDetails(
        **listed(record).model_dump(),
        operation=record.operation,
        usage=record.usage,
        cost=record.cost,
        parameters=record.parameters,
        sources=[entry(source) for source in sources],
    )


class ModelPrices(BaseModel):
    """USD per 1M tokens; a figure is null where no price is published."""

    text_input: float | None
    text_cached: float | None
    image_input: float | None
    image_cached: float | None
    image_output: float | None
    text_output: float | None = None


class ListedModelEntry(BaseModel):
    name: str = Field(description="The name to pass as model, in this provider's spelling.")
    kind: Literal["image", "vision"]
    status: Literal["active", "deprecated", "shut_down"] = Field(description="On OpenAI's own API.")
    shutdown: str | None = Field(description="YYYY-MM-DD it shuts (or shut) down, null when none is announced.")
    served: bool | None = Field(description="In the provider's model list; null when the provider gives no list.")
    default: bool
    endpoints: list[str] = Field(description="Image models: generations, edits, variations.")
    sizes: list[str]
    free_size: str | None = Field(description="The rule for other WIDTHxHEIGHT sizes, when the model takes them.")
    qualities: list[str]
    output_formats: list[str]
    complexities: list[str]
    options: list[str] = Field(description="The image options the model takes (generate_image/edit_image parameters).")
    max_edit_images: int
    prices_per_1m: ModelPrices | None
    apis: list[Literal["images", "chat", "responses"]] = Field(
        description="The APIs the model can be used through (generate_image/edit_image `api`), its default first."
    )


class ModelListResult(BaseModel):
    """structuredContent of list_models; keys may be added, never renamed."""

    models: list[ListedModelEntry]
    provider_listed: bool = Field(description="Whether the provider's own model list was available.")
    notes: list[str]
