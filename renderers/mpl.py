"""matplotlib renderer: every chart family, drawn on a bare Figure (no pyplot state), measured after one draw."""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Callable
from functools import partial

import numpy as np
from matplotlib import rc_context, rcParams
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import ScaledTranslation
from PIL import Image

from renderers import furniture
from renderers.checks import covers_marks, render_checks
from renderers.colour import ink
from renderers.fonts import font_path, text_width
from renderers.layout import LabelFit, fit_labels, place_point_labels, slice_name, two_lines_if_longer
from renderers.mpl_layout import OnePassLayout
from renderers.numbers import SCALES, format_number, nice_step
from renderers.pinned import LAYER_HALF_PX, RULE_COLOR, bridge_bases, end_anchor, tick_text, tick_values, value_range
from schemas.chart import ChartSpec
from schemas.render import Element, Rendered
from schemas.style import NumberFormat, StyleSpec

# (artist or data point, kind, row, col, colour, axes)
Mark = tuple[object, str, str, str, str, Axes]
POINT_RADIUS_PX = 3.0
SLOT_SHARE = 0.75  # the axes take about this share of the figure's width once laid out
# rcParams are process-global: two threads drawing at once would lay out each other's figures (seen under Prefect's
# thread runner). Processes render in parallel; threads take turns.
_DRAW_LOCK = threading.Lock()


def _tick_formatter(style: StyleSpec, distance: bool = False) -> FuncFormatter:
    """`distance`: ticks left of zero are written without their sign (a pyramid's left side)."""
    sep = "" if style.number_format is NumberFormat.PLAIN else ","
    scales = SCALES if style.number_format is NumberFormat.MAN_OKU else ()

    def tick(v: float, _pos) -> str:
        v = abs(v) if distance else v
        word, scale = next(((w, s) for w, s in scales if abs(v) >= s), ("", 1.0))
        return f"{v / scale:{sep}.3f}".rstrip("0").rstrip(".") + word

    return FuncFormatter(tick)


def _color(style: StyleSpec, i: int) -> str:
    return style.palette[i % len(style.palette)].hex


def _bar_labels(ax: Axes, container, values, col: str, spec: ChartSpec, style: StyleSpec, lang: str,
                inside_of: str | None = None) -> None:
    """Each bar's value past its end, or centred inside it (a stack) in the ink that reads on `inside_of`, its fill."""
    labels = [format_number(v, spec.decimals_of(col), style, lang) for v in values]
    ax.bar_label(container, labels=labels, label_type="center" if inside_of else "edge", padding=2,
                 fontsize=style.font_size * 0.85, color=ink(inside_of) if inside_of else "black")


def bars(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str, horizontal: bool, stacked: bool) -> list[Mark]:
    """Bars side by side, stacked, filling their bins (a histogram) or back to back (a pyramid: the first column
    leftwards, its ticks read as distances from zero)."""
    from renderers.charts import family

    chart = family(spec.chart_type)
    table = spec.data
    columns = [c for c in table.columns if c not in spec.secondary_series]
    x = np.arange(len(table.index))
    width = 1.0 if chart.touching else style.bar_width if stacked or chart.mirrored else style.bar_width / len(columns)
    edges = {"edgecolor": "white", "linewidth": 1} if chart.touching else {}
    bottom = np.zeros(len(x))
    marks: list[Mark] = []
    for j, col in enumerate(columns):
        values = np.array(table.column(col))
        drawn = -values if chart.mirrored and j == 0 else values
        offset = 0.0 if stacked or chart.mirrored else (j - (len(columns) - 1) / 2) * width
        color = _color(style, j)
        if horizontal:
            container = ax.barh(x + offset, drawn, height=width, left=bottom, color=color, label=col, **edges)
        else:
            container = ax.bar(x + offset, drawn, width=width, bottom=bottom, color=color, label=col, **edges)
        if style.value_labels:
            _bar_labels(ax, container, values, col, spec, style, lang, inside_of=color if stacked else None)
        marks += [(p, "bar", row, col, color, ax) for p, row in zip(container.patches, table.index)]
        if stacked:
            bottom = bottom + values
    if chart.mirrored:  # both sides to one scale (the pinned renderers'), so left and right compare by length
        reach = value_range([v for c in columns for v in table.column(c)])[1]
        (ax.set_xlim if horizontal else ax.set_ylim)(-reach, reach)
    if chart.mirrored or any(v < 0 for c in columns for v in table.column(c)):  # the zero line bars leave from
        (ax.axvline if horizontal else ax.axhline)(0, color="#333333", linewidth=0.8)
    category_axis = ax.yaxis if horizontal else ax.xaxis
    category_axis.set_ticks(x, labels=table.index)
    if horizontal:
        ax.invert_yaxis()  # first category on top, the order people read
    return marks


