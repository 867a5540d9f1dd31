"""Every tool parameter as the assistant sees it: type, limits and a description of what it does, per model.

Kept apart from the handlers so the handlers read as the flow they are, and so every tool describes a shared
parameter with the same words.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..inputs import MAX_REFS


def _one_as_list(kind: type) -> BeforeValidator:
    """Assistants often send one item where the schema asks for a list of them; take it as a list of one.

    The advertised schema keeps the list, the form that always works; this only forgives the near-miss.
    """
    return BeforeValidator(lambda value: [value] if isinstance(value, kind) else value)


Prompt = Annotated[
    str,
    Field(
        description="What the image should show. Be specific about subject, style, composition and any text. "
        "Up to 32000 characters for GPT image models, 4000 for dall-e-3, 1000 for dall-e-2."
    ),
]
Model = Annotated[
    str | None,
    Field(
        description="Image model. Catalogued: gpt-image-2, gpt-image-1.5, gpt-image-1, gpt-image-1-mini, dall-e-3, "
        "dall-e-2; either spelling works (gpt-image-1 or openai/gpt-image-1). Other names are passed to the "
        "provider as given. Default: the server's configured model."
    ),
]
Count = Annotated[
    int,
    Field(
        ge=1,
        le=10,
        description="How many images to make (1-10). dall-e-3 makes one per request; the server sends several.",
    ),
]
Size = Annotated[
    str | None,
    Field(
        description="WIDTHxHEIGHT. GPT image models: 1024x1024, 1536x1024 (landscape), 1024x1536 (portrait) or "
        "auto; gpt-image-2 also any size with sides multiple of 16, aspect 1:3 to 3:1, up to 3840x2160. "
        "dall-e-3: 1024x1024, 1792x1024, 1024x1792. dall-e-2: 256x256, 512x512, 1024x1024."
    ),
]
Quality = Annotated[
    str | None,
    Field(description="GPT image models: auto, low, medium or high (higher is slower). dall-e-3: standard or hd."),
]
Style = Annotated[str | None, Field(description="dall-e-3 only: vivid (dramatic) or natural.")]
Background = Annotated[
    str | None,
    Field(
        description="GPT image models only: transparent, opaque or auto. transparent needs output_format png or webp."
    ),
]
OutputFormat = Annotated[str | None, Field(description="GPT image models only: png (default), jpeg or webp.")]
OutputCompression = Annotated[
    int | None,
    Field(ge=0, le=100, description="GPT image models with jpeg or webp output: compression level 0-100."),
]
Moderation = Annotated[
    str | None, Field(description="GPT image models only: auto (default) or low (less restrictive filtering).")
]


SaveTo = Annotated[
    str | None,
    Field(
        description="Also write the final image here: a file path (.png, .jpg, .jpeg or .webp; other formats are "
        "converted) or a folder, inside the user's home, the output folder or the client's roots. Relative paths "
        "start at the client's first root. With several images a file name gets -1, -2, … suffixes."
    ),
]
Overwrite = Annotated[bool, Field(description="Replace an existing file at save_to (default: refuse).")]
ImageRef = Annotated[
    str,
    Field(
        description="An image: a stored id from an earlier result (e.g. 3f9a2c7b, or a unique prefix), its URI "
        "(images://3f9a2c7b), a file path (absolute, ~/..., relative, or file:// URL; Windows paths on Windows), "
        "an http(s) URL, a data:image/...;base64 URL, or bare base64."
    ),
]
EditModel = Annotated[
    str | None,
    Field(
        description="Image model for edits: gpt-image-2, gpt-image-1.5, gpt-image-1, gpt-image-1-mini (up to 16 "
        "images, any aspect ratio) or dall-e-2 (one square image). Default: the server's configured model."
    ),
]
EditSize = Annotated[
    str | None,
    Field(
        description="Output size. GPT image models: 1024x1024, 1536x1024, 1024x1536 or auto (default: follows "
        "the input). dall-e-2: 256x256, 512x512, 1024x1024."
    ),
]
InputFidelity = Annotated[
    str | None,
    Field(
        description="GPT image models except gpt-image-1-mini: high keeps faces, logos and details of the inputs "
        "closer; low (default) is faster."
    ),
]


class MaskRegion(BaseModel):
    """A shape to edit, in fractions of the image size (0..1); (x, y) is its top-left corner."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"shape": "rect", "x": 0, "y": 0, "width": 0.5, "height": 0.5}]}
    )

    shape: Literal["rect", "ellipse"] = Field(default="rect", description="rect or ellipse (inscribed in the box).")
    x: float = Field(description="Left edge, 0 = left border, 1 = right border.")
    y: float = Field(description="Top edge, 0 = top border, 1 = bottom border.")
    width: float = Field(description="Width as a fraction of the image width.")
    height: float = Field(description="Height as a fraction of the image height.")


