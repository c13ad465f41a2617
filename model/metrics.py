"""Chart-QA scoring. Two metrics, with the pitfalls other implementations fall into handled:

- relaxed accuracy (ChartQA): numbers within 5 % of the gold, except years, which must match exactly; tolerance is
  taken on |gold| so a negative gold does not pass everything; otherwise case-insensitive exact match. The number
  is the first in the text, as our answers and charts print it: full-width digits, separators, −/△/▲ minus, and a
  scale word after the digits (1.2万, 744百万円, 1,234千台) read both ways — as written and multiplied out — so
  "1.2万" equals "12000" and "158" equals "158千台" (a question asking 何千台か). With "%" on one side only, either
  reading may match: "12.5" equals "12.5%", as does "0.125" (ChartQA's fraction).
- containment (JGraphQA): the gold answer appears in the output, matched on number boundaries after NFKC
  normalisation, so "2" is not found inside "12"; separators, full-width digits and kanji numerals are understood.
"""

from __future__ import annotations

import re

from common.numbers import normalize_numerals, read_number

RELATIVE_TOLERANCE = 0.05


def normalize(text: str) -> str:
    """The shared numeral normalisation (common.numbers), lower case, outer whitespace and a final 。. trimmed."""
    return normalize_numerals(text.strip()).lower().rstrip("。.").strip()


def _as_number(text: str) -> tuple[set[float], bool] | None:
    """The first number's readings (as written, and multiplied by a scale word after it) and whether a % follows."""
    reading = read_number(text)
    if reading is None:
        return None
    return {reading.digits, reading.value}, reading.percent


def _is_year(value: float, text: str) -> bool:
    return float(value).is_integer() and 1900 <= value <= 2100 and "." not in text


def relaxed_match(prediction: str, gold: str) -> bool:
    pred, ref = normalize(prediction), normalize(gold)
    p, g = _as_number(pred), _as_number(ref)
    if p is None or g is None:
        return pred == ref
    (p_values, p_pct), (g_values, g_pct) = p, g
    if p_pct != g_pct:  # "2%" and "0.02" (ChartQA's fraction), or "12.5%" and "12.5" (the unit left off)
        p_values |= {v / 100 for v in p_values} if p_pct else set()
        g_values |= {v / 100 for v in g_values} if g_pct else set()
    return any(_close(pv, gv, ref) for pv in p_values for gv in g_values)


def _close(pv: float, gv: float, ref: str) -> bool:
    if _is_year(gv, ref):
        return pv == gv
    if gv == 0:
        return pv == 0
    return abs(pv - gv) <= RELATIVE_TOLERANCE * abs(gv)


def contains(prediction: str, gold: str) -> bool:
    pred, ref = normalize(prediction), normalize(gold)
    if not ref:
        return False
    pattern = re.escape(ref)
    if ref[0].isdigit() or ref[0] in "+-":
        pattern = r"(?<![\d.])" + pattern
    if ref[-1].isdigit():
        pattern += r"(?![\d]|\.\d)"
    return re.search(pattern, pred) is not None