def lines(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str, fill: bool, columns: list[str] | None = None,
          color_offset: int = 0, dots: bool = False, stems: bool = False) -> list[Mark]:
    """One line per column (all of them unless `columns` are named), optionally filled down to zero; `dots`: the
    points alone, always marked (a dot plot); `stems`: each dot on a thin stem from zero (a lollipop)."""
    from renderers.charts import family

    chart, table = family(spec.chart_type), spec.data
    columns = table.columns if columns is None else columns
    n = len(table.index)
    marks: list[Mark] = []
    for j, col in enumerate(columns):
        x = np.array([chart.slot(table.columns.index(col), i, n) for i in range(n)])  # its own panel's, if any
        values = table.column(col)
        color = _color(style, j + color_offset)
        marked = style.markers or dots
        if stems:
            ax.vlines(x, 0, values, color=color, linewidth=2)
        ax.plot(x, values, color=color, marker="o" if marked else None, markersize=7 if dots else 4, label=col,
                linestyle="none" if dots else "-")
        if fill:
            ax.fill_between(x, values, alpha=0.25, color=color)
        if style.value_labels:
            for xi, v in zip(x, values):
                ax.annotate(format_number(v, spec.decimals_of(col), style, lang), (xi, v), textcoords="offset points",
                            xytext=(0, 5), ha="center", fontsize=style.font_size * 0.8)
        kind = "point" if marked else "vertex"
        marks += [((xi, v), kind, row, col, color, ax) for xi, v, row in zip(x, values, table.index)]
    if chart.panels:
        _panels(ax, spec, style)
    else:
        ax.set_xticks(np.arange(n), labels=table.index)
    return marks


def _panels(ax: Axes, spec: ChartSpec, style: StyleSpec) -> None:
    """Small multiples' frame: each panel's title above it, a thin rule between panels, the slots' full width."""
    from renderers.charts import family
    from renderers.charts.family import PANEL_GAP

    chart, table = family(spec.chart_type), spec.data
    n = len(table.index)
    along = ax.get_xaxis_transform()
    for j, col in enumerate(table.columns):
        first, last = chart.slot(j, 0, n), chart.slot(j, n - 1, n)
        ax.annotate(col, ((first + last) / 2, 1), xycoords=along, xytext=(0, 4), textcoords="offset points",
                    ha="center", va="bottom", fontsize=style.font_size, annotation_clip=False)
        if j:
            ax.axvline(first - (PANEL_GAP + 1) / 2, color=RULE_COLOR, linewidth=0.8)
    ax.set_xlim(-0.5, len(chart.slots(spec)) - 0.5)


def bridge(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str) -> list[Mark]:
    """A waterfall: the levels from zero, each change floating from the running total (pinned.bridge_bases), rises
    and falls in their own colours, thin connectors from each bar's end to the next bar."""
    from renderers.charts.family import bridge_kind

    table = spec.data
    col, values, n = table.columns[0], table.column(table.columns[0]), len(table.index)
    base = bridge_bases(values)
    colors = [_color(style, bridge_kind(i, n, v)) for i, v in enumerate(values)]
    x = np.arange(n)
    container = ax.bar(x, values, width=style.bar_width, bottom=base, color=colors)
    for i in range(n - 1):
        end = base[i] + values[i]
        ax.plot([i + style.bar_width / 2, i + 1 - style.bar_width / 2], [end, end], color="#888888", linewidth=0.6)
    if style.value_labels:
        _bar_labels(ax, container, values, col, spec, style, lang)
    reach = value_range([edge for b, v in zip(base, values) for edge in (b, b + v)])
    ax.set_ylim(*reach)  # the pinned renderers' range: room above the highest end for its label
    if reach[0] < 0:
        ax.axhline(0, color="#333333", linewidth=0.8)
    ax.set_xticks(x, labels=table.index)
    return [(p, "bar", row, col, c, ax) for p, row, c in zip(container.patches, table.index, colors)]


def boxes(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str) -> list[Mark]:
    """Box plots from each row's five numbers (no raw values: matplotlib's bxp draws given statistics), one colour,
    the median a line across the box in the ink that reads on it; each statistic is measured where its line is."""
    table = spec.data
    x = np.arange(len(table.index))
    color = _color(style, 0)
    stats = [{"whislo": lo, "q1": q1, "med": med, "q3": q3, "whishi": hi, "label": row}
             for row, (lo, q1, med, q3, hi) in zip(table.index, table.data)]
    ax.bxp(stats, positions=x, widths=style.bar_width, showfliers=False, patch_artist=True,
           boxprops={"facecolor": color, "edgecolor": "#333333"}, medianprops={"color": ink(color), "linewidth": 2},
           whiskerprops={"color": "#333333"}, capprops={"color": "#333333"})
    ax.set_xticks(x, labels=table.index)
    return [((xi, v), "vertex", row, col, color, ax) for xi, row, values in zip(x, table.index, table.data)
            for col, v in zip(table.columns, values)]


