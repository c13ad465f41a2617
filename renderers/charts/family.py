"""What a chart family declares. Defaults describe the common case: one or more series on category/value axes."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from schemas.chart import ChartSpec, ChartType
from schemas.llm import decimals_written
from schemas.render import Rendered
from schemas.seeds import SeedTopic
from schemas.style import StyleSpec

Draw = Callable[[ChartSpec, StyleSpec, str], Rendered]

NOT_ADDITIVE_UNITS = frozenset({"%", "％", "倍", "x", "℃", "°C"})
"""units of rates, ratios and temperatures: two of them do not add up to a meaningful total"""


PANEL_GAP = 1  # blank category slots between two panels of small multiples

BRIDGE_KINDS = ("level", "rise", "fall")  # a waterfall's bars, coloured by the palette's first three colours


def bridge_kind(i: int, n: int, value: float) -> int:
    """Which of BRIDGE_KINDS row i of n of a waterfall is."""
    return 0 if i in (0, n - 1) else 1 if value >= 0 else 2


def percent(unit: str) -> bool:
    return unit.strip() in ("%", "％")


@dataclass(frozen=True)
class ChartFamily:
    chart_type: ChartType
    draw: Mapping[str, Draw] = field(repr=False)
    """renderer name → how it draws this family; a renderer not named here cannot draw it (and says so)."""
    topic_axes: tuple[str, ...] = ()
    """which seed topics (prompts/seeds.json `axis`: period, category, share, pair) the template may chart this way"""
    series: tuple[int, int] = (1, 3)
    """how many data columns the template draws, at least and at most"""
    topic_series: int = 0
    """a seed topic fits only if it names at least this many series"""
    secondary_axis: bool = False
    """some columns are drawn against a second value axis (spec.secondary_series); the topic needs a `secondary`"""
    periods: tuple[int, int] = (4, 8)
    """how many yearly periods the template draws on a period axis"""
    round: bool = False
    """parts of a whole drawn round: one colour per category, no axes; questions add parts up rather than compare
    along an axis, and visual questions name a slice by its colour (it has no left or right)"""
    horizontal: bool = False
    """categories run down the side, values across (visual questions say topmost/bottommost)"""
    paired: bool = False
    """each category is one (x, y) point: exactly two columns, each named by itself in questions"""
    sized: bool = False
    """a bubble chart: paired, and a third column drawn as each point's area — bubbles are compared by size, their
    sizes never read off (no axis shows them)"""
    value_labels: bool = True
    """style.value_labels prints each value on its mark (a scatter names its points instead)"""
    stacks: bool = False
    """values are drawn on top of each other, so each category's total is drawn: only additive quantities (or
    shares that fill 100 %) may be stacked"""
    shares_per_category: bool = False
    """each category (row) is one whole split into the columns' shares in %, filling 100 (帯グラフ): the template
    draws a share topic's parts as the columns"""
    change_on_previous: bool = False
    """the values are each period's change on the one before, in % (前年比): signed, about a zero line; the template
    derives them from a period topic's levels"""
    touching: bool = False
    """each category is a bin of one measured range (a histogram): its bar fills the bin, neighbours touch"""
    mirrored: bool = False
    """two columns drawn back to back from a central zero, the first leftwards (a population pyramid): both are
    positive, and the value axis reads distance from zero on either side"""
    bridge: bool = False
    """a waterfall (増減要因): the first and last rows are levels drawn from zero, the rows between signed changes
    that float from the running total (rises and falls in their own colours) — the last level is the first plus
    every change"""
    cells: bool = False
    """every value is printed in its own cell of a grid (a table; a heatmap's coloured cells): rows down the side,
    columns across; a value is read as printed, and a visual question names a cell by its place in its column"""
    header_groups: bool = False
    """merged header cells (結合セル) may sit above the columns"""
    summary: bool = False
    """each row is one category's five-number summary (minimum, quartiles, median, maximum) drawn as a box: the
    columns are statistics of one measure, not series — no legend, never compared with each other"""
    panels: bool = False
    """small multiples: each column drawn in a panel of its own, side by side, all against one value axis; a title
    above each panel names its column (no legend), the categories repeat under each panel"""
    radial: bool = False
    """a radar: each category a spoke from one centre, each column a closed polygon through its values, read
    against rings; values are distances from the centre (never negative)"""
    fewest_categories: int = 3
    """a category topic fits only with at least this many categories, and the template draws at least this many"""
    data_table: bool = False
    """the chart's values printed in a table beneath the plot (IR decks, 決算説明資料): a column under each category,
    a row per series — every value is read from its cell, and the marks carry no value labels"""
    rules: Callable[[ChartSpec], None] | None = field(default=None, repr=False)
    """data-shape rules beyond the table's own; raise ValueError naming the value"""

    def slots(self, spec: ChartSpec) -> list[str]:
        """The labels along the bottom, one per category slot: a heatmap's columns; for small multiples each panel's
        categories in turn, PANEL_GAP blank slots between panels; else the categories."""
        if self.cells:
            return list(spec.data.columns)
        if self.panels:
            return [label for k in range(len(spec.data.columns))
                    for label in ([""] * PANEL_GAP if k else []) + list(spec.data.index)]
        return list(spec.data.index)

    def slot(self, j: int, i: int, n: int) -> int:
        """The slot of category i (of n) of column j: its own panel's for small multiples, else i."""
        return j * (n + PANEL_GAP) + i if self.panels else i

    @property
    def keyed(self) -> bool:
        """Its columns are told apart by a legend — not slices, cells, a scatter's two measures, a box's statistics
        or small multiples' panels, each named where it is drawn."""
        return not (self.round or self.cells or self.paired or self.summary or self.panels)

    @property
    def tabular(self) -> bool:
        """A table, drawn by the table styles rather than the chart renderers: called a table, never a graph; always
        states its unit."""
        return "table" in self.draw

    @property
    def upright(self) -> bool:
        """Each value is one mark on a vertical value axis, as high as the value (bars, lines, dots; not stacks,
        slices, cells, floating or back-to-back bars, bins, boxes, or changes)."""
        return not (self.round or self.cells or self.paired or self.stacks or self.summary or self.bridge
                    or self.mirrored or self.horizontal or self.touching or self.change_on_previous or self.radial)

    def n_colors(self, spec: ChartSpec) -> int:
        """Distinct colours a drawing needs: one per category when round, levels/rises/falls for a waterfall, else one
        per column."""
        if self.bridge:
            return len(BRIDGE_KINDS)
        if self.summary:
            return 1
        return len(spec.data.index) if self.round else len(spec.data.columns)

    def meaning(self, spec: ChartSpec) -> str | None:
        """What data made for this family must also mean, beyond being drawable: a stack adds up (amounts, or %
        shares filling 100 per category — never rates, ratios or temperatures); % slices fill 100. Checked where
        data is made (the LLM chain; the template's topics fit by construction), not when rows are read back, so
        datasets made before a rule still load."""
        unit = spec.unit.strip()
        if self.stacks and not self.shares_per_category and unit in NOT_ADDITIVE_UNITS and not (percent(unit) and all(
                abs(sum(row) - 100) <= share_slack(spec, len(row)) for row in spec.data.data)):
            return (f"{self.chart_type} stacks values in {unit!r}, which do not add up (rates, ratios, temperatures): "
                    "stack amounts, or shares that fill 100 % per category")
        if self.shares_per_category:
            off = [(label, sum(row)) for label, row in zip(spec.data.index, spec.data.data)
                   if not percent(unit) or abs(sum(row) - 100) > share_slack(spec, len(row))]
            if off:
                return (f"{self.chart_type} splits each category into shares in % filling 100; {off[0][0]} sums to "
                        f"{off[0][1]:g} {unit}")
        if self.round and percent(unit):
            total = sum(row[0] for row in spec.data.data)
            if abs(total - 100) > share_slack(spec, len(spec.data.index)):
                return f"{self.chart_type} shares in % sum to {total:g}, not 100: the slices are parts of one whole"
        return None

    def settle(self, rows: list[list[float]], unit: str) -> list[list[float]]:
        """What this family's arithmetic fixes, computed rather than asked of a model (the template's data is made
        so): a waterfall's closing level is the first plus every factor; %-shares of one whole (a pie's slices, a
        帯グラフ's bar) are scaled to fill 100 — the proportions written, at one decimal at least, rounded so they
        sum to exactly 100. Shares with a negative or no total are left for `meaning` to refuse."""
        if self.bridge and len(rows) >= 3:
            digits = max(decimals_written(row[0]) for row in rows)
            return [*rows[:-1], [round(rows[0][0] + sum(row[0] for row in rows[1:-1]), digits)]]
        if percent(unit) and self.round:
            return [[v] for v in _filling_100([row[0] for row in rows])]
        if percent(unit) and self.shares_per_category:
            return [_filling_100(row) for row in rows]
        return rows

    def fits(self, topic: SeedTopic) -> bool:
        """Whether the template may draw a seed topic (prompts/seeds.json) as this family."""
        if topic.axis not in self.topic_axes:
            return False
        if (topic.axis == "period" or self.shares_per_category) and (topic.periods() or self.periods[0]) < self.periods[0]:
            return False  # a measure that began lately (5G) has too few years for a long series
        if topic.signed and (self.stacks or self.round or self.change_on_previous or self.radial):
            return False  # a loss has no place in a stack, a pie or a radar; a change on a negative level means nothing
        if self.secondary_axis:
            return topic.secondary is not None
        if self.sized:
            return topic.size is not None
        if self.change_on_previous and percent(topic.unit[0]):
            return False  # a rate's change is in points, not a % change
        if self.stacks and not self.shares_per_category and (topic.unit[0] in NOT_ADDITIVE_UNITS or not topic.additive):
            return False
        if topic.axis == "category" and len(topic.categories) < self.fewest_categories:
            return False
        if topic.axis in ("period", "category", "bins"):  # its series become the columns: at least the fewest drawn
            return len(topic.series) >= max(self.topic_series, self.series[0])
        return len(topic.series) >= self.topic_series

    def check(self, spec: ChartSpec) -> None:
        """Raise ValueError when `spec` cannot be drawn or asked about honestly as this family."""
        if self.rules:
            self.rules(spec)
        if self.stacks and any(v < 0 for row in spec.data.data for v in row):
            raise ValueError(f"{self.chart_type} values must not be negative: a mixed-sign stack has no honest total")
        if self.secondary_axis:
            columns = spec.data.columns
            unknown = [s for s in spec.secondary_series if s not in columns]
            if unknown or not spec.secondary_series or len(spec.secondary_series) >= len(columns):
                raise ValueError(f"{self.chart_type} needs secondary_series to be a proper, non-empty subset of the "
                                 f"columns {columns!r}, got {spec.secondary_series!r}")
            units = {spec.series_unit[c] for c in spec.secondary_series}
            if len(units) != 1:
                raise ValueError(f"{self.chart_type} secondary_series {spec.secondary_series!r} must share one unit, "
                                 f"got {units!r}")
        elif spec.secondary_series:
            raise ValueError(f"secondary_series {spec.secondary_series!r} is only drawn by families with a second "
                             f"value axis (bar_line, dual_line), not {self.chart_type}")
        if spec.header_groups and not self.header_groups:
            raise ValueError(f"header_groups are only drawn by table, not {self.chart_type}")


