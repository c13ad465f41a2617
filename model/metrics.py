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

import math
import re
import unicodedata

RELATIVE_TOLERANCE = 0.05
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_BIG = {"万": 10**4, "億": 10**8, "兆": 10**12}
_KANJI_RUN = re.compile(r"[〇零一二三四五六七八九十百千万億兆]+")


def _kanji_to_int(text: str) -> int:
    total = section = digit = 0
    for ch in text:
        if ch in _KANJI_DIGITS:
            digit = _KANJI_DIGITS[ch]
        elif ch in _KANJI_UNITS:
            section += (digit or 1) * _KANJI_UNITS[ch]
            digit = 0
        else:
            total += (section + digit) * _KANJI_BIG[ch]
            section = digit = 0
    return total + section + digit


_MINUS = re.compile(r"[−▲△](?=\s*\d)")
_SCALED = re.compile(r"([-+]?\d+(?:\.\d+)?)\s*([千百十]?[万億兆]?)")
_SCALE = {"兆": 1e12, "億": 1e8, "万": 1e4, "千": 1e3, "百": 1e2, "十": 10}


def _kanji_number(run: str) -> str:
    """A run of kanji numerals as digits: positional without unit characters (二〇一九 → 2019), else by units."""
    if not any(c in _KANJI_UNITS or c in _KANJI_BIG for c in run):
        return "".join(str(_KANJI_DIGITS[c]) for c in run)
    return str(_kanji_to_int(run))


def normalize(text: str) -> str:
    """NFKC, −/△/▲ as minus, no thousands separators, kanji numerals as digits (a scale word right after digits,
    as in 1234千台, stays), lower case, outer whitespace and final 。. trimmed."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = _MINUS.sub("-", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)

    def numeral(m: re.Match) -> str:
        run = m.group()
        if not any(c in _KANJI_DIGITS or c in _KANJI_UNITS for c in run):
            return run  # 万人, 億円: words
        if m.start() > 0 and text[m.start() - 1].isdigit():  # 1234千, 1.2万: a scale after digits
            lead = re.match(r"[千百十万億兆]+", run).group()
            return lead + (_kanji_number(run[len(lead):]) if run[len(lead):] else "")
        return _kanji_number(run)

    text = _KANJI_RUN.sub(numeral, text)
    return text.rstrip("。.").strip()


def _as_number(text: str) -> tuple[set[float], bool] | None:
    """The first number's readings (as written, and multiplied by a scale word after it) and whether a % follows."""
    match = _SCALED.search(text)
    if match is None:
        return None
    value, words = float(match.group(1)), match.group(2)
    readings = {value} | ({value * math.prod(_SCALE[w] for w in words)} if words else set())  # 百万: 10^2 · 10^4
    return readings, "%" in text[match.end():]


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
