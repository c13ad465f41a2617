"""Chart-QA scoring. Two metrics, with the pitfalls other implementations fall into handled:

- relaxed accuracy (ChartQA): numbers within 5 % of the gold, except years, which must match exactly; a trailing %
  is read as a percentage on both sides; tolerance is taken on |gold| so a negative gold does not pass everything;
  otherwise case-insensitive exact match.
- containment (JGraphQA): the gold answer appears in the output, matched on number boundaries after NFKC
  normalisation, so "2" is not found inside "12"; separators, full-width digits and kanji numerals are understood.
"""

from __future__ import annotations

import re
import unicodedata

RELATIVE_TOLERANCE = 0.05
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
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


def normalize(text: str) -> str:
    """NFKC, no thousands separators, kanji numerals as digits, lower case, outer whitespace and final 。. trimmed."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = _KANJI_RUN.sub(lambda m: str(_kanji_to_int(m.group())) if any(c in _KANJI_DIGITS or c in _KANJI_UNITS
                                                                          for c in m.group()) else m.group(), text)
    return text.rstrip("。.").strip()


def _as_number(text: str) -> tuple[float, bool] | None:
    """(value, is_percent) when the whole text is one number, optionally followed by % (units around it ignored)."""
    numbers = _NUMBER.findall(text)
    if len(numbers) != 1:
        return None
    return float(numbers[0]), "%" in text


def _is_year(value: float, text: str) -> bool:
    return float(value).is_integer() and 1900 <= value <= 2100 and "." not in text


def relaxed_match(prediction: str, gold: str) -> bool:
    pred, ref = normalize(prediction), normalize(gold)
    p, g = _as_number(pred), _as_number(ref)
    if p is None or g is None:
        return pred == ref
    (pv, p_pct), (gv, g_pct) = p, g
    if p_pct != g_pct:  # "2%" vs "2": compare as fractions, as ChartQA does, so 0.02 == 2%
        pv, gv = (pv / 100 if p_pct else pv), (gv / 100 if g_pct else gv)
    if _is_year(gv, ref) and not g_pct:
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