def radar(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str) -> list[Mark]:
    """A radar in its own square data space (centre 0, the value axis's reach at radius 1, spoke 0 up, clockwise):
    grey rings at the value ticks, labelled up the top spoke; each column a closed, lightly filled polygon."""
    table = spec.data
    reach = value_range([v for row in table.data for v in row])[1]
    n = len(table.index)
    angles = [2 * math.pi * i / n for i in range(n)]

    def at(angle: float, value: float) -> tuple[float, float]:
        return value / reach * math.sin(angle), value / reach * math.cos(angle)

    for ring in [v for v in tick_values(0.0, reach) if v > 0]:
        ax.plot(*zip(*[at(a, ring) for a in angles + angles[:1]]), color="#cccccc", linewidth=0.8)
        ax.text(0.02, ring / reach, tick_text(ring, style), ha="left", va="center", fontsize=style.font_size)
    for label, angle in zip(table.index, angles):
        ax.plot(*zip((0, 0), at(angle, reach)), color="#cccccc", linewidth=0.8)
        x, y = at(angle, reach * 1.08)
        beside = abs(math.sin(angle)) > 0.2
        ax.text(x, y, label, fontsize=style.font_size,
                ha=("left" if x > 0 else "right") if beside else "center",
                va="center" if beside else ("bottom" if y > 0 else "top"))
    marks: list[Mark] = [((0.0, 0.0), "origin", None, None, None, ax)]
    for j, col in enumerate(table.columns):
        color = _color(style, j)
        points = [at(a, v) for a, v in zip(angles, table.column(col))]
        closed = points + points[:1]
        ax.plot(*zip(*closed), color=color, linewidth=2, marker="o" if style.markers else None, markersize=5,
                label=col)
        ax.fill(*zip(*closed), color=color, alpha=0.15, linewidth=0)
        if style.value_labels:  # just outside each vertex, along its spoke
            away = style.font_size * 0.6 + 5
            for (x, y), angle, v in zip(points, angles, table.column(col)):
                ax.annotate(format_number(v, spec.decimals_of(col), style, lang), (x, y), textcoords="offset points",
                            xytext=(away * math.sin(angle), away * math.cos(angle)), ha="center", va="center",
                            fontsize=style.font_size * 0.8)
        kind = "point" if style.markers else "vertex"
        marks += [(p, kind, row, col, color, ax) for p, row in zip(points, table.index)]
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.25, 1.25)
    ax.set_aspect("equal")
    ax.xaxis.set_visible(False)
    ax.yaxis.set_visible(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return marks


def layers(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str) -> list[Mark]:
    """A stacked area: each column's band laid on the ones before it, opaque, its value printed mid-band; a value is
    the band's thickness, so each (period, column) is measured as a strip from its lower edge to its upper one."""
    table = spec.data
    x = np.arange(len(table.index))
    base = np.zeros(len(x))
    marks: list[Mark] = []
    for j, col in enumerate(table.columns):
        values = np.array(table.column(col))
        top = base + values
        color = _color(style, j)
        ax.fill_between(x, base, top, color=color, label=col, linewidth=0)
        if style.value_labels:  # the first and last inward: the band ends at their periods
            for xi, b, v in zip(x, base, values):
                ha = {0.0: "left", 1.0: "right"}.get(end_anchor(int(xi), len(x)), "center")
                ax.text(xi, b + v / 2, format_number(v, spec.decimals_of(col), style, lang), ha=ha,
                        va="center", color=ink(color), fontsize=style.font_size * 0.8)
        marks += [((xi, b, t), "layer", row, col, color, ax) for xi, b, t, row in zip(x, base, top, table.index)]
        base = top
    ax.set_xticks(x, labels=table.index)
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.set_ylim(0, base.max() * 1.12)
    return marks


def pie(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str, donut: bool) -> list[Mark]:
    table = spec.data
    col = table.columns[0]
    values = table.column(col)
    colors = [_color(style, i) for i in range(len(values))]
    size = style.font_size * 0.9
    names = [slice_name(row, style.font_family, size * style.dpi / 72, style.width_px) for row in table.index]
    labels = [
        f"{name}\n{format_number(v, spec.decimals, style, lang)}{spec.unit}" if style.value_labels else name
        for name, v in zip(names, values)
    ]
    wedges, _texts = ax.pie(values, labels=labels, colors=colors, startangle=90, counterclock=False,
                            wedgeprops={"width": 0.45} if donut else None, textprops={"fontsize": size})
    ax.set_aspect("equal")
    return [(w, "slice", row, col, c, ax) for w, row, c in zip(wedges, table.index, colors)]


def heatmap(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str) -> list[Mark]:
    """Cells filled on the ramp pinned.cells computes (so every renderer paints the same colours), each value printed
    in ink that reads on its fill, a colour bar beside."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.patches import Rectangle

    from renderers.colour import ramp
    from renderers.pinned import HEAT_LOW

    table = spec.data
    values = [v for row in table.data for v in row]
    low, high = min(values), max(values)
    marks: list[Mark] = []
    for i, (row, row_values) in enumerate(zip(table.index, table.data)):
        for j, (col, v) in enumerate(zip(table.columns, row_values)):
            color = ramp(HEAT_LOW, _color(style, 0), (v - low) / (high - low) if high > low else 1.0)
            cell = Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=color, edgecolor="white", linewidth=1)
            ax.add_patch(cell)
            ax.text(j, i, format_number(v, spec.decimals_of(col), style, lang), ha="center", va="center",
                    color=ink(color), fontsize=style.font_size * 0.85)
            marks.append((cell, "cell", row, col, color, ax))
    ax.set_xlim(-0.5, len(table.columns) - 0.5)
    ax.set_ylim(len(table.index) - 0.5, -0.5)  # first row on top, as a table reads
    ax.set_xticks(range(len(table.columns)), labels=table.columns)
    ax.set_yticks(range(len(table.index)), labels=table.index)
    ax.set_ylabel(spec.x_title)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    scale = ScalarMappable(Normalize(low, high), LinearSegmentedColormap.from_list("ramp", [HEAT_LOW, _color(style, 0)]))
    # an inset of the axes, so the one-pass layout measures it with them and keeps it clear of everything else
    bar = ax.figure.colorbar(scale, cax=ax.inset_axes((1.02, 0.0, 0.025, 1.0)))
    bar.ax.yaxis.set_major_formatter(_tick_formatter(style))
    bar.outline.set_visible(False)
    return marks


def scatter(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str) -> list[Mark]:
    from renderers.charts.family import bubble_radii

    table = spec.data
    xcol, ycol = table.columns[:2]
    color = _color(style, 0)
    xs, ys = table.column(xcol), table.column(ycol)
    plot = SLOT_SHARE * min(style.width_px, style.height_px)  # about the plot's shorter side, before layout
    radii = bubble_radii(table.column(table.columns[2]), plot) if len(table.columns) > 2 else [3.0] * len(xs)
    ax.scatter(xs, ys, color=color, s=[(2 * r * 72 / style.dpi) ** 2 for r in radii], edgecolors="white",
               linewidths=1 if len(table.columns) > 2 else 0)
    ax.set_xlim(*value_range(xs))  # the pinned renderers' ranges: room past the largest values for a bubble
    ax.set_ylim(*value_range(ys))
    ax.set_xlabel(spec.x_title or xcol)
    ax.set_ylabel(spec.y_title or ycol)
    fig = ax.figure
    # where the points land, measured before layout (a layout pass costs half a draw; the title and legend change
    # it anyway): names are placed apart in those proportions, and the render checks catch any that still collide
    ax.get_xlim(), ax.get_ylim()
    height = fig.canvas.get_width_height()[1]
    points = [(float(px), float(height - py)) for px, py in ax.transData.transform(list(zip(xs, ys)))]
    size_pt = style.font_size * 0.8
    sides = place_point_labels(points, table.index, style.font_family, size_pt * fig.dpi / 72,
                               pixel_box(ax.get_window_extent(), height), offset_px=4 * fig.dpi / 72, radii=radii)
    for name, x, y, (sx, sy), r in zip(table.index, xs, ys, sides, radii):
        away = 4 + r * 72 / style.dpi * 0.7  # past the bubble's edge, diagonally
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(away * sx, -away * sy),
                    ha="left" if sx > 0 else "right", va="bottom" if sy < 0 else "top", fontsize=size_pt)
    return [((x, y, r), "point", row, ycol, color, ax) for x, y, row, r in zip(xs, ys, table.index, radii)]


def two_axes(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str, bars_left: bool) -> list[Mark]:
    """The primary columns on the left axis (bars, or lines), the secondary ones as lines against a right-hand axis
    in their own unit."""
    primary = [c for c in spec.data.columns if c not in spec.secondary_series]
    marks = bars(ax, spec, style, lang, horizontal=False, stacked=False) if bars_left else \
        lines(ax, spec, style, lang, fill=False, columns=primary)
    right = ax.twinx()
    marks += lines(right, spec, style, lang, fill=False, columns=spec.secondary_series, color_offset=len(primary))
    right.set_ylabel(spec.series_unit[spec.secondary_series[0]])
    right.yaxis.set_major_formatter(_tick_formatter(style))
    return marks


def _furniture(fig: Figure, ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str) -> None:
    """The unit line just above the plot's top right corner (the title is lifted over it), source and note as the
    figure's supxlabel, left-aligned: texts the layout keeps the axes, titles and legends clear of."""
    from renderers.charts import family

    size = style.font_size * furniture.SIZE
    top, bottom = furniture.above(spec, style, lang), furniture.below(spec, style, lang)
    lift = 3 + (style.font_size * 1.6 if family(spec.chart_type).panels else 0)  # over small multiples' panel titles
    if top:
        ax.annotate("\n".join(top), xy=(1, 1), xycoords="axes fraction", xytext=(0, lift), textcoords="offset points",
                    ha="right", va="bottom", fontsize=size)
    subtitle = furniture.subtitle(spec, style)
    if subtitle:
        ax.annotate("\n".join(subtitle), xy=(0, 1), xycoords="axes fraction", xytext=(0, lift),
                    textcoords="offset points", ha="left", va="bottom", fontsize=size)
    if bottom:
        fig.supxlabel("\n".join(bottom), x=6 / style.width_px, ha="left", multialignment="left", fontsize=size)


def _decorate(fig: Figure, ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str, chart) -> LabelFit | None:
    """Title, axis titles the drawing left empty, value formatter, grid, rotation and legend; returns how the labels
    along the bottom are written, fitted to the slots the axes are expected to leave them."""
    round_chart, horizontal = chart.round, chart.horizontal
    if style.title_loc != "none":
        lines = max(len(furniture.above(spec, style, lang)), len(furniture.subtitle(spec, style)))
        lifted = lines * style.font_size * furniture.SIZE * 1.4 \
            + (style.font_size * 1.6 if chart.panels else 0)  # over the unit line, subtitle and panel titles
        size = style.font_size * furniture.TITLE_EM
        title = two_lines_if_longer(furniture.title(spec, style, lang), ax.get_window_extent().width, style.font_family,
                                    size * fig.dpi / 72)
        ax.set_title(title, loc=style.title_loc, fontsize=size, pad=rcParams["axes.titlepad"] + lifted)
    if round_chart:
        return None
    if chart.radial:  # its scale is on its rings, its categories at its spokes' ends
        if style.legend != "none":
            _legend(fig, ax, style, style.legend)
        return None
    if not chart.cells:  # a heatmap has no value axis: its colour bar and printed values carry the scale
        category_label, value_label = (ax.set_ylabel, ax.set_xlabel) if horizontal else (ax.set_xlabel, ax.set_ylabel)
        if not (ax.get_xlabel() or ax.get_ylabel()):  # a drawing that titles its own axes (scatter) keeps them
            category_label("" if chart.data_table else spec.x_title)  # a data table sits where the title would
            vertical = furniture.vertical_title(spec, style)
            if vertical:  # 縦書き: upright characters, one a line
                ax.set_ylabel(vertical, rotation=0, ha="center", va="center", linespacing=1.0, labelpad=style.font_size)
            else:
                box = ax.get_window_extent()
                value_label(two_lines_if_longer(spec.y_title, box.width if horizontal else box.height, style.font_family,
                                       style.font_size * fig.dpi / 72))
        value_axis = ax.xaxis if horizontal else ax.yaxis
        value_axis.set_major_formatter(_tick_formatter(style, distance=chart.mirrored))
        ax.grid(style.grid, axis="x" if horizontal else "y", linewidth=0.5, alpha=0.6)
        ax.set_axisbelow(True)
    fitted = None
    if chart.cells or not horizontal:
        fitted = _category_fit(spec, style, chart, _expected_slot(style, chart.slots(spec)))
        _set_category_labels(ax, chart, fitted)
    if style.legend != "none" and chart.keyed:
        _legend(fig, ax, style, style.legend)
    return fitted


def _data_table(ax: Axes, spec: ChartSpec, style: StyleSpec, lang: str, fit: LabelFit) -> list:
    """The values in a table under the category labels (families with `data_table`), as pinned.Canvas.table_cells
    places them: the series' names right-aligned left of the plot, each value centred under its category."""
    size = style.font_size * furniture.SIZE
    turn = math.radians(fit.rotation)
    widest = max(text_width(label, style.font_family, style.font_size) for label in spec.data.index)
    top = rcParams["xtick.major.size"] + rcParams["xtick.major.pad"] + 6 \
        + style.font_size * 1.2 * fit.lines * math.cos(turn) + widest * math.sin(turn)  # below the labels, in points
    along = ax.get_xaxis_transform()  # x in data, y in axes fractions
    rows = furniture.table_rows(spec, style, lang)
    gap = 6 * 72 / style.dpi  # between the names and the plot
    reach = gap + 4 + max(text_width(name, style.font_family, size) for name, _ in rows)

    def at(x: float, dx: float, dy: float):  # a point of the axes' bottom edge, moved by points
        return ax.transAxes + ScaledTranslation(dx / 72, dy / 72, ax.figure.dpi_scale_trans), (x, 0)

    texts = []
    for k in range(len(rows) + 1):  # 罫線: above each row and under the last
        down = -(top + k * size * furniture.TABLE_LINE)
        (left, start), (right, end) = at(0, -reach, down), at(1, 0, down)
        texts.append(ax.annotate("", end, xycoords=right, xytext=start, textcoords=left, annotation_clip=False,
                                 arrowprops={"arrowstyle": "-", "color": RULE_COLOR, "linewidth": 0.6,
                                             "shrinkA": 0, "shrinkB": 0}))
    for k, (name, values) in enumerate(rows):
        down = -(top + (k + 0.5) * size * furniture.TABLE_LINE)
        texts.append(ax.annotate(name, (0, 0), xycoords="axes fraction", xytext=(-gap, down),
                                 textcoords="offset points", ha="right", va="center", fontsize=size,
                                 annotation_clip=False))
        texts += [ax.annotate(text, (i, 0), xycoords=along, xytext=(0, down), textcoords="offset points",
                              ha="center", va="center", fontsize=size, annotation_clip=False)
                  for i, text in enumerate(values)]
    return texts


def _callout(marks: list[Mark], spec: ChartSpec, style: StyleSpec) -> None:
    """The callout (過去最高) above and left of the mark furniture.callout names, an arrow to its top."""
    target = furniture.callout(spec, style)
    if target is None:
        return
    artist, kind, _row, _col, _color, ax = next(m for m in marks if (m[2], m[3]) == target and m[1] != "layer")
    tip = (artist.get_x() + artist.get_width() / 2, artist.get_y() + artist.get_height()) if kind == "bar" else artist
    low, high = ax.get_ylim()
    ax.set_ylim(low, max(high, tip[1] + 0.12 * (high - low)))  # room above the record, as the pinned ranges leave
    dx, dy = (em * style.font_size for em in furniture.CALLOUT_OFFSET_EM)
    ax.annotate(style.callout, tip, xytext=(-dx, dy), textcoords="offset points", ha="right", va="bottom",
                fontsize=style.font_size * furniture.SIZE, annotation_clip=False,
                arrowprops={"arrowstyle": "-|>", "color": "#333333", "linewidth": 0.8, "shrinkA": 0, "shrinkB": 1,
                            "mutation_scale": 8})


def _expected_slot(style: StyleSpec, across: list[str]) -> float:
    """A category's width before layout: the axes take about SLOT_SHARE of the figure's width."""
    return SLOT_SHARE * style.width_px / max(1, len(across))


def _category_fit(spec: ChartSpec, style: StyleSpec, chart, slot_px: float) -> LabelFit:
    """How the labels along the bottom are written in slots `slot_px` wide (a scatter's value ticks: turned as the
    style says)."""
    if chart.paired:
        return LabelFit(tuple(spec.data.index), style.label_rotation)
    return fit_labels(chart.slots(spec), slot_px, style.font_family, style.font_size * style.dpi / 72,
                      style.label_rotation)


def _set_category_labels(ax: Axes, chart, fit: LabelFit) -> None:
    if not chart.paired:
        ax.set_xticks(range(len(fit.texts)), labels=fit.texts)
    for label in ax.get_xticklabels() if fit.rotation else ():
        label.set_rotation(fit.rotation)
        label.set_horizontalalignment("center" if fit.rotation == 90 else "right")


def _legend(fig: Figure, ax: Axes, style: StyleSpec, where: str) -> None:
    """A legend of every series (twin axes too), inside the plot ("upper left") or outside it."""
    handles, labels = [], []
    for axes in fig.axes:
        h, l = axes.get_legend_handles_labels()
        handles, labels = handles + h, labels + l
    if len(labels) < 2:
        return
    if where == "upper left":
        ax.legend(handles, labels, loc="upper left", fontsize=style.font_size * 0.85)
    else:
        outside = {"right": "outside right upper", "top": "outside upper center", "bottom": "outside lower center"}
        ncols = 1 if where == "right" else min(len(labels), 4)
        fig.legend(handles, labels, loc=outside[where], ncols=ncols, fontsize=style.font_size * 0.85)


def legend_elements(fig: Figure, height: int) -> list[Element]:
    legends = [a.get_legend() for a in fig.axes if a.get_legend()] + list(fig.legends)
    return [Element(kind="legend", bbox=pixel_box(legend.get_window_extent(), height)) for legend in legends]


def pixel_box(extent, height: int) -> tuple[float, float, float, float]:
    return (float(extent.x0), float(height - extent.y1), float(extent.x1), float(height - extent.y0))


def _mark_elements(marks: list[Mark], height: int) -> list[Element]:
    elements = []
    for artist, kind, row, col, color, ax in marks:
        if kind in ("point", "vertex", "origin"):
            px, py = ax.transData.transform(artist[:2])
            r = artist[2] if len(artist) > 2 else POINT_RADIUS_PX if kind != "origin" else 0.0  # a bubble's own
            box = (float(px - r), float(height - py - r), float(px + r), float(height - py + r))
        elif kind == "layer":
            x, low, high = artist
            (px, py0), (_, py1) = ax.transData.transform([(x, low), (x, high)])
            box = (float(px - LAYER_HALF_PX), float(height - py1), float(px + LAYER_HALF_PX), float(height - py0))
        else:
            box = pixel_box(artist.get_window_extent(), height)
        elements.append(Element(kind=kind, bbox=box, color=color, row=row, col=col))
    return elements


def _visible_texts(fig: Figure) -> list:
    texts = list(fig.texts)
    for ax in [a for top in fig.axes for a in (top, *top.child_axes)]:  # insets too (a heatmap's colour bar)
        texts += [ax.title, ax._left_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if not axis.get_visible():  # a twin's hidden copy of the shared axis: its labels report visible
                continue
            lo, hi = min(lo, hi), max(lo, hi)
            for tick in axis.get_major_ticks():
                if lo - 1e-9 <= tick.get_loc() <= hi + 1e-9 and tick.label1.get_visible():
                    texts.append(tick.label1)
            if axis is ax.yaxis:
                texts += [t.label2 for t in axis.get_major_ticks() if t.label2.get_visible() and lo <= t.get_loc() <= hi]
        if ax.get_legend():
            texts += ax.get_legend().get_texts()
    for legend in fig.legends:
        texts += legend.get_texts()
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _rotated_corners(t, box, renderer) -> list[tuple[float, float]]:
    """A rotated text's own box (its hull `box` is far larger at 45°): turned about the hull's centre, which is its.
    Measured a line at a time (a wrapped axis title: measured whole, its line break counted as a missing glyph)."""
    sizes = [renderer.get_text_width_height_descent(line, t.get_fontproperties(), ismath=False)
             for line in t.get_text().split("\n")]
    w = max(width for width, _, _ in sizes)
    h = max(height for _, height, _ in sizes) * (1 + (len(sizes) - 1) * 1.2)  # matplotlib's default line spacing
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    c, s = math.cos(math.radians(t.get_rotation())), math.sin(math.radians(t.get_rotation()))
    # counter-clockwise on screen, with image y growing downwards
    return [(cx + x * c + y * s, cy - x * s + y * c) for x, y in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2),
                                                                 (-w / 2, h / 2))]


