"""structuredContent models: the public output contract of the tools (keys may be added, never renamed)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...store import ImageRecord


class Result(BaseModel):
    """A model of structuredContent, built at its first use rather than at import: listing the tools needs only
    the schemas, which are kept as data (adapter/tools/output_schemas.json), and a session that never calls a
    tool never validates its result."""

    model_config = ConfigDict(defer_build=True)


class CredentialsInfo(Result):
    """The Content Credentials (C2PA) found in a stored image."""

    found: bool
    checked: bool = Field(description="False: present, but not read (the server lacks its provenance extra).")
    valid: bool | None = Field(default=None, description="Signature and the hash of the image's bytes verify.")
    trusted: bool | None = Field(default=None, description="The signer chains to the C2PA trust list.")
    issuer: str | None = Field(default=None, description="Who signed them, e.g. OpenAI.")
    generator: str | None = None
    signed_at: str | None = None
    ai_generated: bool | None = Field(default=None, description="They say a model made the image.")
    problems: list[str] = Field(default_factory=list, description="Failed checks, as C2PA names them.")


class Provenance(Result):
    original: bool = Field(
        description="The stored file is the provider's bytes, unchanged; previews and converted copies are derived "
        "images without the credentials."
    )
    credentials: CredentialsInfo | None = Field(
        description="Null for images stored before credentials were looked for."
    )


class ImageEntry(Result):
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
    provenance: Provenance | None = Field(default=None, description="Where the stored bytes come from.")

    def public(self) -> dict[str, Any]:
        """As structuredContent: `url` only when there is one, so a server without links keeps the old keys."""
        data = self.model_dump()
        if data["url"] is None:
            del data["url"]
        return data


class EstimateInfo(Result):
    amount: float | None = Field(description="USD; null when no published figure covers the call.")
    basis: str


class CostInfo(Result):
    """What a call cost, in USD."""

    amount: float | None = Field(description="null when unknown (no usage, or no published price): never guessed.")
    currency: Literal["USD"] = "USD"
    exact: bool = Field(description="True when computed from the usage the API returned; false for an estimate.")
    basis: str = Field(description="Which prices or formula the amount comes from.")
    estimate: EstimateInfo | None = Field(description="The estimate made before the call, when there was one.")


class UsagePartEntry(Result):
    model: str
    usage: dict[str, Any]


class SavedCopy(Result):
    path: str
    derived: bool = Field(
        description="Converted to another format: a derived image, without the original's Content Credentials."
    )


class ImagesResult(Result):
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
    saved_copies: list[SavedCopy] | None = Field(
        default=None, description="The save_to copies, each saying whether it was converted (a derived image)."
    )
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


class ImageList(Result):
    images: list[ListedImage]
    total: int = Field(description="How many stored images match (on every page).")
    next_cursor: str | None = Field(description="Pass as cursor to list the next page; null on the last page.")


class NotDeleted(Result):
    image: str
    reason: str


class DeletedImages(Result):
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
        provenance=provenance(record),
    )


def provenance(record: ImageRecord) -> Provenance:
    found = record.credentials
    return Provenance(original=True, credentials=None if found is None else CredentialsInfo(**found))


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


class ModelPrices(Result):
    """USD per 1M tokens; a figure is null where no price is published."""

    text_input: float | None
    text_cached: float | None
    image_input: float | None
    image_cached: float | None
    image_output: float | None
    text_output: float | None = None


class ListedModelEntry(Result):
    name: str = Field(description="The name to pass as model, in this provider's spelling.")
    provider: str = Field(description="The provider that serves it; name@provider sends the call there.")
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
    reported_shutdown: str | None = Field(
        default=None,
        description="YYYY-MM-DD one source gives as its shutdown, unconfirmed by the catalog and the provider.",
    )


class CatalogInfo(Result):
    """Which catalog is in force."""

    serial: int | None
    source: str = Field(description="Shipped with the package, a feed's URL, or the cached copy of a feed.")
    published: str | None = Field(description="YYYY-MM-DD its facts are as of.")
    age_days: int | None = Field(description="Days since published.")
    fetched: str | None = Field(description="When a feed's copy was fetched (ISO 8601, UTC).")
    valid_until: str | None
    feed: str = Field(
        description="The feed followed, when it was last checked and why a copy was refused; or why none is."
    )


class ModelListResult(Result):
    """structuredContent of list_models; keys may be added, never renamed."""

    models: list[ListedModelEntry]
    provider_listed: bool = Field(description="Whether every provider's own model list was available.")
    notes: list[str]
    catalog: CatalogInfo | None = None


class AnalysisResult(Result):
    """structuredContent of analyze_image: the answer as `text`, or as `data` when a response_schema was given."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["text"]}, {"required": ["data"]}]})

    model: str
    usage: dict[str, Any] | None
    text: str | None = Field(default=None, description="The answer in words (no response_schema given).")
    data: Any = Field(default=None, description="The answer as JSON that matches response_schema, when one was given.")


class SpendPeriod(Result):
    """Spend in one UTC day or month, in USD."""

    period: str = Field(description="YYYY-MM-DD or YYYY-MM (UTC).")
    spent: float
    cap: float | None = Field(description="The budget for the period; null when none is set.")
    remaining: float | None = Field(description="What the budget has left; null when none is set.")
    resets: str = Field(description="When the period ends (UTC, ISO 8601).")


class UserSpend(Result):
    name: str = Field(description="The signed-in user.")
    today: SpendPeriod
    month: SpendPeriod


class UsageReport(Result):
    """structuredContent of usage_report (and the resource images://usage); keys may be added, never renamed."""

    currency: Literal["USD"]
    today: SpendPeriod
    month: SpendPeriod
    by_model: dict[str, float] = Field(description="This month's spend per model.")
    by_user: dict[str, float] = Field(description="This month's spend per user.")
    calls: int
    images: int
    calls_of_unknown_cost: int = Field(description="Calls without usage or a published price: not in the sums.")
    average_per_image: float | None
    max_cost_per_call: float | None
    confirm_above: float | None = Field(description="Calls estimated above this ask the user first.")
    user: UserSpend | None = Field(default=None, description="The caller's own spend, when signed in.")