BUBBLE_SHARE = 0.06  # the largest bubble's radius, as a share of the plot's shorter side
BUBBLE_LEAST_PX = 4.0  # the smallest bubble's radius stays visible


def bubble_radii(sizes: list[float], plot_px: float) -> list[float]:
    """Each bubble's radius in pixels: its area in proportion to its size, the largest BUBBLE_SHARE of the plot."""
    largest = max(sizes)
    return [max(BUBBLE_LEAST_PX, BUBBLE_SHARE * plot_px * (s / largest) ** 0.5) for s in sizes]


def exactly_columns(spec: ChartSpec, n: int, why: str) -> None:
    """A family that draws exactly `n` columns; `why` says what it draws, for the message."""
    if len(spec.data.columns) != n:
        raise ValueError(f"{spec.chart_type} draws {why}, got columns {spec.data.columns!r}")


def _filling_100(values: list[float]) -> list[float]:
    """`values` scaled to sum to exactly 100 at the digits written (one at least), by largest remainder; as they
    are if one is negative or they sum to nothing."""
    total = sum(values)
    if total <= 0 or min(values) < 0:
        return values
    digits = max(1, *(decimals_written(v) for v in values))
    unit = 10**digits
    scaled = [v * 100 * unit / total for v in values]
    floors = [math.floor(x) for x in scaled]
    short = 100 * unit - sum(floors)
    for i in sorted(range(len(values)), key=lambda i: floors[i] - scaled[i])[:short]:
        floors[i] += 1
    return [f / unit for f in floors]


def share_slack(spec: ChartSpec, parts: int) -> float:
    """How far shares rounded to the spec's digits may sum away from 100."""
    return max(0.1, parts * 0.5 * 10 ** -spec.decimals)
