"""Number text as the chart shows it. Answers use the same function, so an answer reads like its label; reading one
back is common.numbers.parse_number."""

from __future__ import annotations

import math

from common.numbers import SCALES
from schemas.style import NumberFormat, StyleSpec

_FULL_WIDTH = str.maketrans("0123456789,.-", "０１２３４５６７８９，．－")
SCALED_DECIMALS = 2


def rounded_digits(quantum: float) -> int:
    """The decimals that write a value rounded to `quantum` (a 1-2-5 step): 0.02 → 2, 0.5 → 1, 10 → -1, 10000 → -4;
    below zero, format_number writes no finer digit than the step."""
    return math.ceil(-math.log10(quantum) - 1e-9)


def format_number(value: float, decimals: int, style: StyleSpec, lang: str) -> str:
    """`decimals` below zero: rounded to 10^-decimals (an approximate reading) and written without finer digits —
    with 万/億 too (約28万, not 28.00万, for a value read to ±1万)."""
    if decimals < 0:
        value = round(value, decimals)
    suffix = ""
    if style.number_format is NumberFormat.MAN_OKU and lang == "ja":
        for word, scale in SCALES:
            if abs(value) >= scale:
                value, suffix = value / scale, word
                decimals = min(SCALED_DECIMALS, decimals + round(math.log10(scale)))
                break
    decimals = max(0, decimals)
    sep = "" if style.number_format is NumberFormat.PLAIN else ","
    text = f"{value:{sep}.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    if text.startswith("-"):
        text = style.minus + text[1:]
    if lang == "ja" and style.full_width_digits:
        text = text.translate(_FULL_WIDTH)
    return text + suffix


def format_amount(value: float, decimals: int, unit: str, style: StyleSpec, lang: str) -> str:
    """A number in an answer or a description, before its unit: as the chart writes it, or — where the style mixes
    scales (ja) and an amount in 億 reaches 1兆 — with its 兆 split off, as reports write sums of money in prose:
    12,345 億円 → 1兆2,345億円 (not when the 億 part is zero: "1兆億円" is no number)."""
    if not (style.mixed_scale and lang == "ja" and unit.startswith("億")):
        return format_number(value, decimals, style, lang)
    shown = round(abs(value), max(decimals, 0)) if decimals >= 0 else round(abs(value), decimals)
    cho, oku = divmod(shown, 1e4)
    if cho < 1 or float(format_number(oku, decimals, style.model_copy(update={
            "number_format": NumberFormat.PLAIN, "full_width_digits": False}), lang)) == 0:
        return format_number(value, decimals, style, lang)
    minus = (style.minus if value < 0 else "").translate(_FULL_WIDTH if style.full_width_digits else {})
    return f"{minus}{format_number(cho, 0, style, lang)}兆{format_number(oku, decimals, style, lang)}"


def nice_step(low: float, high: float, target: int = 6) -> float:
    """A 1-2-2.5-5 × 10^k tick step giving about `target` intervals over [low, high]."""
    raw = (high - low) / target or 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
