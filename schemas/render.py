"""What a renderer returns besides pixels: where each mark and label landed, and what went wrong drawing it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


MARKS = ("bar", "point", "vertex", "layer", "slice", "cell")  # elements that show data (not text, not a legend)
DRAWN = ("bar", "point", "slice", "cell")  # marks a question can point at (a vertex has nothing drawn)
MIN_TEXT_PX = 8.0  # smallest legible em size at the stored resolution (kana and kanji need more than Latin digits)


class Element(BaseModel):
    """One drawn thing. `bbox` is (x0, y0, x1, y1) in image pixels, origin top-left; None where not measurable.
    A "vertex" is where a line drawn without markers passes a value: its position is known, but nothing is drawn
    there for a question to point at. A "layer" is one series' band of a stacked area at one period: a thin strip
    from the band's lower edge to its upper one (its value is the band's thickness there). An "origin" is where a
    radial chart's values are measured from (a radar's centre): a value is a point's distance from it."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["bar", "point", "vertex", "layer", "slice", "cell", "text", "legend", "origin"]
    bbox: tuple[float, float, float, float] | None = None
    color: str | None = None
    row: str | None = Field(default=None, description="data index label this mark shows")
    col: str | None = Field(default=None, description="data column this mark shows")
    text: str | None = None
    size_px: float | None = Field(default=None, description="a text's drawn font size (em) in image pixels")
    quad: list[tuple[float, float]] | None = Field(
        default=None, description="a rotated text's box corners (bbox is their axis-aligned hull)")


class RenderChecks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    missing_glyphs: int = 0
    overlapping_text: list[tuple[str, str]] = Field(default_factory=list)
    off_canvas_text: list[str] = Field(default_factory=list)
    small_text: list[str] = Field(default_factory=list, description=f"texts drawn smaller than {MIN_TEXT_PX} px")


class Rendered(BaseModel):
    model_config = ConfigDict(extra="forbid")

    png: bytes
    width: int
    height: int
    elements: list[Element]
    checks: RenderChecks
    tick_steps: dict[str, float] = Field(
        default_factory=dict, description="column → step between the labelled ticks of the value axis it is read "
                                          "against (none for pies and tables)")
    value_labels: bool = Field(description="whether values are printed on their marks: the style's choice, unless "
                                           "the renderer predicted they would collide and left them off")
    unlabelled: list[str] = Field(default_factory=list, description="categories whose labels were left off the "
                                  "axis (too many to fit: every k-th is written); questions naming them are not asked")