def text_elements(fig: Figure, renderer, height: int) -> list[Element]:
    """Each drawn text once, with its size in pixels (an annotation's text alone, not its arrow)."""
    elements = {}
    for t in _visible_texts(fig):
        box = pixel_box(Text.get_window_extent(t, renderer), height)
        quad = _rotated_corners(t, box, renderer) if t.get_rotation() % 180 else None
        elements.setdefault((t.get_text(), tuple(round(v) for v in box)),
                            Element(kind="text", bbox=box, text=t.get_text(), size_px=t.get_fontsize() * fig.dpi / 72,
                                    quad=quad))
    return list(elements.values())


def tick_steps(marks: list[Mark], spec: ChartSpec, horizontal: bool, paired: bool) -> dict[str, float]:
    """Step between the major ticks of the value axis each column is read against (its own axes: twin axes too; a
    radar's rings)."""
    from renderers.charts import family

    if family(spec.chart_type).radial:
        return dict.fromkeys(spec.data.columns, nice_step(0.0, value_range([v for r in spec.data.data for v in r])[1]))
    steps = {}
    for _artist, kind, _row, col, _color, ax in marks:
        if kind in ("slice", "cell") or col in steps:
            continue
        axes = [(col, ax.xaxis if horizontal else ax.yaxis)]
        if paired:  # a scatter's points carry the y column; the x column is read across
            axes = [(spec.data.columns[0], ax.xaxis), (spec.data.columns[1], ax.yaxis)]
        for name, axis in axes:
            locs = np.asarray(axis.get_majorticklocs(), dtype=float)
            if len(locs) > 1:
                steps[name] = float(np.median(np.diff(locs)))
    return steps


