"""Pinned geometry for the renderers that lay a chart out outside Python (plotly in a browser, Vega-Lite in
vl-convert): margins, value ranges and every mark's place are fixed here, so each mark's pixel box is computed rather
than guessed, and both renderers draw a family's marks in the same places. Each renderer only translates the layout
into its own figure description; text boxes are then measured from the SVG it lays out (renderers/svg.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from renderers import furniture
from renderers.charts.family import PANEL_GAP
from renderers.checks import covers_marks, render_checks
from renderers.colour import ink, ramp
from renderers.fonts import missing_glyphs, pil_font, text_width
from renderers.layout import LabelFit, two_lines_if_longer, fit_labels, place_point_labels
from renderers.numbers import format_number, nice_step
from schemas.chart import ChartSpec
from schemas.render import Element, Rendered
from schemas.style import NumberFormat, StyleSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from renderers.charts.family import ChartFamily

LEGEND_ROW_EM = 1.4  # a row of a horizontal legend, in font sizes
PANEL_TITLE_EM = 1.8  # room above the plot for small multiples' panel titles, in font sizes
COLOUR_BAR_EM = 6.0  # room a heatmap's colour bar and its tick labels take right of the plot, in font sizes
HEAT_LOW = "#f4f4f4"  # a heatmap's lowest value; the highest takes the palette's first colour
TEXT_PAD_PX = 3.0  # the gap between a mark and its value label (plotly.js's)
RULE_COLOR = "#999999"  # a data table's 罫線


class Frame:
    """Maps data coordinates to image pixels for a plot area with pinned margins and ranges."""

    def __init__(self, left, top, right, bottom, xrange, yrange):
        self.left, self.top, self.right, self.bottom = left, top, right, bottom
        self.xrange, self.yrange = xrange, yrange

    def px(self, x: float, y: float, yrange=None) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.xrange, yrange or self.yrange
        return (self.left + (x - x0) / (x1 - x0) * (self.right - self.left),
                self.bottom - (y - y0) / (y1 - y0) * (self.bottom - self.top))

    def data(self, px: float, py: float) -> tuple[float, float]:
        """px's inverse: the data coordinates at an image pixel."""
        (x0, x1), (y0, y1) = self.xrange, self.yrange
        return (x0 + (px - self.left) / (self.right - self.left) * (x1 - x0),
                y0 + (self.bottom - py) / (self.bottom - self.top) * (y1 - y0))


def value_range(values: list[float]) -> list[float]:
    """A value axis from zero (or below the lowest negative) to a little past the highest value."""
    lo, hi = min(0.0, min(values)), max(0.0, max(values))
    pad = (hi - lo) * 0.12 or 1.0
    return [lo - pad if lo < 0 else 0.0, hi + pad]


