"""Prompts: the orchestration recipes of the "creative director" flow, each a chain of this server's tools.

A client shows them as slash commands or a prompt picker; the rendered text tells the assistant which tool to
call at each step, with which arguments, and how to check the result before reporting it. The recipes are
data (`RECIPES`), like the tool table: the prompt list, argument checks and completions all read it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from ...services import Services


class Values(StrEnum):
    """What an argument's values are, so completion can offer them."""

    TEXT = "text"
    IMAGE = "image"
    MODEL = "model"
    STYLE = "style"
    COUNT = "count"


@dataclass(frozen=True)
class Arg:
    name: str
    description: str
    required: bool = False
    values: Values = Values.TEXT


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    description: str
    arguments: tuple[Arg, ...]
    render: Callable[[Mapping[str, str]], str]
    """Builds the instructions from the arguments (missing optional ones are empty strings)."""


STYLES = (
    "photorealistic",
    "cinematic",
    "watercolor",
    "oil painting",
    "pencil sketch",
    "flat vector",
    "isometric 3D",
    "pixel art",
    "anime",
    "studio product photo",
)
MAX_COUNT = 10


def _count(arguments: Mapping[str, str], default: int) -> int:
    raw = arguments.get("count", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
        raise MCPError(code=INVALID_PARAMS, message=f"count must be a whole number from 1 to {MAX_COUNT}, got {raw!r}.")
    return int(raw)


def _model(arguments: Mapping[str, str]) -> str:
    model = arguments.get("model", "").strip()
    return f', model "{model}"' if model else ""


def _concept_art(arguments: Mapping[str, str]) -> str:
    style = arguments.get("style", "").strip()
    styled = f" in a {style} style" if style else ""
    return f"""Make concept art of {arguments["subject"]}{styled}. Work in three steps and show me each result.

1. Call generate_image with a detailed prompt (subject, setting, lighting, composition, palette{styled}),
   size "1536x1024", quality "high"{_model(arguments)}.
2. Look at the image, pick the one change that would improve it most (lighting, composition or a detail) and
   call edit_image with images ["<id from step 1>"] and a prompt that asks for exactly that change. When the
   change concerns one area, limit it with mask_region (fractions of the image, e.g. the top half is
   [{{"shape": "rect", "x": 0, "y": 0, "width": 1, "height": 0.5}}]).
3. Call analyze_image on the edited image's id with the prompt "Describe this concept art for an art director:
   subject, composition, palette, mood, and one idea for the next iteration."

End with the ids and file paths of both images and the art-direction notes."""


def _product_shot(arguments: Mapping[str, str]) -> str:
    angle = arguments.get("angle", "").strip() or "three-quarter view"
    checks = {
        "type": "object",
        "properties": {
            "background_transparent": {"type": "boolean"},
            "product_whole_and_centered": {"type": "boolean"},
            "clean_edges": {"type": "boolean"},
            "problems": {"type": "string"},
        },
        "required": ["background_transparent", "product_whole_and_centered", "clean_edges", "problems"],
    }
    return f"""Make a product shot of {arguments["product"]} on a transparent background, ready for a web shop.

1. Call generate_image with the prompt "{arguments["product"]}, studio product photograph, {angle}, soft even
   lighting, sharp focus, isolated product, no background", background "transparent", output_format "png",
   size "1024x1024", quality "high"{_model(arguments)}.
2. Call analyze_image on the new image's id with the prompt "Check this product shot: is the background
   transparent (not white or grey), is the whole product in frame and centered, are the edges clean?" and
   response_schema {json.dumps(checks)}.
3. If any check is false, call edit_image on the image with a prompt that fixes exactly the problems named,
   background "transparent" and output_format "png", then check again. Stop after two fixes.

End with the final image's id and path, and the checks it passed."""


def _logo_iterations(arguments: Mapping[str, str]) -> str:
    count = _count(arguments, 3)
    brief = arguments.get("brief", "").strip()
    about = f" ({brief})" if brief else ""
    return f"""Design a logo for {arguments["brand"]}{about} and explore {count} variations of it.

1. Call generate_image with a prompt for a simple, memorable logo mark for "{arguments["brand"]}"{about}: flat
   vector style, few shapes, two or three colours, no small text, centered; background "transparent",
   output_format "png", size "1024x1024"{_model(arguments)}.
2. Call create_image_variation on the logo's id with n {count} to get look-alikes with different details.
3. Call analyze_image once with all the images (the original first, then the variations) and the prompt
   "These are logo candidates, numbered in order. Rank them for legibility at 32 px, distinctiveness and
   balance, and say in one line why the best one wins."
4. Recommend one.

End with every candidate's id and path, and the ranking."""


def _edit_then_verify(arguments: Mapping[str, str]) -> str:
    region = arguments.get("region", "").strip()
    where = (
        f" Limit the change to {region}: pass mask_region with that area in fractions of the image (e.g. the top"
        ' half is [{"shape": "rect", "x": 0, "y": 0, "width": 1, "height": 0.5}]).'
        if region
        else ""
    )
    verdict = {
        "type": "object",
        "properties": {
            "change_made": {"type": "boolean"},
            "unwanted_changes": {"type": "string"},
        },
        "required": ["change_made", "unwanted_changes"],
    }
    change = arguments["change"]
    return f"""Edit an image and verify the edit before telling me it is done.

1. Call edit_image with images ["{arguments["image"]}"] and the prompt "{change}".{where}
2. Call analyze_image with images ["{arguments["image"]}", "<id of the edited image>"], the prompt "Image 1 is
   the original, image 2 the edited version. The request was: {change}. Was it carried out? Did anything else
   change that should not have?" and response_schema {json.dumps(verdict)}.
3. If change_made is false or unwanted_changes names something, edit once more with a more precise prompt
   (from the original image) and verify again.

End with the id and path of the edited image and the verdict."""


_MODEL = Arg("model", "Image model to use (default: the server's).", values=Values.MODEL)

RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "concept_art",
        "Concept art",
        "Generate concept art, refine it with one targeted edit, then describe it for an art director.",
        (
            Arg("subject", "What to depict, e.g. 'a floating market city at dusk'.", required=True),
            Arg("style", "Visual style, e.g. watercolor or cinematic (optional).", values=Values.STYLE),
            _MODEL,
        ),
        _concept_art,
    ),
    Recipe(
        "product_shot",
        "Product shot on a transparent background",
        "Generate a studio product photo with a transparent background and check background, framing and edges.",
        (
            Arg("product", "The product, e.g. 'a matte black ceramic coffee mug'.", required=True),
            Arg("angle", "Camera angle (default: three-quarter view).", values=Values.TEXT),
            _MODEL,
        ),
        _product_shot,
    ),
    Recipe(
        "logo_iterations",
        "Logo iterations",
        "Generate a logo, make variations of it, and rank the candidates with analyze_image.",
        (
            Arg("brand", "The brand or product name.", required=True),
            Arg("brief", "What the brand is about, colours or motifs to use (optional)."),
            Arg("count", f"How many variations, 1-{MAX_COUNT} (default 3).", values=Values.COUNT),
            _MODEL,
        ),
        _logo_iterations,
    ),
    Recipe(
        "edit_then_verify",
        "Edit, then verify",
        "Edit an image, then check with analyze_image that the edit did what was asked and nothing else.",
        (
            Arg("image", "The image to edit: a stored id, path or URL.", required=True, values=Values.IMAGE),
            Arg("change", "What to change, e.g. 'make the sky stormy'.", required=True),
            Arg("region", "Where, in words, e.g. 'the top half' (optional)."),
        ),
        _edit_then_verify,
    ),
)