def png_bytes(canvas: FigureCanvasAgg) -> bytes:
    """Encode the drawn canvas without metadata, so equal pixels give equal bytes."""
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", compress_level=6)
    return out.getvalue()


def draw_figure(style: StyleSpec, paint: Callable[[Figure], tuple[list[Element], dict[str, float], list[str]]]
                ) -> Rendered:
    """Create a figure of the style's size, let `paint` draw and measure it (elements, tick steps, categories left
    unlabelled), and collect glyph and text checks."""
    font_path(style.font_family)  # fail loudly if the font is missing instead of drawing tofu
    rc = {"font.family": style.font_family, "font.size": style.font_size, "axes.unicode_minus": False}
    with _DRAW_LOCK, rc_context(rc), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure(figsize=(style.width_px / style.dpi, style.height_px / style.dpi), dpi=style.dpi,
                     layout=OnePassLayout())
        canvas = FigureCanvasAgg(fig)
        elements, steps, unlabelled = paint(fig)
    missing = sum(1 for w in caught if "Glyph" in str(w.message) and "missing" in str(w.message))
    width, height = canvas.get_width_height()
    checks = render_checks(elements, width, height, missing)
    return Rendered(png=png_bytes(canvas), width=width, height=height, elements=elements, checks=checks,
                    tick_steps=steps, value_labels=style.value_labels, unlabelled=unlabelled)