def tick_values(low: float, high: float, intervals: int = 6) -> list[float]:
    """The value axis's ticks: every multiple of its step (renderers.numbers.nice_step for about `intervals`
    intervals) within the range."""
    step = nice_step(low, high, intervals)
    first, last = math.ceil(min(low, high) / step - 1e-9), math.floor(max(low, high) / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def tick_text(value: float, style: StyleSpec) -> str:
    """A tick label as d3's "~f" (",~f" with thousands separators) writes it, for ticks written out one by one."""
    written = f"{value:{',' if style.number_format is NumberFormat.THOUSANDS else ''}.6f}".rstrip("0").rstrip(".")
    return "0" if written in ("-0", "") else written


@dataclass(frozen=True)
class Canvas:
    """What every family's marks share: the pinned plot area (margins in px), the number formatter, colours."""

    spec: ChartSpec
    style: StyleSpec
    lang: str
    left: float
    top: float
    right: float
    bottom: float
    colors: list[str]
    fit: LabelFit | None = None
    """how the labels along the bottom are written (turned, every stride-th, wrapped); None: as they are, level"""
    value_labels: list[Element] = field(default_factory=list)
    """where the value labels will be drawn, predicted from the pinned geometry before the figure is laid out"""
    fixed_texts: list[Element] = field(default_factory=list)
    """texts drawn whatever the style (a radar's ring and spoke labels) that value labels must clear too"""
    table_top: float = 0.0
    """how far below the plot a data table's first row starts (under the category labels), in px"""

    def color(self, i: int) -> str:
        return self.colors[i % len(self.colors)]

    def predicted_texts(self) -> list[Element]:
        """Where the value labels, and the texts they must clear, will be drawn (pinned.finish checks them)."""
        return self.value_labels + self.fixed_texts

    @property
    def rotation(self) -> int:
        """The labels along the bottom turned this many degrees."""
        return self.fit.rotation if self.fit else 0

    def labels(self, across: list[str]) -> list[str]:
        """Labels as the axis writes them: those along the bottom as fitted (blank where left off, long ones on two
        lines, "\n"), others (down the side) as they are."""
        return list(self.fit.texts) if self.fit and self.fit.labels == tuple(across) else list(across)

    def unlabelled(self, across: list[str]) -> list[str]:
        return self.fit.unlabelled if self.fit and self.fit.labels == tuple(across) else []

    def fmt(self, value: float, col: str | None = None) -> str:
        return format_number(value, self.spec.decimals_of(col or self.spec.data.columns[0]), self.style, self.lang)

    def frame(self, xrange, yrange) -> Frame:
        return Frame(self.left, self.top, self.style.width_px - self.right, self.style.height_px - self.bottom,
                     xrange, yrange)

    def panel_titles(self) -> list[tuple[str, float, float, float]]:
        """Small multiples' panel titles and separators as (column, title centre x, title bottom y, separator x left
        of the panel or None for the first), in image pixels."""
        from renderers.charts import family

        chart, table = family(self.spec.chart_type), self.spec.data
        n, slots = len(table.index), len(chart.slots(self.spec))
        frame = self.frame([-0.5, slots - 0.5], [0.0, 1.0])
        out = []
        for j, col in enumerate(table.columns):
            first, last = chart.slot(j, 0, n), chart.slot(j, n - 1, n)
            separator = frame.px(first - (PANEL_GAP + 1) / 2, 0)[0] if j else None
            out.append((col, frame.px((first + last) / 2, 0)[0], frame.top - 6, separator))
        return out

    def left_of_ticks(self, value_range: list[float]) -> float:
        """The centre of a one-character column (an upright axis title) just left of the value axis's tick labels."""
        font_px = self.style.font_size * self.style.dpi / 72
        widest = max(text_width(tick_text(v, self.style), self.style.font_family, font_px)
                     for v in tick_values(*value_range))
        return self.left - 4 - 3 - widest - 6 - font_px / 2  # tick, pad, labels, gap, half the column

    def table_rules(self) -> list[tuple[float, float, float]]:
        """A data table's 罫線 as (x0, x1, y) in image pixels: above each row and under the last, from the left of
        the series' names to the plot's right edge."""
        cells = self.table_cells()
        names = [(text, x, y) for text, x, y, anchor in cells if anchor == "right"]
        size = self.style.font_size * furniture.SIZE * self.style.dpi / 72
        x0 = min(x - text_width(text, self.style.font_family, size) for text, x, _ in names) - 4
        half = size * furniture.TABLE_LINE / 2
        return [(x0, self.style.width_px - self.right, y - half) for _, _, y in names] + \
            [(x0, self.style.width_px - self.right, names[-1][2] + half)]

    def table_cells(self) -> list[tuple[str, float, float, str]]:
        """A data table's texts as (text, x, y, horizontal anchor) in image pixels, each centred on y: the series'
        names right-aligned left of the plot, each value centred under its category (families with `data_table`)."""
        rows = furniture.table_rows(self.spec, self.style, self.lang)
        n = len(self.spec.data.index)
        frame = self.frame([-0.5, n - 0.5], [0.0, 1.0])
        line = self.style.font_size * furniture.SIZE * self.style.dpi / 72 * furniture.TABLE_LINE
        cells = []
        for k, (name, values) in enumerate(rows):
            y = frame.bottom + self.table_top + (k + 0.5) * line
            cells.append((name, frame.left - 6, y, "right"))
            cells += [(text, frame.px(i, 0.0)[0], y, "center") for i, text in enumerate(values)]
        return cells


@dataclass(frozen=True)
class PlotArea:
    """Where marks were placed: the frame and which axis shows categories; None for round charts."""

    frame: Frame
    x_axis: str  # "category", "value", "columns" (a heatmap's column names), or "hidden" (a radar's, in pixels)
    y_axis: str
    secondary_range: list[float] | None = None
    radial_step: float | None = None
    """a radar's ring step: its values are read against rings, not an axis"""


@dataclass(frozen=True)
class Page:
    """What sits around the plot and the room it takes: text sizes, the furniture lines above and below."""

    spec: ChartSpec
    style: StyleSpec
    lang: str
    chart: ChartFamily
    font_px: float
    label_px: float
    legend_px: float
    column_px: float
    """the widest column name (a heatmap's labels across the bottom)"""
    title: str
    """the chart's title as written: on two lines when one is wider than the image (empty: no title)"""
    above: list[str]
    subtitle: list[str]
    below: list[str]
    furniture_px: float
    above_px: float
    below_px: float

    @classmethod
    def of(cls, spec: ChartSpec, style: StyleSpec, lang: str, chart: ChartFamily) -> Page:
        font_px = style.font_size * style.dpi / 72
        above, below = furniture.above(spec, style, lang), furniture.below(spec, style, lang)
        subtitle = furniture.subtitle(spec, style)
        furniture_px = style.font_size * furniture.SIZE * style.dpi / 72  # its font size, and 1.5 × that a line
        over = above if len(above) >= len(subtitle) else subtitle  # the unit line right, the subtitle left
        above_px, below_px = (len(lines) * furniture_px * 1.5 + (4 if lines else 0) for lines in (over, below))
        above_px += font_px * 0.6 if over else 0  # clear of the top value tick label, which stands half above the plot
        title = two_lines_if_longer(furniture.title(spec, style, lang), style.width_px * 0.96, style.font_family,
                                    font_px * furniture.TITLE_EM) if style.title_loc != "none" else ""
        return cls(spec, style, lang, chart, font_px, title=title,
                   label_px=max(text_width(s, style.font_family, font_px) for s in spec.data.index) + 8,
                   legend_px=max(text_width(c, style.font_family, font_px) for c in spec.data.columns) + 50,
                   column_px=max(text_width(c, style.font_family, font_px) for c in spec.data.columns) + 8,
                   above=above, subtitle=subtitle, below=below, furniture_px=furniture_px, above_px=above_px,
                   below_px=below_px)

    @property
    def legend_columns(self) -> int:
        """Entries a row of a legend above or below the plot holds (its widest entry's width each), at least one."""
        return max(1, int((self.style.width_px - 40) // self.legend_px))

    @property
    def legend_rows_px(self) -> float:
        """The room a legend above or below the plot takes: a row per legend_columns entries (plotly wraps a long
        one; Vega is told the columns), and a little air."""
        rows = math.ceil(len(self.spec.data.columns) / self.legend_columns)
        return self.font_px * (0.6 + LEGEND_ROW_EM * rows)

    @property
    def band_top(self) -> float:
        """How far above the plot the lines over it (unit line, subtitle) start: over small multiples' panel
        titles."""
        return self.above_px + (self.font_px * PANEL_TITLE_EM if self.chart.panels else 0)

    @property
    def legend_top(self) -> float:
        """Where a legend placed at the top starts: under the title, or at the top margin when there is none (it
        once stayed where a title would be, and reached into the plot)."""
        lines = self.title.count("\n") + 1 if self.title else 0
        return 20 + (self.font_px * (2.2 + (lines - 1) * furniture.TITLE_EM * 1.2) if lines else 0)

    def canvas(self, where: str) -> Canvas:
        """The plot area for a legend placed `where` (margins make room for an outside legend), with the category
        labels' rotation: the style's, or steeper until neighbours do not touch."""
        spec, style, font_px, chart = self.spec, self.style, self.font_px, self.chart
        width = style.width_px
        across, across_px = chart.slots(spec), self.column_px if chart.cells else self.label_px
        top = self.legend_top + (self.legend_rows_px if where == "top" else 0) + self.band_top
        left = 30 + font_px * 4 + (self.label_px if chart.horizontal else 0)
        if chart.data_table:  # the table's row names, right-aligned left of the plot
            left = max(left, 14 + max(text_width(c, style.font_family, self.furniture_px) for c in spec.data.columns))
        right = 30 + (font_px * 5 if spec.secondary_series else 0) + (self.legend_px if where == "right" else 0) \
            + (font_px * COLOUR_BAR_EM if chart.cells else 0)
        fit = None
        if not (chart.horizontal and not chart.cells or chart.paired or chart.round or chart.radial):
            slot = (width - left - right) / len(across)
            fit = fit_labels(across, slot, style.font_family, font_px, style.label_rotation)
            if 0 < fit.rotation < 90:  # a slanted first label ends at its tick and reaches left past the axis
                left = max(left, across_px * math.cos(math.radians(fit.rotation)) - slot / 2 + 10)
        rotation = fit.rotation if fit else 0
        labels_px = across_px * math.sin(math.radians(rotation)) + (font_px * 1.3 if fit and fit.lines > 1 else 0)
        table_top = table_px = 0.0
        if chart.data_table:  # under the category labels, in place of the category axis's title
            table_top = 10 + font_px * 1.2 * math.cos(math.radians(rotation)) + labels_px
            table_px = len(spec.data.columns) * self.furniture_px * furniture.TABLE_LINE + 12
            labels_px = table_top + table_px - font_px * 3
        bottom = 30 + font_px * 3 + labels_px + (self.legend_rows_px if where == "bottom" else 0) + self.below_px
        left_title = spec.x_title if chart.horizontal or chart.cells else spec.y_title
        if "\n" in two_lines_if_longer(left_title, style.height_px - top - bottom, style.font_family, font_px):
            left += font_px * 1.3  # its second line
        if chart.radial:  # no axes around it: only its legend and furniture take room
            left, right, bottom = 16, 16 + (self.legend_px if where == "right" else 0), bottom - 10 - font_px * 3
        return Canvas(spec, style, self.lang, left, top, right, bottom, [c.hex for c in style.palette], fit,
                      table_top=table_top)


def finish(spec: ChartSpec, style: StyleSpec, lang: str, where: str,
           predict: Callable[[str, StyleSpec], list[Element]],
           compose: Callable[[str, StyleSpec], tuple[str, list[Element], dict[str, float], list[str]]]) -> Rendered:
    """The steps both SVG renderers share around their own layout, `compose(where, style)` → (SVG, mark boxes, tick
    steps, categories left unlabelled): value labels `predict`ed to collide or shrink are left off before the (slow) layout, not after; an
    upper-left legend over a mark moves to the right; texts are measured from the SVG, checked, and it is rasterised."""
    from renderers.svg import legend_box, rasterise, text_elements

    width, height = style.width_px, style.height_px

    def labels_clear(where: str, style: StyleSpec) -> StyleSpec:
        """The style, less its value labels when they are predicted to collide, shrink or leave the canvas."""
        if style.value_labels:
            predicted = render_checks(predict(where, style), width, height, 0)
            if predicted.overlapping_text or predicted.small_text or predicted.off_canvas_text:
                return style.model_copy(update={"value_labels": False})
        return style

    labelled = style
    style = labels_clear(where, labelled)
    svg, elements, steps, unlabelled = compose(where, style)
    legend = legend_box(svg)
    # a reader must see every mark: a legend inside the plot, or one above or below it that wrapped onto more rows
    # than the margin holds (plotly wraps a long horizontal legend), goes to the right
    if where != "right" and legend and covers_marks([legend], elements):
        style = labels_clear("right", labelled)  # a narrower plot: the labels predicted again (they once collided)
        svg, elements, steps, unlabelled = compose("right", style)
        legend = legend_box(svg)
    elements += [legend] if legend else []
    elements += text_elements(svg, style.font_family)
    table = spec.data
    texts = [*furniture.texts(spec, style, lang), spec.x_title, spec.y_title, *spec.series_unit.values(), *table.index,
             *table.columns]
    checks = render_checks(elements, width, height, len(missing_glyphs(texts, style.font_family)))
    return Rendered(png=rasterise(svg), width=width, height=height, elements=elements, checks=checks,
                    tick_steps=steps, value_labels=style.value_labels, unlabelled=unlabelled)


def callout_arrow(canvas: Canvas, elements: list[Element]) -> tuple[str, float, float, float, float] | None:
    """The callout as (text, tip x, tip y, tail x, tail y) in image pixels: the arrow's tip on the top of the mark
    furniture.callout names, its tail where the text's lower right corner is."""
    target = furniture.callout(canvas.spec, canvas.style)
    if target is None:
        return None
    mark = next(e for e in elements if (e.row, e.col) == target and e.kind in ("bar", "point", "vertex"))
    x0, y0, x1, y1 = mark.bbox
    tip_x, tip_y = (x0 + x1) / 2, y0 if mark.kind == "bar" else (y0 + y1) / 2
    font_px = canvas.style.font_size * canvas.style.dpi / 72
    dx, dy = (em * font_px for em in furniture.CALLOUT_OFFSET_EM)
    return canvas.style.callout, tip_x, tip_y, tip_x - dx, tip_y - dy


# ---------------------------------------------------------------- marks


@dataclass(frozen=True)
class BarSeries:
    """One column's bars: category i spans [i + offset, i + offset + width], values from `base`."""

    col: str
    color: str
    offset: float
    width: float
    base: list[float]
    values: list[float]
    texts: list[str]


@dataclass(frozen=True)
class LineSeries:
    col: str
    color: str
    positions: list[int]
    """each value's category slot (its own panel's for small multiples)"""
    values: list[float]
    texts: list[str]
    on_right: bool
    marked: bool
    """a marker sits on each value (always for dots)"""


@dataclass(frozen=True)
class Cartesian:
    bars: list[BarSeries]
    lines: list[LineSeries]
    area: PlotArea
    elements: list[Element]


def cartesian(canvas: Canvas, bars: bool, stacked: bool = False, horizontal: bool = False,
              dots: bool = False) -> Cartesian:
    """Bars for the primary columns (when `bars`), lines (or dots) for the rest; secondary columns against a
    right-hand axis. Records each mark's box and, when the style prints values, where each label will go."""
    from renderers.charts import family

    spec, style, table = canvas.spec, canvas.style, canvas.spec.data
    chart = family(spec.chart_type)
    n = len(table.index)
    primary = [c for c in table.columns if c not in spec.secondary_series]
    bar_columns = primary if bars else []
    line_columns = [c for c in table.columns if c not in bar_columns]
    bar_values = [table.column(c) for c in bar_columns]
    if chart.mirrored:  # the first column drawn leftwards (downwards), both sides to one scale
        bar_values[0] = [-v for v in bar_values[0]]
        reach = value_range([abs(v) for vs in bar_values for v in vs])[1]
        values_range = [-reach, reach]
    elif stacked:
        values_range = value_range([sum(vs) for vs in zip(*bar_values)])
    else:
        values_range = value_range([v for c in (primary if spec.secondary_series else table.columns)
                                    for v in table.column(c)])
    category_range = [-0.5, len(chart.slots(spec)) - 0.5]
    frame = canvas.frame(*((values_range, [n - 0.5, -0.5]) if horizontal else (category_range, values_range)))
    elements: list[Element] = []
    bar_series: list[BarSeries] = []
    together = stacked or chart.mirrored  # one bar's width per category, not split between the columns
    bar_w = 1.0 if chart.touching else style.bar_width if together else style.bar_width / max(1, len(bar_columns))
    base = [0.0] * n
    for j, (col, values) in enumerate(zip(bar_columns, bar_values)):
        offset = -bar_w / 2 if together or chart.touching else -style.bar_width / 2 + j * bar_w
        texts = [canvas.fmt(abs(v) if chart.mirrored else v, col) for v in values]
        bar_series.append(BarSeries(col, canvas.color(j), offset, bar_w, list(base), values, texts))
        for i, (row, v) in enumerate(zip(table.index, values)):
            a, b = i + offset, i + offset + bar_w
            if horizontal:
                (x0, y0), (x1, y1) = frame.px(base[i], a), frame.px(base[i] + v, b)
            else:
                (x0, y0), (x1, y1) = frame.px(a, base[i]), frame.px(b, base[i] + v)
            box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            elements.append(Element(kind="bar", bbox=box, color=canvas.color(j), row=row, col=col))
            if style.value_labels:
                canvas.value_labels.append(bar_label(canvas, texts[i], box, v, horizontal,
                                                     canvas.color(j) if stacked else None))
        if stacked:
            base = [b + v for b, v in zip(base, values)]
    secondary_range = (value_range([v for c in spec.secondary_series for v in table.column(c)])
                       if spec.secondary_series else None)
    line_series: list[LineSeries] = []
    for j, col in enumerate(line_columns, start=len(bar_columns)):
        values = table.column(col)
        on_right, marked = col in spec.secondary_series, style.markers or dots
        positions = [chart.slot(table.columns.index(col), i, n) for i in range(n)]
        line_series.append(LineSeries(col, canvas.color(j), positions, values, [canvas.fmt(v, col) for v in values],
                                      on_right, marked))
        for x, row, v in zip(positions, table.index, values):
            px, py = frame.px(x, v, secondary_range if on_right else None)
            r = 5 if dots else 3
            elements.append(Element(kind="point" if marked else "vertex", bbox=(px - r, py - r, px + r, py + r),
                                    color=canvas.color(j), row=row, col=col))
            if style.value_labels:  # above the marker, or right above the line where there is none (as plotly sets it)
                lift = r if marked else 0.0
                canvas.value_labels.append(label(canvas, canvas.fmt(v, col), px, py - lift - TEXT_PAD_PX, 0.5, 1))
    axes = ("value", "category") if horizontal else ("category", "value")
    return Cartesian(bar_series, line_series, PlotArea(frame, *axes, secondary_range=secondary_range), elements)


@dataclass(frozen=True)
class Bridge:
    """A waterfall's bars: row i spans [base[i], base[i] + values[i]] at category i, painted colors[i]."""

    base: list[float]
    values: list[float]
    colors: list[str]
    width: float
    texts: list[str]
    area: PlotArea
    elements: list[Element]


def bridge_bases(values: list[float]) -> list[float]:
    """Where each waterfall bar starts: the levels (first, last) at zero, each change at the running total."""
    bases, running = [], 0.0
    for i, v in enumerate(values):
        if i in (0, len(values) - 1):
            bases.append(0.0)
            running = v
        else:
            bases.append(running)
            running += v
    return bases


def bridge(canvas: Canvas) -> Bridge:
    """A waterfall's floating bars, their boxes and (when printed) their labels past each bar's far end."""
    from renderers.charts.family import bridge_kind

    style, table = canvas.style, canvas.spec.data
    col, values, n = table.columns[0], table.column(table.columns[0]), len(table.index)
    base = bridge_bases(values)
    frame = canvas.frame([-0.5, n - 0.5], value_range([edge for b, v in zip(base, values) for edge in (b, b + v)]))
    colors = [canvas.color(bridge_kind(i, n, v)) for i, v in enumerate(values)]
    texts = [canvas.fmt(v, col) for v in values]
    elements = []
    for i, (row, b, v) in enumerate(zip(table.index, base, values)):
        (x0, y0), (x1, y1) = frame.px(i - style.bar_width / 2, b), frame.px(i + style.bar_width / 2, b + v)
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        elements.append(Element(kind="bar", bbox=box, color=colors[i], row=row, col=col))
        if style.value_labels:
            canvas.value_labels.append(bar_label(canvas, texts[i], box, v, False))
    return Bridge(base, values, colors, style.bar_width, texts, PlotArea(frame, "category", "value"), elements)


@dataclass(frozen=True)
class Boxes:
    """Box plots: row i's five numbers (minimum, lower quartile, median, upper quartile, maximum) at category i, its
    box `width` wide in the canvas's first colour, the median across it in the ink that reads on that."""

    stats: list[list[float]]
    width: float
    color: str
    median_color: str
    area: PlotArea
    elements: list[Element]


def boxes(canvas: Canvas) -> Boxes:
    """Each statistic of each box as a measured line end (a vertex at the box's centre line)."""
    table = canvas.spec.data
    frame = canvas.frame([-0.5, len(table.index) - 0.5], value_range([v for row in table.data for v in row]))
    elements = []
    for i, (row, values) in enumerate(zip(table.index, table.data)):
        for col, v in zip(table.columns, values):
            px, py = frame.px(i, v)
            elements.append(Element(kind="vertex", bbox=(px - 3, py - 3, px + 3, py + 3), color=canvas.color(0),
                                    row=row, col=col))
    return Boxes(table.data, canvas.style.bar_width, canvas.color(0), ink(canvas.color(0)),
                 PlotArea(frame, "category", "value"), elements)


@dataclass(frozen=True)
class Layer:
    """One column's band of a stacked area: from `base` up to base + values at each period."""

    col: str
    color: str
    base: list[float]
    values: list[float]

    @property
    def top(self) -> list[float]:
        return [b + v for b, v in zip(self.base, self.values)]


@dataclass(frozen=True)
class Layers:
    layers: list[Layer]
    area: PlotArea
    elements: list[Element]


LAYER_HALF_PX = 2.0  # a layer is measured as a strip this far either side of its period (as matplotlib's)


def end_anchor(i: int, n: int) -> float:
    """Where a label at period i of n is anchored across: the first starts at its period, the last ends at it, the
    rest are centred — a stacked area's bands stop at the first and last periods."""
    return 0.0 if i == 0 else 1.0 if i == n - 1 else 0.5


def layers(canvas: Canvas) -> Layers:
    """A stacked area: each column's band on the ones before it; each (period, column) measured as a strip from the
    band's lower edge to its upper one, its value label predicted mid-band (in the ink that reads on its fill)."""
    table = canvas.spec.data
    n = len(table.index)
    totals = [sum(row) for row in table.data]
    frame = canvas.frame([-0.5, n - 0.5], value_range(totals))
    out, elements, base = [], [], [0.0] * n
    for j, col in enumerate(table.columns):
        layer = Layer(col, canvas.color(j), list(base), table.column(col))
        for i, (row, low, high, v) in enumerate(zip(table.index, layer.base, layer.top, layer.values)):
            (px, y_low), (_, y_high) = frame.px(i, low), frame.px(i, high)
            elements.append(Element(kind="layer", bbox=(px - LAYER_HALF_PX, y_high, px + LAYER_HALF_PX, y_low),
                                    color=layer.color, row=row, col=col))
            if canvas.style.value_labels:  # the first and last inward: the band ends at their periods
                printed = label(canvas, canvas.fmt(v, col), px, (y_low + y_high) / 2, end_anchor(i, n), 0.5)
                canvas.value_labels.append(printed.model_copy(update={"color": ink(layer.color)}))
        out.append(layer)
        base = layer.top
    return Layers(out, PlotArea(frame, "category", "value"), elements)


@dataclass(frozen=True)
class Points:
    frame: Frame
    sides: list[tuple[int, int]]
    """each point's name goes to this (x side, y side) corner (image pixels: -1 left/up, 1 right/down)"""
    elements: list[Element]


def points(canvas: Canvas) -> Points:
    """A scatter: one point per row at (first column, second column), each named beside it; a bubble chart's points
    as large as their third column says (family.bubble_radii)."""
    from renderers.charts.family import bubble_radii

    table, style = canvas.spec.data, canvas.style
    xcol, ycol = table.columns[:2]
    xs, ys = table.column(xcol), table.column(ycol)
    frame = canvas.frame(value_range(xs), value_range(ys))
    plot = min(frame.right - frame.left, frame.bottom - frame.top)
    radii = bubble_radii(table.column(table.columns[2]), plot) if len(table.columns) > 2 else [4.0] * len(xs)
    sides = place_point_labels([frame.px(x, y) for x, y in zip(xs, ys)], table.index, style.font_family,
                               style.font_size * style.dpi / 72, (frame.left, frame.top, frame.right, frame.bottom),
                               radii=radii)
    elements = []
    for row, x, y, r in zip(table.index, xs, ys, radii):
        px, py = frame.px(x, y)
        elements.append(Element(kind="point", bbox=(px - r, py - r, px + r, py + r), color=canvas.color(0), row=row,
                                col=ycol))
    return Points(frame, sides, elements)


@dataclass(frozen=True)
class Cells:
    """A heatmap: rows down the side, columns across; each cell filled on a ramp from HEAT_LOW to `high`."""

    area: PlotArea
    low: float
    high: float
    high_color: str
    elements: list[Element]
    texts: list[str]
    """each cell's printed value, row by row"""


def cells(canvas: Canvas) -> Cells:
    table = canvas.spec.data
    values = [v for row in table.data for v in row]
    low, high = min(values), max(values)
    frame = canvas.frame([-0.5, len(table.columns) - 0.5], [len(table.index) - 0.5, -0.5])
    elements, texts = [], []
    for i, (row, row_values) in enumerate(zip(table.index, table.data)):
        for j, (col, v) in enumerate(zip(table.columns, row_values)):
            (x0, y0), (x1, y1) = frame.px(j - 0.5, i - 0.5), frame.px(j + 0.5, i + 0.5)
            color = ramp(HEAT_LOW, canvas.color(0), (v - low) / (high - low) if high > low else 1.0)
            elements.append(Element(kind="cell", bbox=(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
                                    color=color, row=row, col=col))
            texts.append(canvas.fmt(v, col))
    return Cells(PlotArea(frame, "columns", "category"), low, high, canvas.color(0), elements, texts)


@dataclass(frozen=True)
class Radar:
    """A radar in image pixels: spoke i points up and round clockwise at `angles[i]`; a value v lies v / reach of
    `radius` from `centre`; rings at `rings`; each column a closed polygon through `vertices`."""

    centre: tuple[float, float]
    radius: float
    reach: float
    angles: list[float]
    rings: list[float]
    vertices: dict[str, list[tuple[float, float]]]
    colors: dict[str, str]
    area: PlotArea
    elements: list[Element]
    top_clearance: float = 0.0  # more room above the top spoke's end: a ring's value is written there

    def at(self, angle: float, value: float) -> tuple[float, float]:
        r = value / self.reach * self.radius
        return self.centre[0] + r * math.sin(angle), self.centre[1] - r * math.cos(angle)

    def spoke_labels(self, labels: list[str], gap: float) -> list[tuple[str, float, float, float, float]]:
        """Each category's name past its spoke's end as (text, x, y, x anchor, y anchor): beside it left or right,
        above the top spoke, below the bottom one."""
        out = []
        for label, angle in zip(labels, self.angles):
            x, y = self.at(angle, self.reach)
            across, down = math.sin(angle), -math.cos(angle)
            beside = abs(across) > 0.2
            x_anchor = (0.0 if across > 0 else 1.0) if beside else 0.5
            y_anchor = 0.5 if beside else (1.0 if down < 0 else 0.0)
            away = gap + (self.top_clearance if not beside and down < 0 else 0.0)
            out.append((label, x + away * across, y + away * down, x_anchor, y_anchor))
        return out

    def ring_labels(self, style: StyleSpec) -> list[tuple[str, float, float]]:
        """Each ring's value just right of the top spoke, as (text, x, y): the scale the values are read on."""
        return [(tick_text(v, style), *self.at(0.0, v)) for v in self.rings]


RADAR_LABEL_EM = 2.2  # room past the spokes' ends for the categories' names, above and below, in font sizes
RING_SPACING_EM = 1.2  # closer rings (a radar squeezed beside a legend) write their values over each other
RADAR_NAME_GAP_PX = 6.0  # between a spoke's end and its name (a ring's value sits half that right of the top spoke)


def radar(canvas: Canvas) -> Radar:
    """A radar's geometry: the largest circle the plot area holds with room for the spokes' names, rings at the
    value axis's ticks, each value a marker (or a line's vertex) with its predicted label just outside it."""
    style, table = canvas.style, canvas.spec.data
    font_px = style.font_size * style.dpi / 72
    frame = canvas.frame([canvas.left, style.width_px - canvas.right],  # data coordinates are image pixels
                         [style.height_px - canvas.bottom, canvas.top])
    widest = max(text_width(label, style.font_family, font_px) for label in table.index)
    radius = max(20.0, min((frame.right - frame.left) / 2 - widest - 10,
                           (frame.bottom - frame.top) / 2 - font_px * RADAR_LABEL_EM))
    centre = ((frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2)
    reach = value_range([v for row in table.data for v in row])[1]
    n = len(table.index)
    angles = [2 * math.pi * i / n for i in range(n)]
    intervals = next((k for k in range(6, 1, -1) if nice_step(0.0, reach, k) / reach * radius
                      >= font_px * RING_SPACING_EM), 2)  # the usual step, coarser only where rings would crowd
    rings = [v for v in tick_values(0.0, reach, intervals) if v > 0]
    # the outer ring's value stands half a line above its ring: the top name starts clear of it
    clearance = max(0.0, font_px * 0.6 - (reach - rings[-1]) / reach * radius) if rings else 0.0
    area = PlotArea(frame, "hidden", "hidden", radial_step=nice_step(0.0, reach, intervals))
    shape = Radar(centre, radius, reach, angles, rings, {}, {}, area, [], clearance)
    elements = [Element(kind="origin", bbox=(centre[0], centre[1], centre[0], centre[1]))]
    marked = style.markers
    for j, col in enumerate(table.columns):
        color = canvas.color(j)
        points = [shape.at(a, v) for a, v in zip(angles, table.column(col))]
        shape.vertices[col], shape.colors[col] = points, color
        for row, angle, (x, y), v in zip(table.index, angles, points, table.column(col)):
            r = 4 if marked else 3
            elements.append(Element(kind="point" if marked else "vertex", bbox=(x - r, y - r, x + r, y + r),
                                    color=color, row=row, col=col))
            if style.value_labels:  # just outside the vertex, along its spoke
                away = r + 3 + font_px * 0.6
                canvas.value_labels.append(label(canvas, canvas.fmt(v, col), x + away * math.sin(angle),
                                                 y - away * math.cos(angle), 0.5, 0.5))
    for content, x, y, x_anchor, y_anchor in shape.spoke_labels(table.index, RADAR_NAME_GAP_PX):
        canvas.fixed_texts.append(label(canvas, content, x, y, x_anchor, y_anchor))
    canvas.fixed_texts.extend(label(canvas, content, x + RADAR_NAME_GAP_PX / 2, y, 0.0, 0.5)
                              for content, x, y in shape.ring_labels(style))
    return Radar(centre, radius, reach, angles, rings, shape.vertices, shape.colors, shape.area, elements, clearance)


def slices(canvas: Canvas) -> list[Element]:
    """A pie's slices (measured by colour, not by box: a slice has no box worth stating)."""
    table = canvas.spec.data
    return [Element(kind="slice", color=canvas.color(i), row=row, col=table.columns[0])
            for i, row in enumerate(table.index)]


# ---------------------------------------------------------------- value labels


def label(canvas: Canvas, text: str, x: float, y: float, x_anchor: float, y_anchor: float,
          fit: tuple[float, float] | None = None) -> Element:
    """A value label's box: `(x_anchor, y_anchor)` ∈ [0, 1]² is the point of the box at (x, y), e.g. (0.5, 1) for a
    label centred above y; shrunk to fit inside `fit` (width, height) when given."""
    style = canvas.style
    size = style.font_size * style.dpi / 72
    ascent, descent = pil_font(style.font_family, size).getmetrics()
    w, h = text_width(text, style.font_family, size), ascent + descent
    scale = max(0.0, min(1.0, fit[0] / w, fit[1] / h)) if fit else 1.0
    w, h = w * scale, h * scale
    x0, y0 = x - x_anchor * w, y - y_anchor * h
    return Element(kind="text", bbox=(x0, y0, x0 + w, y0 + h), text=text, size_px=size * scale)


def bar_label(canvas: Canvas, text: str, bar: tuple[float, float, float, float], value: float, horizontal: bool,
              inside_of: str | None = None) -> Element:
    """Past the bar's end, or inside at its end (a stack: in the ink that reads on `inside_of`, its fill), shrunk to
    fit (plotly's insidetextanchor "end" with constraintext, whose inside text contrasts with its bar)."""
    x0, y0, x1, y1 = bar
    if inside_of:
        fit = (x1 - x0 - 2 * TEXT_PAD_PX, y1 - y0 - 2 * TEXT_PAD_PX)
        inside = (label(canvas, text, x1 - TEXT_PAD_PX, (y0 + y1) / 2, 1, 0.5, fit) if horizontal
                  else label(canvas, text, (x0 + x1) / 2, y0 + TEXT_PAD_PX, 0.5, 0, fit))
        return inside.model_copy(update={"color": ink(inside_of)})
    if horizontal:
        return (label(canvas, text, x1 + TEXT_PAD_PX, (y0 + y1) / 2, 0, 0.5) if value >= 0
                else label(canvas, text, x0 - TEXT_PAD_PX, (y0 + y1) / 2, 1, 0.5))
    return (label(canvas, text, (x0 + x1) / 2, y0 - TEXT_PAD_PX, 0.5, 1) if value >= 0
            else label(canvas, text, (x0 + x1) / 2, y1 + TEXT_PAD_PX, 0.5, 0))
