"""Number text as the chart shows it. Answers use the same function, so an answer reads like its label."""

from __future__ import annotations

import re
import unicodedata

from schemas.style import NumberFormat, StyleSpec

_FULL_WIDTH = str.maketrans("0123456789,.-", "０１２３４５６７８９，．－")


def format_number(value: float, decimals: int, style: StyleSpec, lang: str) -> str:
    text = f"{value:,.{decimals}f}" if style.number_format is NumberFormat.THOUSANDS else f"{value:.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    if lang == "ja" and style.full_width_digits:
        text = text.translate(_FULL_WIDTH)
    return text


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def parse_number(text: str) -> tuple[float, int] | None:
    """The first number in `text` and how many decimals it shows; full-width digits and separators accepted."""
    normal = unicodedata.normalize("NFKC", text).replace(",", "").replace("−", "-")
    match = _NUMBER.search(normal)
    if match is None:
        return None
    digits = match.group()
    return float(digits), len(digits.split(".")[1]) if "." in digits else 0