Paint = Callable[[Axes, ChartSpec, StyleSpec, str], list[Mark]]


def drawing(paint: Callable[..., list[Mark]], **options) -> Callable[[ChartSpec, StyleSpec, str], Rendered]:
    """A family's matplotlib drawing: `paint(ax, spec, style, lang, **options)` on one axes, then the shared
    decoration, measurement and checks."""
    return partial(render_matplotlib, paint=partial(paint, **options) if options else paint)


def render_matplotlib(spec: ChartSpec, style: StyleSpec, lang: str, paint: Paint) -> Rendered:
    from renderers.charts import family

    chart = family(spec.chart_type)

    def paint_figure(fig: Figure) -> tuple[list[Element], dict[str, float], list[str]]:
        ax = fig.add_subplot()
        marks = paint(ax, spec, style, lang)
        fitted = _decorate(fig, ax, spec, style, lang, chart)
        table = _data_table(ax, spec, style, lang, fitted) if chart.data_table else []
        _callout(marks, spec, style)
        _furniture(fig, ax, spec, style, lang)
        height = fig.canvas.get_width_height()[1]

        def legend_covers_a_mark() -> bool:
            return bool(ax.get_legend()) and covers_marks(legend_elements(fig, height), _mark_elements(marks, height))

        def legend_right() -> None:
            ax.get_legend().remove()
            _legend(fig, ax, style, "right")

        for axes in fig.axes:  # view limits as drawn: the geometry below is measured before layout
            axes.get_xlim(), axes.get_ylim()
        # A reader must see every mark. Measured before the layout pass (the axes are smaller then, so the legend
        # looks bigger: it errs towards the right-hand side); the draw, ~60 % layout, is the costly part
        if legend_covers_a_mark():
            legend_right()
        fig.canvas.draw()
        if legend_covers_a_mark():  # as laid out: still over a mark
            legend_right()
            fig.canvas.draw()
        unlabelled = []
        if fitted:  # labels along the bottom refitted when the slots as laid out are narrower than expected
            across = chart.slots(spec)
            slot = ax.get_window_extent().width / len(across)
            refit = _category_fit(spec, style, chart, slot) if slot < _expected_slot(style, across) else fitted
            if refit != fitted:
                _set_category_labels(ax, chart, refit)
                for text in table:  # under the labels as written now
                    text.remove()
                table = _data_table(ax, spec, style, lang, refit) if chart.data_table else []
                fig.canvas.draw()
            unlabelled = refit.unlabelled
        drawn = _mark_elements(marks, height)
        elements = drawn + legend_elements(fig, height) + text_elements(fig, fig.canvas.get_renderer(), height)
        return elements, tick_steps(marks, spec, chart.horizontal, chart.paired), unlabelled

    return draw_figure(style, paint_figure)
