"""Every tool parameter as the assistant sees it: type, limits and a description of what it does, per model.

Kept apart from the handlers so the handlers read as the flow they are, and so every tool describes a shared
parameter with the same words. Two things are filled in when the server is built (adapter/tools/described.py): the
image options of the option table (catalog/options.py) take their description and bounds from their row, and a
`{placeholder}` in a description becomes what the settings and the catalog say (the default models, the models
there are), so no description names a stale default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ...catalog.spec import Api
from ...inputs import MAX_REFS


def _one_as_list(kind: type) -> BeforeValidator:
    """Assistants often send one item where the schema asks for a list of them; take it as a list of one.

    The advertised schema keeps the list, the form that always works; this only forgives the near-miss.
    """
    return BeforeValidator(lambda value: [value] if isinstance(value, kind) else value)


Prompt = Annotated[
    str,
    Field(description="What the image should show: subject, style, composition, any text. Up to 32000 characters."),
]
Model = Annotated[
    str | None,
    Field(description="{image_models}; list_models: what is served; shut-down ones are refused.{providers}"),
]
Count = Annotated[int, Field(ge=1, le=10, description="How many images.")]
TextOption = str | None
"""An image option of the option table taking text: described at start-up from its row."""
NumberOption = int | None
"""An image option of the option table taking a whole number: described and bounded at start-up from its row."""
ApiChoice = Annotated[Api | None, WithJsonSchema({"type": "string", "enum": [api.value for api in Api]})]
"""One of the upstream APIs, as the catalog names them."""


SaveTo = Annotated[
    str | None,
    Field(
        description="Also write it to this file or folder (under home, the output folder or client roots; "
        "converted to its extension; -1, -2... for several)."
    ),
]
Overwrite = Annotated[bool, Field(description="Replace an existing file at save_to.")]
DryRun = Annotated[bool, Field(description="Show what the call would do and cost; send nothing.")]
ConfirmCost = Annotated[bool, Field(description="Go ahead when the cost needs confirmation.")]
IdempotencyKey = Annotated[
    str | None,
    Field(
        max_length=200,
        description="A repeat within {key_hours} h gets the first call's answer, unpaid.",
    ),
]
ApiAsForGenerate = ApiChoice
"""Parameters the other image tools share with generate_image, which describes them; each tool says so once."""
SaveToAsForGenerate = str | None
FlagAsForGenerate = bool
KeyAsForGenerate = Annotated[str | None, Field(max_length=200)]
ImageRef = Annotated[
    str,
    Field(description="Stored id, images:// URI, path, http(s) URL, data URL or base64."),
]
EditModel = Annotated[str | None, Field(description="As for generate_image (default {image_model}).")]
UpstreamApi = Annotated[
    ApiChoice,
    Field(description="responses: later edits continue the conversation; default: the model's own."),
]
EditSize = Annotated[
    str | None,
    Field(description="As for generate_image (default auto: follows the input)."),
]


class MaskRegion(BaseModel):
    """A rect or an ellipse (inscribed in the box); x, y (its top-left corner), width and height in fractions of
    the image (0..1)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"shape": "rect", "x": 0, "y": 0, "width": 0.5, "height": 0.5}]}
    )

    shape: Literal["rect", "ellipse"] = "rect"
    x: float
    y: float
    width: float
    height: float


EditImages = Annotated[
    list[ImageRef],
    _one_as_list(str),
    Field(
        min_length=1,
        max_length=MAX_REFS,
        description=f"1-{MAX_REFS} images to edit or combine; a mask applies to the first.",
    ),
]
EditPrompt = Annotated[str, Field(description="What to change, or how to combine the images.")]
Mask = Annotated[
    ImageRef | None,
    Field(
        description="Where to edit: an image the first one's size; transparent (or white) = edit, opaque (or "
        "black) = keep."
    ),
]
MaskRegions = Annotated[
    list[MaskRegion] | None,
    _one_as_list(dict),
    Field(description="Where to edit, as shapes. Not with mask."),
]
MaskInvert = Annotated[bool, Field(description="Edit everything except the mask or the shapes.")]
VariationSize = Annotated[str | None, Field(description="As for generate_image.")]
VariationModel = Annotated[
    str | None,
    Field(description="dall-e-2 is shut down on OpenAI: edits on the default image model, unless a gateway serves it."),
]
AnalyzeImages = Annotated[
    list[ImageRef],
    _one_as_list(str),
    Field(
        min_length=1,
        max_length=MAX_REFS,
        description=f"1-{MAX_REFS} images, in the order the prompt names them (local ones downscaled to 2048 px; "
        "no animated GIFs).",
    ),
]
Question = Annotated[str | None, Field(description="The question or instruction (default: describe the image).")]
VisionModel = Annotated[
    str | None,
    Field(description="Vision chat model, default {vision_model}; list_models names others."),
]
Detail = Annotated[
    Literal["auto", "low", "high"],
    Field(description="low is cheap and coarse, high reads small text."),
]
MaxTokens = Annotated[int | None, Field(ge=1, le=32_768, description="Longest answer, in tokens.")]
ResponseSchema = Annotated[
    dict[str, Any] | None,
    Field(description="JSON Schema (type object) for a structured answer, in structuredContent.data."),
]
ListLimit = Annotated[int, Field(ge=1, le=200, description="Most images per page.")]
ListQuery = Annotated[str | None, Field(description="Only images whose prompt contains this text (case-insensitive).")]
ListCursor = Annotated[
    str | None,
    Field(description="next_cursor of the previous page."),
]
Previews = Annotated[bool, Field(description="Also return small thumbnails.")]
StoredImage = Annotated[str, Field(description="A stored image id (or unique prefix) or its images:// URI.")]
Shared = Annotated[bool, Field(description="false takes the share back.")]
StoredImages = Annotated[
    list[str],
    _one_as_list(str),
    Field(min_length=1, max_length=100, description="Image ids or images:// URIs."),
]
JobId = Annotated[str, Field(description="The job id a slow call answered with.")]
WaitSeconds = Annotated[
    float,
    Field(ge=0, description="Seconds to wait for it (capped by the server)."),
]