BY_NAME = {recipe.name: recipe for recipe in RECIPES}


def checked_recipe(name: str, arguments: Mapping[str, str] | None) -> Recipe:
    """The recipe, once its name and argument names are known to be right; else an invalid-params error."""
    recipe = BY_NAME.get(name)
    if recipe is None:
        known = ", ".join(BY_NAME)
        raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt {name!r}. This server's prompts: {known}.")
    given = dict(arguments or {})
    names = [arg.name for arg in recipe.arguments]
    unknown = [key for key in given if key not in names]
    if unknown:
        raise MCPError(
            code=INVALID_PARAMS,
            message=f"Prompt {name} has no argument {unknown[0]!r}; its arguments are: {', '.join(names)}.",
        )
    missing = [arg.name for arg in recipe.arguments if arg.required and not str(given.get(arg.name, "")).strip()]
    if missing:
        raise MCPError(code=INVALID_PARAMS, message=f"Prompt {name} needs the argument {missing[0]!r}.")
    return recipe


def _prompt(recipe: Recipe) -> Prompt:
    def render(**arguments: str) -> UserMessage:
        return UserMessage(recipe.render(arguments))

    return Prompt(
        name=recipe.name,
        title=recipe.title,
        description=recipe.description,
        arguments=[
            PromptArgument(name=arg.name, description=arg.description, required=arg.required)
            for arg in recipe.arguments
        ],
        fn=render,
        context_kwarg=None,
    )


def register_prompts(server: MCPServer[Services]) -> None:
    for recipe in RECIPES:
        server.add_prompt(_prompt(recipe))
