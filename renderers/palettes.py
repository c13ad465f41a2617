"""Named palettes. Every colour carries the words a visual question may use for it, in both languages."""

from __future__ import annotations

from schemas.style import NamedColor


def _c(hex_: str, ja: str, en: str) -> NamedColor:
    return NamedColor(hex=hex_, ja=ja, en=en)


BLUE, ORANGE, GREEN, RED = _c("#1f77b4", "青", "blue"), _c("#ff7f0e", "オレンジ", "orange"), _c("#2ca02c", "緑", "green"), _c("#d62728", "赤", "red")
PURPLE, BROWN, PINK, GRAY = _c("#9467bd", "紫", "purple"), _c("#8c564b", "茶色", "brown"), _c("#e377c2", "ピンク", "pink"), _c("#7f7f7f", "灰色", "gray")

PALETTES: dict[str, list[NamedColor]] = {
    "tableau": [BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, PINK, GRAY],
    "corporate_navy": [
        _c("#1f3a68", "紺", "navy"), _c("#5b9bd5", "水色", "light blue"), _c("#a5a5a5", "灰色", "gray"),
        _c("#ffc000", "黄色", "yellow"), _c("#70ad47", "緑", "green"), _c("#ed7d31", "オレンジ", "orange"),
    ],
    "corporate_red": [
        _c("#c00000", "赤", "red"), _c("#404040", "黒", "black"), _c("#bfbfbf", "灰色", "gray"),
        _c("#f4b183", "薄いオレンジ", "light orange"), _c("#2e75b6", "青", "blue"),
    ],
    "earth": [
        _c("#2f5d50", "深緑", "dark green"), _c("#c9a227", "黄土色", "ochre"), _c("#8e5b3c", "茶色", "brown"),
        _c("#6c8ebf", "青", "blue"), _c("#b85450", "赤", "red"),
    ],
    "grayscale": [
        _c("#000000", "黒", "black"), _c("#595959", "濃い灰色", "dark gray"), _c("#a6a6a6", "灰色", "gray"),
        _c("#d9d9d9", "薄い灰色", "light gray"),
    ],
}