EditImages = Annotated[
    list[ImageRef],
    _one_as_list(str),
    Field(
        min_length=1,
        max_length=MAX_REFS,
        description=f"1-{MAX_REFS} images to edit or combine (GPT image models; dall-e-2 takes one square image). "
        "The first image is the one a mask applies to.",
    ),
]
EditPrompt = Annotated[
    str, Field(description="What to change, or how to combine the images, e.g. 'make the sky purple'.")
]
Mask = Annotated[
    ImageRef | None,
    Field(
        description="Where to edit, as an image the size of the first image: a PNG with transparency "
        "(transparent = edit) or a black-and-white image (white = edit, black = keep)."
    ),
]
MaskRegions = Annotated[
    list[MaskRegion] | None,
    _one_as_list(dict),
    Field(
        description="Where to edit, as shapes in fractions of the image: e.g. the top-left quadrant is "
        '[{"shape": "rect", "x": 0, "y": 0, "width": 0.5, "height": 0.5}]; the sky is usually a rect '
        "across the top. Not together with mask."
    ),
]
MaskInvert = Annotated[
    bool, Field(description="Edit everything except the mask or the shapes (e.g. 'everything but the face').")
]
VariationSize = Annotated[
    str | None,
    Field(description="dall-e-2: 256x256, 512x512 or 1024x1024. When emulated, a GPT image size or auto."),
]
VariationModel = Annotated[
    str | None,
    Field(
        description="dall-e-2 (default) uses the native variations endpoint (a square crop of the image "
        "is sent). Any other image model, or dall-e-2 where the provider no longer offers it, is "
        "emulated through edits with a variation prompt."
    ),
]
AnalyzeImages = Annotated[
    list[ImageRef],
    _one_as_list(str),
    Field(
        min_length=1,
        max_length=MAX_REFS,
        description=f"1-{MAX_REFS} images, in the order the prompt refers to them. Local and stored images larger "
        "than 2048 px on the long side (or 20 MB) are downscaled to 2048 px before sending; http(s) URLs "
        "are passed to the model as they are. Animated GIFs are refused.",
    ),
]
Question = Annotated[str | None, Field(description="The question or instruction. Default: 'Describe this image.'")]
VisionModel = Annotated[
    str | None,
    Field(description="Vision chat model. Default: the server's vision model, named in this tool's description."),
]
Detail = Annotated[
    Literal["auto", "low", "high"],
    Field(description="How closely the model looks: low is cheap and coarse, high reads small text."),
]
MaxTokens = Annotated[int | None, Field(ge=1, le=32_768, description="Longest answer, in tokens.")]
ResponseSchema = Annotated[
    dict[str, Any] | None,
    Field(
        description="A JSON Schema (type object) for a structured answer, e.g. the fields of a receipt. "
        "The parsed object comes back as structuredContent.data and the JSON as text."
    ),
]
ListLimit = Annotated[
    int, Field(ge=1, le=200, description="Most images to list per page, newest first (the result says the total).")
]
ListQuery = Annotated[str | None, Field(description="Only images whose prompt contains this text (case-insensitive).")]
ListCursor = Annotated[
    str | None,
    Field(description="next_cursor from an earlier list_images result, to list the next page (default: the newest)."),
]
Previews = Annotated[bool, Field(description="Also return small thumbnails (all together within the inline budget).")]
JobId = Annotated[str, Field(description='The job id a slow call answered with, e.g. "job_3f9a2c7b".')]
WaitSeconds = Annotated[
    float,
    Field(ge=0, description="How long to wait for the job to finish before answering (capped by the server)."),
]
