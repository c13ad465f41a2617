"""Reading a number back as charts, answers and models print it: full-width digits, thousands separators, −/△/▲
minus, kanji numerals (二〇一九, 三千五百), scale words after digits (1.2万, 744百万円, 1,234千台). The one parser the
verifier, the within-tolerance check and the chart-QA scorer share."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

SCALES = (("億", 1e8), ("万", 1e4))  # the scale words the renderers print
_SCALE = {"兆": 1e12, "億": 1e8, "万": 1e4, "千": 1e3, "百": 1e2, "十": 10}
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_BIG = {"万": 10**4, "億": 10**8, "兆": 10**12}
_KANJI_RUN = re.compile(r"[〇零一二三四五六七八九十百千万億兆]+")
MINUS_SIGNS = "-−△▲"  # what charts and answers write before a negative number
_MINUS = re.compile(r"[−▲△](?=\s*\d)")
_NUMBER = re.compile(r"([-+]?\d+(?:\.\d+)?)\s*([千百十]?[万億兆]?)")


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


def _kanji_number(run: str) -> str:
    """A run of kanji numerals as digits: positional without unit characters (二〇一九 → 2019), else by units."""
    if not any(c in _KANJI_UNITS or c in _KANJI_BIG for c in run):
        return "".join(str(_KANJI_DIGITS[c]) for c in run)
    return str(_kanji_to_int(run))


def normalize_numerals(text: str) -> str:
    """NFKC, −/△/▲ as minus, no thousands separators, kanji numerals as digits; a scale word right after digits
    (1234千台, 1.2万) stays a word, and so do 万人, 億円."""
    text = unicodedata.normalize("NFKC", text)
    text = _MINUS.sub("-", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)

    def numeral(m: re.Match) -> str:
        run = m.group()
        if not any(c in _KANJI_DIGITS or c in _KANJI_UNITS for c in run):
            return run
        if m.start() > 0 and text[m.start() - 1].isdigit():
            lead = re.match(r"[千百十万億兆]*", run).group()
            if not lead:  # 第1四半期: a word after the digits, not more of the number
                return run
            return lead + (_kanji_number(run[len(lead):]) if run[len(lead):] else "")
        return _kanji_number(run)

    return _KANJI_RUN.sub(numeral, text)


@dataclass(frozen=True)
class NumberReading:
    """The first number of a text: its digits' value, the scale word after them (1 if none), the digits' decimals,
    and whether a % follows."""

    digits: float
    scale: float
    decimals: int
    percent: bool

    @property
    def value(self) -> float:
        return self.digits * self.scale

    @property
    def resolution(self) -> float:
        return 10.0**-self.decimals * self.scale


_LOWER_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([千百十]?[万億])")  # the 2,345億 of 1兆2,345億


def read_number(text: str) -> NumberReading | None:
    """The first number: a compound of scale words (1兆2,345億, 3億4,500万) is one number, read in its last word."""
    normal = normalize_numerals(text)
    match = _NUMBER.search(normal)
    if match is None:
        return None
    digits, words = match.groups()
    scale = math.prod(_SCALE[w] for w in words)  # 百万: 10^2 · 10^4
    total, end = float(digits) * scale, match.end()
    while scale > 1 and (lower := _LOWER_PART.match(normal, end)) and _SCALE[lower.group(2)[-1]] < scale:
        digits, words = lower.groups()
        scale = math.prod(_SCALE[w] for w in words)
        total += math.copysign(float(digits) * scale, total)
        end = lower.end()
    return NumberReading(total / scale, scale, len(digits.split(".")[1]) if "." in digits else 0,
                         "%" in normal[end:])


def parse_number(text: str) -> tuple[float, float] | None:
    """The first number in `text` with its scale words multiplied out, and the resolution it is written to (0.1 for
    "1.5", 100 for "1.23万", 10^8 for "1兆2,345億")."""
    reading = read_number(text)
    return None if reading is None else (reading.value, reading.resolution)


def unit_scale(unit: str) -> float:
    """What a unit's own scale word multiplies by: 億円 → 10^8, 百万円 → 10^6, 千台 → 10^3, 人 → 1."""
    words = re.match(r"[千百十]?[万億兆]?", unicodedata.normalize("NFKC", unit)).group()
    return math.prod(_SCALE[w] for w in words)


def parse_amount(text: str, unit: str) -> tuple[float, float] | None:
    """The first number in `text` in `unit` (parse_number's pair): where the unit follows it, its scale word is part
    of the number (1兆2,345億円 in 億円 is 12,345; 744百万円 in 百万円 is 744); a number written without the unit is
    read as it stands."""
    normal, unit = unicodedata.normalize("NFKC", text), unicodedata.normalize("NFKC", unit)
    scale = unit_scale(unit) if unit else 1.0
    if scale == 1.0 or unit not in normal:
        return parse_number(normal.replace(unit, " ") if unit else normal)
    parsed = parse_number(normal)
    return None if parsed is None else (parsed[0] / scale, parsed[1] / scale)
