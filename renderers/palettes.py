"""Named palettes. A colour's name comes from one table of reference colours (the nearest by CIEDE2000), the same
in ja and en for every palette; within a palette every two colours differ by at least `DISTINCT_DE00` and carry
different names, so "the blue bar" points at one mark."""

from __future__ import annotations

from renderers.colour import DISTINCT_DE00, difference
from schemas.style import NamedColor

REFERENCE: dict[str, tuple[str, str]] = {  # hex → (ja, en)
    "#000000": ("黒", "black"), "#555555": ("濃い灰色", "dark gray"), "#999999": ("灰色", "gray"),
    "#cccccc": ("薄い灰色", "light gray"), "#d62728": ("赤", "red"), "#8c564b": ("茶色", "brown"),
    "#ff7f0e": ("オレンジ", "orange"), "#f4b183": ("薄いオレンジ", "light orange"), "#ffc000": ("黄色", "yellow"),
    "#c9a227": ("黄土色", "ochre"), "#bcbd22": ("オリーブ", "olive"), "#2ca02c": ("緑", "green"),
    "#2f5d50": ("深緑", "dark green"), "#17becf": ("シアン", "cyan"), "#5b9bd5": ("水色", "light blue"),
    "#1f77b4": ("青", "blue"), "#1f3a68": ("紺", "navy"), "#9467bd": ("紫", "purple"), "#e377c2": ("ピンク", "pink"),
}


def named(hex_: str) -> NamedColor:
    """The colour with the names of its nearest reference colour."""
    nearest = min(REFERENCE, key=lambda ref: difference(hex_, ref))
    ja, en = REFERENCE[nearest]
    return NamedColor(hex=hex_, ja=ja, en=en)


def _palette(*hexes: str) -> list[NamedColor]:
    colors = [named(h) for h in hexes]
    for i, a in enumerate(colors):
        for b in colors[i + 1:]:
            if difference(a.hex, b.hex) < DISTINCT_DE00 or a.en == b.en:
                raise ValueError(f"palette colours {a.hex} ({a.en}) and {b.hex} ({b.en}) cannot be told apart")
    return colors


PALETTES: dict[str, list[NamedColor]] = {
    "tableau": _palette("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#7f7f7f", "#17becf", "#bcbd22"),
    "corporate_navy": _palette("#1f3a68", "#5b9bd5", "#a5a5a5", "#ffc000", "#70ad47", "#ed7d31"),
    "corporate_red": _palette("#c00000", "#404040", "#bfbfbf", "#f4b183", "#2e75b6"),
    "earth": _palette("#2f5d50", "#c9a227", "#8e5b3c", "#6c8ebf"),
    "grayscale": _palette("#000000", "#666666", "#b3b3b3"),
}
