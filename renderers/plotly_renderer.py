"""plotly + kaleido renderer. Geometry is pinned (fixed margins, explicit ranges, explicit bar offsets), so every
mark's pixel box is computed, not guessed. kaleido (one Chromium per process, kept open) lays the figure out as SVG;
text boxes are measured from that SVG and it is rasterised without a browser (renderers/svg.py)."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial

from renderers import furniture
from renderers.checks import covers_marks, render_checks
from renderers.errors import SetupError
from renderers.fonts import font_path, missing_glyphs, pil_font, text_width
from renderers.layout import fit_rotation, place_point_labels
from renderers.numbers import format_number, nice_step
from renderers.svg import legend_box, rasterise, text_elements
from schemas.chart import ChartSpec
from schemas.render import Element, Rendered
from schemas.style import NumberFormat, StyleSpec

INSTALL_HINT = "plotly rendering needs kaleido>=1 and a Chromium (`apt-get install chromium`, or set BROWSER_PATH)"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_browser_ok = False


def _check_browser() -> None:
    """Fail fast: kaleido's server thread dies silently without a browser, and the caller would wait forever."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit and not os.access(explicit, os.X_OK):
        raise SetupError(f"BROWSER_PATH={explicit!r} is not an executable browser. {INSTALL_HINT}")
    if not explicit and not any(shutil.which(name) for name in BROWSERS):
        raise SetupError(f"no Chromium/Chrome on PATH. {INSTALL_HINT}")


def _to_svg(fig: dict, width: int, height: int) -> str:
    """Lay out through this process's one kaleido browser; a first failure means the browser is missing or broken."""
    global _browser_ok
    import kaleido

    if not _browser_ok:
        _check_browser()
    try:
        kaleido.start_sync_server(n=1, mathjax=False, silence_warnings=True)
        svg = kaleido.calc_fig_sync(fig, opts={"format": "svg", "width": width, "height": height, "scale": 1})
    except Exception as error:
        if _browser_ok:
            raise
        raise SetupError(f"{INSTALL_HINT}; kaleido said: {error}") from error
    _browser_ok = True
    return svg.decode() if isinstance(svg, bytes) else svg


class _Frame:
    """Maps data coordinates to image pixels for a plot area with pinned margins and ranges."""

    def __init__(self, left, top, right, bottom, xrange, yrange):
        self.left, self.top, self.right, self.bottom = left, top, right, bottom
        self.xrange, self.yrange = xrange, yrange

    def px(self, x: float, y: float, yrange=None) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.xrange, yrange or self.yrange
        return (self.left + (x - x0) / (x1 - x0) * (self.right - self.left),
                self.bottom - (y - y0) / (y1 - y0) * (self.bottom - self.top))


def _value_range(values: list[float]) -> list[float]:
    lo, hi = min(0.0, min(values)), max(0.0, max(values))
    pad = (hi - lo) * 0.12 or 1.0
    return [lo - pad if lo < 0 else 0.0, hi + pad]


@dataclass(frozen=True)
class Canvas:
    """What every family's traces share: the pinned plot area (margins in px), the number formatter, colours."""

    spec: ChartSpec
    style: StyleSpec
    lang: str
    left: float
    top: float
    right: float
    bottom: float
    colors: list[str]
    value_labels: list[Element] = field(default_factory=list)
    """where the value labels will be drawn, predicted from the pinned geometry before plotly lays them out"""

    def color(self, i: int) -> str:
        return self.colors[i % len(self.colors)]

    def fmt(self, value: float, col: str | None = None) -> str:
        return format_number(value, self.spec.decimals_of(col or self.spec.data.columns[0]), self.style, self.lang)

    def frame(self, xrange, yrange) -> _Frame:
        return _Frame(self.left, self.top, self.style.width_px - self.right, self.style.height_px - self.bottom,
                      xrange, yrange)


@dataclass(frozen=True)
class PlotArea:
    """Where marks were placed: the frame and which axis shows categories; None for round charts."""

    frame: _Frame
    x_axis: str  # "category" or "value"
    y_axis: str
    secondary_range: list[float] | None = None


Traces = Callable[..., tuple[list[Element], PlotArea | None]]


