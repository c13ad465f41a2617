"""Fonts: a CJK font must be there, and every character of a chart's text must have a glyph in the chosen font."""

from __future__ import annotations

from functools import lru_cache

from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

from renderers.errors import SetupError

INSTALL_HINT = "no Japanese font found: install one, e.g. `apt-get install fonts-ipaexfont-gothic`, then `rm -rf ~/.cache/matplotlib`"


@lru_cache(maxsize=None)
def font_path(family: str) -> str:
    """The file behind `family`; raise with an install hint instead of silently falling back to DejaVu."""
    try:
        return font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    except ValueError as error:
        raise SetupError(f"font {family!r} is not installed. {INSTALL_HINT}") from error


@lru_cache(maxsize=128)
def pil_font(family: str, size_px: float):
    """`family` at `size_px` (em) for measuring text: advance widths and ascent/descent from the font file itself."""
    from PIL import ImageFont

    return ImageFont.truetype(font_path(family), size=size_px)


def text_width(text: str, family: str, size_px: float) -> float:
    return max(pil_font(family, size_px).getlength(line) for line in text.split("\n"))


@lru_cache(maxsize=None)
def _charmap(family: str) -> frozenset[int]:
    return frozenset(FT2Font(font_path(family)).get_charmap())


def missing_glyphs(texts: list[str], family: str) -> list[str]:
    """Characters of `texts` that `family` cannot draw (each once)."""
    have = _charmap(family)
    missing = {ch for text in texts for ch in text if not ch.isspace() and ord(ch) not in have}
    return sorted(missing)
