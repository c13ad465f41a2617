"""What an LLM's passage may claim about its table. A template description states facts the verifier re-computes;
an LLM writes free text, so its passage is held to what a program can check: a trend it states is one a series
shows, and every number it states is one the table, its labels or its periods hold (read to the number's own
precision, or within NUMBER_TOLERANCE) — "about 80 million tons in 1996" under a 2016–2023 table of 1,300万トン
is refused, not shipped."""

from __future__ import annotations

import math
import re
from itertools import combinations

from common.numbers import normalize_numerals, unit_scale
from renderers.charts import family
from schemas import ChartSpec

NUMBER_TOLERANCE = 0.03  # a passage rounds ("about 80 million"): 3 % of the value it means

_RISE = re.compile(r"増加|増え|上昇|伸び|拡大|rose|rise|increas|grew|grow|climb")
_FALL = re.compile(r"減少|減っ|低下|下落|縮小|fell|fall|declin|decreas|drop|shr[ai]nk")
_STREAK = re.compile(r"(\d+)\s*年連続で?(増加|減少)")
_WORD_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
                "兆": 1e12, "億": 1e8, "万": 1e4, "千": 1e3, "百": 1e2}
# a number not glued to a word (5G, FY2023, Q3 name things), its scale words and whether a % follows
_STATED = re.compile(r"(?<![A-Za-z0-9.])(-?\d+(?:\.\d+)?)(?!\.?[A-Za-z0-9])\s*"
                     r"([千百]?[万億兆]|[千百]|thousand|million|billion|trillion)?\s*(%)?", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


def contradiction(description: str, spec: ChartSpec) -> str | None:
    """The first claim of the passage its table refutes: a trend no series shows, a streak no series has, or a
    number the table does not hold; None when nothing checkable contradicts."""
    return _trend_contradiction(description, spec) or unsupported_number(description, spec)


def _trend_contradiction(description: str, spec: ChartSpec) -> str | None:
    """A trend the passage states that no series of the table shows (not asked of a pie, or of counts over bins,
    which are a distribution, not a change over time)."""
    chart = family(spec.chart_type)
    if chart.round or "bins" in chart.topic_axes or len(spec.data.index) < 2:
        return None
    columns = [spec.data.column(c) for c in spec.data.columns]
    rises = any(c[-1] > c[0] for c in columns)
    falls = any(c[-1] < c[0] for c in columns)
    says_rise, says_fall = bool(_RISE.search(description)), bool(_FALL.search(description))
    if says_rise and not says_fall and not rises:
        return "the passage says it rose but every series ends lower than it starts"
    if says_fall and not says_rise and not falls:
        return "the passage says it fell but every series ends higher than it starts"
    for count, word in _STREAK.findall(description):
        need, up = int(count), word == "増加"
        best = max(_longest_run(c, up) for c in columns)
        if best < need:
            return f"the passage says {count}年連続で{word} but no series has {need} in a row"
    return None


def _longest_run(values: list[float], up: bool) -> int:
    best = run = 0
    for a, b in zip(values, values[1:]):
        run = run + 1 if (b > a if up else b < a) else 0
        best = max(best, run)
    return best


def _names(spec: ChartSpec) -> str:
    """Every text the chart prints besides its values: numbers in it (5G, 第3四半期, 20代) are names, not claims."""
    return " ".join([spec.title, spec.x_title, spec.y_title, spec.unit, *spec.data.index, *spec.data.columns,
                     *spec.series_unit.values()])


def table_numbers(spec: ChartSpec) -> list[float]:
    """What a passage may truthfully state of `spec` (magnitudes; the passage's 減少/fell carries the sign): each
    value, the differences, ratios and changes in % between two values of a series or of a category, each value's
    share of its category's total and (unless the rows are periods) of its series' total, those totals and the
    means — in the table's units and, where a unit carries a scale word (億円, 万トン), multiplied out."""
    table = spec.data
    series = [(table.column(c), not spec.timeline) for c in table.columns]  # a share of a sum over years means nothing
    rows = [(list(row), True) for row in table.data] if len(table.columns) > 1 else []
    found: list[float] = []
    for values, has_shares in series + rows:
        total = sum(values)
        found += [*values, total, total / len(values)]
        if has_shares:
            found += [v / total * 100 for v in values if total]
        for a, b in combinations(values, 2):
            found.append(b - a)
            found += [(b - a) / a * 100 for a, b in ((a, b), (b, a)) if a]
            found += [b / a for a, b in ((a, b), (b, a)) if a]  # "2倍", "twice" as a number
    scales = {unit_scale(u) for u in spec.series_unit.values() if u} - {1.0}
    return sorted({abs(v) for v in found} | {abs(v) * s for v in found for s in scales})


def unsupported_number(description: str, spec: ChartSpec) -> str | None:
    """The first number of the passage that is none of: a year of the table's span, a count up to its number of
    periods or series, a number printed in its labels, titles or units, or one of `table_numbers` to the precision
    it is written in (or within NUMBER_TOLERANCE)."""
    names = normalize_numerals(_names(spec))
    printed = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", names)}
    years = [int(y) for y in _YEAR.findall(names)]
    span = range(min(years), max(years) + 1) if years else range(0)
    count_limit = max(len(spec.data.index), len(spec.data.columns), 12)  # 12: months of a year ("3月", "in 4 months")
    candidates = table_numbers(spec)
    for match in _STATED.finditer(normalize_numerals(description)):
        digits, word, percent = match.groups()
        stated = abs(float(digits))
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        scale = math.prod(_WORD_SCALES[w] for w in ([word.lower()] if word.isascii() else word)) if word else 1.0
        if not word and not percent and (stated in printed or (decimals == 0 and (
                int(stated) in span or stated <= count_limit))):
            continue
        value, resolution = stated * scale, 10.0**-decimals * scale
        if any(abs(value - c) <= max(resolution / 2, NUMBER_TOLERANCE * c) for c in candidates):
            continue
        return (f"the passage states {match.group().strip()!r}, but no value, difference, change, share or total "
                f"of the table is near it: write values that match the passage")
    return None
