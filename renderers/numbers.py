"""Number text as the chart shows it. Answers use the same function, so an answer reads like its label."""

from __future__ import annotations

import re
import unicodedata

from schemas.style import NumberFormat, StyleSpec

_FULL_WIDTH = str.maketrans("0123456789,.-", "０１２３４５６７８９，．－")
SCALES = (("億", 1e8), ("万", 1e4))
SCALED_DECIMALS = 2


def format_number(value: float, decimals: int, style: StyleSpec, lang: str) -> str:
    suffix = ""
    if style.number_format is NumberFormat.MAN_OKU and lang == "ja":
        for word, scale in SCALES:
            if abs(value) >= scale:
                value, decimals, suffix = value / scale, SCALED_DECIMALS, word
                break
    sep = "" if style.number_format is NumberFormat.PLAIN else ","
    text = f"{value:{sep}.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    if lang == "ja" and style.full_width_digits:
        text = text.translate(_FULL_WIDTH)
    return text + suffix


_NUMBER = re.compile(r"([-+]?\d+(?:\.\d+)?)(億|万)?")


def parse_number(text: str) -> tuple[float, float] | None:
    """The first number in `text` and the resolution it is written to (0.1 for "1.5", 100 for "1.23万").

    Full-width digits, thousands separators and 万/億 are understood.
    """
    normal = unicodedata.normalize("NFKC", text).replace(",", "").replace("−", "-")
    match = _NUMBER.search(normal)
    if match is None:
        return None
    digits, word = match.groups()
    scale = dict(SCALES)[word] if word else 1.0
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits) * scale, 10.0**-decimals * scale