def pie(traces: list[dict], canvas: Canvas, hole: float = 0.0) -> tuple[list[Element], None]:
    spec, style, table = canvas.spec, canvas.style, canvas.spec.data
    n = len(table.index)
    values = table.column(table.columns[0])
    traces.append(dict(type="pie", labels=table.index, values=values, sort=False, direction="clockwise", rotation=0,
                       marker={"colors": [canvas.color(i) for i in range(n)]}, hole=hole,
                       textinfo="label+text" if style.value_labels else "label",
                       text=[f"{canvas.fmt(v)}{spec.unit}" for v in values], showlegend=False))
    return [Element(kind="slice", color=canvas.color(i), row=row, col=table.columns[0])
            for i, row in enumerate(table.index)], None


def scatter(traces: list[dict], canvas: Canvas) -> tuple[list[Element], PlotArea]:
    table = canvas.spec.data
    xcol, ycol = table.columns
    xs, ys = table.column(xcol), table.column(ycol)
    frame = canvas.frame(_value_range(xs), _value_range(ys))
    style = canvas.style
    sides = place_point_labels([frame.px(x, y) for x, y in zip(xs, ys)], table.index, style.font_family,
                               style.font_size * style.dpi / 72, (frame.left, frame.top, frame.right, frame.bottom))
    traces.append(dict(type="scatter", x=xs, y=ys, mode="markers+text", text=table.index,
                       textposition=[f"{'top' if sy < 0 else 'bottom'} {'right' if sx > 0 else 'left'}"
                                     for sx, sy in sides],
                       marker={"color": canvas.color(0), "size": 8}, showlegend=False))
    elements = []
    for row, x, y in zip(table.index, xs, ys):
        px, py = frame.px(x, y)
        elements.append(Element(kind="point", bbox=(px - 4, py - 4, px + 4, py + 4), color=canvas.color(0), row=row,
                                col=ycol))
    return elements, PlotArea(frame, "value", "value")


def cartesian(traces: list[dict], canvas: Canvas, bars: bool, stacked: bool = False, horizontal: bool = False,
              fill: bool = False, dots: bool = False) -> tuple[list[Element], PlotArea]:
    """Bars for the primary columns (when `bars`), lines for the rest (filled to zero when `fill`; the points alone,
    always marked, when `dots`); secondary columns against a right-hand axis."""
    spec, style, table = canvas.spec, canvas.style, canvas.spec.data
    n = len(table.index)
    primary = [c for c in table.columns if c not in spec.secondary_series]
    bar_columns = primary if bars else []
    line_columns = [c for c in table.columns if c not in bar_columns]
    bar_values = [table.column(c) for c in bar_columns]
    if stacked:
        sums = [sum(vs) for vs in zip(*bar_values)]
        value_range = _value_range(sums)
    else:
        value_range = _value_range([v for c in (primary if spec.secondary_series else table.columns)
                                    for v in table.column(c)])
    category_range = [-0.5, n - 0.5]
    xr, yr = (value_range, [n - 0.5, -0.5]) if horizontal else (category_range, value_range)
    frame = canvas.frame(xr, yr)
    elements: list[Element] = []
    bar_w = style.bar_width if stacked else style.bar_width / max(1, len(bar_columns))
    base = [0.0] * n
    for j, (col, values) in enumerate(zip(bar_columns, bar_values)):
        offset = -style.bar_width / 2 + (0 if stacked else j * bar_w)
        positions = list(range(n))
        trace = dict(type="bar", name=col, marker={"color": canvas.color(j)}, width=bar_w, offset=offset,
                     base=list(base), textposition="inside" if stacked else "outside", cliponaxis=False, textangle=0,
                     constraintext="inside" if stacked else "none")  # shrunk text is flagged, not hidden
        if style.value_labels:
            trace["text"] = [canvas.fmt(v, col) for v in values]
        if horizontal:
            traces.append(dict(trace, y=positions, x=values, orientation="h"))
        else:
            traces.append(dict(trace, x=positions, y=values))
        for i, (row, v) in enumerate(zip(table.index, values)):
            a, b = i + offset, i + offset + bar_w
            if horizontal:
                (x0, y0), (x1, y1) = frame.px(base[i], a), frame.px(base[i] + v, b)
            else:
                (x0, y0), (x1, y1) = frame.px(a, base[i]), frame.px(b, base[i] + v)
            box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            elements.append(Element(kind="bar", bbox=box, color=canvas.color(j), row=row, col=col))
            if style.value_labels:
                canvas.value_labels.append(_bar_label(canvas, canvas.fmt(v, col), box, v, horizontal, stacked))
        if stacked:
            base = [b + v for b, v in zip(base, values)]
    secondary_range = (_value_range([v for c in spec.secondary_series for v in table.column(c)])
                       if spec.secondary_series else None)
    for j, col in enumerate(line_columns, start=len(bar_columns)):
        values = table.column(col)
        on_right = col in spec.secondary_series
        marked = style.markers or dots
        mode = ("markers" if dots else "lines" + ("+markers" if marked else "")) + ("+text" if style.value_labels else "")
        traces.append(dict(type="scatter", x=list(range(n)), y=values, name=col, mode=mode,
                           line={"color": canvas.color(j)}, text=[canvas.fmt(v, col) for v in values],
                           **({"marker": {"color": canvas.color(j), "size": 10}} if dots else {}),
                           textposition="top center", yaxis="y2" if on_right else "y", cliponaxis=False,
                           **({"fill": "tozeroy"} if fill else {})))
        for i, (row, v) in enumerate(zip(table.index, values)):
            px, py = frame.px(i, v, secondary_range if on_right else None)
            r = 5 if dots else 3
            elements.append(Element(kind="point" if marked else "vertex", bbox=(px - r, py - r, px + r, py + r),
                                    color=canvas.color(j),
                                    row=row, col=col))
            if style.value_labels:
                canvas.value_labels.append(_label(canvas, canvas.fmt(v, col), px, py - r - TEXT_PAD_PX, 0.5, 1))
    axes = ("value", "category") if horizontal else ("category", "value")
    return elements, PlotArea(frame, *axes, secondary_range=secondary_range)


TEXT_PAD_PX = 3.0  # plotly.js's gap between a mark and its value label


def _label(canvas: Canvas, text: str, x: float, y: float, x_anchor: float, y_anchor: float,
           fit: tuple[float, float] | None = None) -> Element:
    """A value label's box as plotly will place it: `(x_anchor, y_anchor)` ∈ [0, 1]² is the point of the box at
    (x, y), e.g. (0.5, 1) for a label centred above y; shrunk to fit inside `fit` (width, height) when given."""
    style = canvas.style
    size = style.font_size * style.dpi / 72
    ascent, descent = pil_font(style.font_family, size).getmetrics()
    w, h = text_width(text, style.font_family, size), ascent + descent
    scale = max(0.0, min(1.0, fit[0] / w, fit[1] / h)) if fit else 1.0
    w, h = w * scale, h * scale
    x0, y0 = x - x_anchor * w, y - y_anchor * h
    return Element(kind="text", bbox=(x0, y0, x0 + w, y0 + h), text=text, size_px=size * scale)


def _bar_label(canvas: Canvas, text: str, bar: tuple[float, float, float, float], value: float, horizontal: bool,
               inside: bool) -> Element:
    """Past the bar's end (outside), or inside at its end, shrunk to fit (plotly's insidetextanchor "end" with
    constraintext)."""
    x0, y0, x1, y1 = bar
    if inside:
        fit = (x1 - x0 - 2 * TEXT_PAD_PX, y1 - y0 - 2 * TEXT_PAD_PX)
        return (_label(canvas, text, x1 - TEXT_PAD_PX, (y0 + y1) / 2, 1, 0.5, fit) if horizontal
                else _label(canvas, text, (x0 + x1) / 2, y0 + TEXT_PAD_PX, 0.5, 0, fit))
    if horizontal:
        return (_label(canvas, text, x1 + TEXT_PAD_PX, (y0 + y1) / 2, 0, 0.5) if value >= 0
                else _label(canvas, text, x0 - TEXT_PAD_PX, (y0 + y1) / 2, 1, 0.5))
    return (_label(canvas, text, (x0 + x1) / 2, y0 - TEXT_PAD_PX, 0.5, 1) if value >= 0
            else _label(canvas, text, (x0 + x1) / 2, y1 + TEXT_PAD_PX, 0.5, 0))


def drawing(traces: Traces, **options) -> Callable[[ChartSpec, StyleSpec, str], Rendered]:
    """A family's plotly drawing: `traces(figure_traces, canvas, **options)` appends its traces (plain plotly.js
    dicts) and returns the marks' boxes; margins, axes, legend and the PNG are shared."""
    return partial(render_plotly, add_traces=partial(traces, **options) if options else traces)


@cache
def _template(name: str) -> dict:
    """A built-in plotly template as the plain dict plotly.js reads (the figure is sent as a dict: plotly's Python
    validation of every property cost a fifth of a render)."""
    import plotly.io

    return plotly.io.templates[name].to_plotly_json()


def render_plotly(spec: ChartSpec, style: StyleSpec, lang: str, add_traces: Traces) -> Rendered:
    from renderers.charts import family

    chart = family(spec.chart_type)
    font_path(style.font_family)
    table = spec.data
    width, height = style.width_px, style.height_px
    font_px = style.font_size * style.dpi / 72
    label_px = max(text_width(s, style.font_family, font_px) for s in table.index) + 8
    n = len(table.index)
    horizontal = chart.horizontal
    show_legend = style.legend != "none" and len(table.columns) > 1 and not chart.round
    legend_px = max(text_width(c, style.font_family, font_px) for c in table.columns) + 50
    above, below = furniture.above(spec, style, lang), furniture.below(style)
    furniture_px = style.font_size * furniture.SIZE * style.dpi / 72  # its font size, and 1.5 × that a line
    above_px, below_px = (len(lines) * furniture_px * 1.5 + (4 if lines else 0) for lines in (above, below))
    above_px += font_px * 0.6 if above else 0  # clear of the top value tick label, which stands half above the plot

    def draw(where: str):
        """The figure with its traces for a legend placed `where` (margins make room for an outside legend), and the
        category labels' rotation: the style's, or steeper until neighbours do not touch."""
        top = 20 + (font_px * 2.2 if style.title_loc != "none" else 0) + (font_px * 2 if where == "top" else 0) \
            + above_px
        left = 30 + font_px * 4 + (label_px if horizontal else 0)
        right = 30 + (font_px * 5 if spec.secondary_series else 0) + (legend_px if where == "right" else 0)
        rotation = 0 if horizontal else style.label_rotation
        if not (horizontal or chart.paired or chart.round):
            rotation = fit_rotation(table.index, (width - left - right) / n, style.font_family, font_px, rotation)
            if 0 < rotation < 90:  # a slanted first label ends at its tick and reaches left past the axis
                slot = (width - left - right) / n
                left = max(left, label_px * math.cos(math.radians(rotation)) - slot / 2 + 10)
        bottom = 30 + font_px * 3 + label_px * math.sin(math.radians(rotation)) + (font_px * 2 if where == "bottom" else 0) \
            + below_px
        traces: list[dict] = []
        canvas = Canvas(spec, style, lang, left, top, right, bottom, [c.hex for c in style.palette])
        return traces, canvas, rotation, *add_traces(traces, canvas)

    def compose(where: str) -> tuple[str, list[Element], dict[str, float]]:
        """The chart as SVG with its legend `where`, the marks' boxes and the value axes' tick steps."""
        traces, canvas, rotation, elements, area = draw(where)
        left, top, right, bottom = canvas.left, canvas.top, canvas.right, canvas.bottom

        tickformat = ",~f" if style.number_format is NumberFormat.THOUSANDS else "~f"
        layout = dict(
            width=width, height=height, template=_template("simple_white" if not style.grid else "plotly_white"),
            font={"family": style.font_family, "size": font_px},
            margin={"l": left, "r": right, "t": top, "b": bottom, "autoexpand": False},
            showlegend=where != "none", paper_bgcolor="white", plot_bgcolor="white", barmode="overlay",
        )
        if style.title_loc != "none":
            layout["title"] = {"text": furniture.title(spec, style, lang), "x": 0.02 if style.title_loc == "left" else 0.5,
                               "xanchor": "left" if style.title_loc == "left" else "center", "yref": "container", "y": 0.98,
                               "yanchor": "top", "font": {"size": font_px * 1.25}}
        if where != "none":
            layout["legend"] = {
                # beyond a right-hand value axis's tick labels, when there is one
                "right": {"x": 1.02 + (font_px * 5 / (width - left - right) if spec.secondary_series else 0), "y": 1,
                          "xanchor": "left", "yanchor": "top"},
                "upper left": {"x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top", "bgcolor": "rgba(255,255,255,0.7)"},
                "top": {"orientation": "h", "x": 0, "y": 1 - (20 + font_px * 2.2) / height, "yref": "container", "yanchor": "top"},
                "bottom": {"orientation": "h", "x": 0, "y": 0.01 + below_px / height, "yref": "container",
                           "yanchor": "bottom"},
            }[where]
        plot_w, plot_h = width - left - right, height - top - bottom

        def note(text: str, x_px: float, y_px: float, x_anchor: str, y_anchor: str) -> dict:
            """A furniture line at image pixel (x, y), outside the plot: annotations are placed in plot fractions."""
            return {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": (x_px - left) / plot_w,
                    "y": (height - bottom - y_px) / plot_h, "xanchor": x_anchor, "yanchor": y_anchor,
                    "font": {"size": furniture_px}, "align": x_anchor}

        line = furniture_px * 1.5
        layout["annotations"] = (
            [note(text, width - 6, top - above_px + 2 + i * line, "right", "top") for i, text in enumerate(above)]
            + [note(text, 6, height - 4 - i * line, "left", "bottom") for i, text in enumerate(reversed(below))])
        steps: dict[str, float] = {}
        if area is not None:
            category_axis = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": table.index, "automargin": False,
                             "ticklabeloverflow": "allow"}  # never hidden silently: off the canvas is flagged instead

            def value_axis(value_range: list[float]) -> dict:  # ticks pinned, so readers and we know the step
                return {"tickformat": tickformat, "showgrid": style.grid, "automargin": False, "zeroline": True,
                        "tickmode": "linear", "tick0": 0, "dtick": nice_step(*value_range), "ticks": "outside",
                        "ticklen": 4, "ticklabeloverflow": "allow"}

            x_title, y_title = (spec.y_title, spec.x_title) if horizontal else (spec.x_title, spec.y_title)
            xaxis = (dict(category_axis, tickangle=-rotation) if area.x_axis == "category"
                     else value_axis(area.frame.xrange))
            yaxis = dict(category_axis) if area.y_axis == "category" else value_axis(area.frame.yrange)
            layout["xaxis"] = dict(xaxis, range=area.frame.xrange, title={"text": x_title})
            layout["yaxis"] = dict(yaxis, range=area.frame.yrange, title={"text": y_title})
            primary = layout["xaxis"] if area.x_axis == "value" and area.y_axis == "category" else layout["yaxis"]
            steps = {c: primary["dtick"] for c in table.columns if c not in spec.secondary_series}
            if area.x_axis == area.y_axis == "value":  # a scatter: x read across, y up
                steps = {table.columns[0]: layout["xaxis"]["dtick"], table.columns[1]: layout["yaxis"]["dtick"]}
            if spec.secondary_series:
                layout["yaxis2"] = dict(value_axis(area.secondary_range), range=area.secondary_range, overlaying="y",
                                        side="right", title={"text": spec.series_unit[spec.secondary_series[0]]},
                                        showgrid=False)
                steps |= {c: layout["yaxis2"]["dtick"] for c in spec.secondary_series}
        return _to_svg({"data": traces, "layout": layout}, width, height), elements, steps

    where = style.legend if show_legend else "none"
    if style.value_labels:  # labels that would collide or shrink are dropped before the (slow) layout, not after
        predicted = render_checks(draw(where)[1].value_labels, width, height, 0)
        if predicted.overlapping_text or predicted.small_text or predicted.off_canvas_text:
            style = style.model_copy(update={"value_labels": False})
    svg, elements, steps = compose(where)
    legend = legend_box(svg)
    if where == "upper left" and legend and covers_marks([legend], elements):  # a reader must see every mark
        where = "right"
        svg, elements, steps = compose(where)
        legend = legend_box(svg)
    elements += [legend] if legend else []
    elements += text_elements(svg, style.font_family)
    texts = [*furniture.texts(spec, style, lang), spec.x_title, spec.y_title, *spec.series_unit.values(), *table.index, *table.columns]
    checks = render_checks(elements, width, height, len(missing_glyphs(texts, style.font_family)))
    return Rendered(png=rasterise(svg), width=width, height=height, elements=elements, checks=checks,
                    tick_steps=steps, value_labels=style.value_labels)
