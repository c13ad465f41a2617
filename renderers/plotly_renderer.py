"""plotly + kaleido renderer. Geometry is pinned (fixed margins, explicit ranges, explicit bar offsets), so every
mark's pixel box is computed, not guessed. kaleido (one Chromium per process, kept open) lays the figure out as SVG;
text boxes are measured from that SVG and it is rasterised without a browser (renderers/svg.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache, partial

from renderers import furniture, pinned
from renderers.browser import check_browser
from renderers.colour import ink
from renderers.errors import SetupError
from renderers.fonts import font_path
from renderers.layout import slice_name, two_lines_if_longer
from renderers.numbers import nice_step
from renderers.pinned import Canvas, Page, PlotArea
from schemas.chart import ChartSpec
from schemas.render import Element, Rendered
from schemas.style import NumberFormat, StyleSpec

INSTALL_HINT = "plotly rendering needs kaleido>=1 and a Chromium (`apt-get install chromium`, or set BROWSER_PATH)"
_browser_ok = False
LAYOUT_TIMEOUT_S = 120.0  # a chart lays out in well under a second; a browser silent this long has hung


class LayoutTimeout(Exception):
    pass


def _bounded(call: Callable, *args, **kwargs):
    """`call` on a daemon thread, given LAYOUT_TIMEOUT_S: kaleido waits on its browser without a timeout, and one
    hung Chromium (seen once, under load) would otherwise stop a run forever."""
    outcome: dict = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name="kaleido-layout").start()
    if not done.wait(LAYOUT_TIMEOUT_S):
        raise LayoutTimeout
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _abandon_browser() -> None:
    """Leave a hung kaleido server behind (its daemon thread and browser end with the process) and put a new one in
    its place, with its own queues: should the old browser wake, its late answer cannot be taken for another chart's.
    kaleido has no way to drop a hung server (its close, run at exit too, would wait for the browser forever)."""
    import kaleido

    hung = kaleido._global_server  # noqa: SLF001
    hung._initialized = False  # its atexit close returns at once
    type(hung)._instance = None  # the singleton makes a new instance
    kaleido._global_server = type(hung)()  # what kaleido's *_sync functions call


FIRST_LAYOUT_TRIES = 4  # kaleido may be asked before its page's scripts have loaded (seen under load)


def _to_svg(fig: dict, width: int, height: int) -> str:
    """Lay out through this process's one kaleido browser. Until a first layout succeeds, a failure is tried again
    after a pause (under load kaleido once asked its page before the page's scripts had loaded: "kaleido_scopes is
    not defined"), then means the browser is missing or broken; a browser that stops answering is replaced once,
    then the run stops with a message (and resumes when rerun)."""
    global _browser_ok
    import kaleido

    if not _browser_ok:
        check_browser(INSTALL_HINT)
    opts = {"format": "svg", "width": width, "height": height, "scale": 1}
    timeouts = failures = 0
    while True:
        try:
            kaleido.start_sync_server(n=1, mathjax=False, silence_warnings=True)
            svg = _bounded(kaleido.calc_fig_sync, fig, opts=opts)
            break
        except LayoutTimeout:
            _abandon_browser()
            timeouts += 1
            if timeouts == 2:
                raise SetupError(f"plotly: kaleido's Chromium gave no layout in {LAYOUT_TIMEOUT_S:g} s, twice (a hung "
                                 "browser); finished shards are kept, rerun the same command to resume") from None
        except Exception as error:
            if _browser_ok:
                raise
            failures += 1
            if failures == FIRST_LAYOUT_TRIES:
                raise SetupError(f"{INSTALL_HINT}; kaleido said, {failures} times: {error}") from error
            time.sleep(failures)
    _browser_ok = True
    return svg.decode() if isinstance(svg, bytes) else svg


Traces = Callable[..., tuple[list[Element], PlotArea | None]]


def pie(traces: list[dict], canvas: Canvas, hole: float = 0.0) -> tuple[list[Element], None]:
    spec, style, table = canvas.spec, canvas.style, canvas.spec.data
    values = table.column(table.columns[0])
    elements = pinned.slices(canvas)
    size = style.font_size * style.dpi / 72
    names = [slice_name(row, style.font_family, size, style.width_px).replace("\n", "<br>") for row in table.index]
    traces.append(dict(type="pie", labels=names, values=values, sort=False, direction="clockwise", rotation=0,
                       marker={"colors": [e.color for e in elements]}, hole=hole,
                       textinfo="label+text" if style.value_labels else "label",
                       text=[f"{canvas.fmt(v)}{spec.unit}" for v in values], showlegend=False))
    return elements, None


def heatmap(traces: list[dict], canvas: Canvas) -> tuple[list[Element], PlotArea]:
    """pinned.cells' grid as a heatmap trace on the same two-colour scale (its colour bar right of the plot), each
    value printed over its cell in ink that reads on the fill."""
    table, style = canvas.spec.data, canvas.style
    grid = pinned.cells(canvas)
    font_px = style.font_size * style.dpi / 72
    plot_w = style.width_px - canvas.left - canvas.right
    traces.append(dict(type="heatmap", z=table.data, x=list(range(len(table.columns))), y=list(range(len(table.index))),
                       zmin=grid.low, zmax=grid.high, colorscale=[[0, pinned.HEAT_LOW], [1, grid.high_color]],
                       xgap=1, ygap=1, hoverinfo="skip",
                       colorbar={"thickness": font_px, "len": 1, "x": 1 + font_px / plot_w, "xanchor": "left",
                                 "outlinewidth": 0, "tickformat": ",~f" if style.number_format is
                                 NumberFormat.THOUSANDS else "~f"}))
    traces.append(dict(type="scatter", mode="text", x=[j for _ in table.index for j in range(len(table.columns))],
                       y=[i for i in range(len(table.index)) for _ in table.columns], text=grid.texts,
                       textfont={"color": [ink(e.color) for e in grid.elements], "size": font_px * 0.85},
                       showlegend=False, hoverinfo="skip", cliponaxis=False))
    return grid.elements, grid.area


def scatter(traces: list[dict], canvas: Canvas) -> tuple[list[Element], PlotArea]:
    table = canvas.spec.data
    placed = pinned.points(canvas)
    diameters = [e.bbox[2] - e.bbox[0] for e in placed.elements]  # 8 px, or a bubble's own
    traces.append(dict(type="scatter", x=table.column(table.columns[0]), y=table.column(table.columns[1]),
                       mode="markers+text", text=table.index,
                       textposition=[f"{'top' if sy < 0 else 'bottom'} {'right' if sx > 0 else 'left'}"
                                     for sx, sy in placed.sides],
                       marker={"color": canvas.color(0), "size": diameters, "opacity": 1,
                               "line": {"color": "white", "width": 1}}, showlegend=False))
    return placed.elements, PlotArea(placed.frame, "value", "value")


def cartesian(traces: list[dict], canvas: Canvas, bars: bool, stacked: bool = False, horizontal: bool = False,
              fill: bool = False, dots: bool = False, stems: bool = False) -> tuple[list[Element], PlotArea]:
    """Bars for the primary columns (when `bars`), lines for the rest (filled to zero when `fill`; the points alone,
    always marked, when `dots`, on thin stems from zero when `stems`); secondary columns against a right-hand axis."""
    from renderers.charts import family

    style = canvas.style
    layout = pinned.cartesian(canvas, bars, stacked, horizontal, dots)
    edges = {"line": {"color": "white", "width": 1}} if family(canvas.spec.chart_type).touching else {}
    for series in layout.bars:
        positions = list(range(len(series.values)))
        trace = dict(type="bar", name=series.col, marker={"color": series.color, **edges}, width=series.width,
                     offset=series.offset, base=series.base, textposition="inside" if stacked else "outside",
                     cliponaxis=False, textangle=0,
                     constraintext="inside" if stacked else "none")  # shrunk text is flagged, not hidden
        if style.value_labels:
            trace["text"] = series.texts
        if horizontal:
            traces.append(dict(trace, y=positions, x=series.values, orientation="h"))
        else:
            traces.append(dict(trace, x=positions, y=series.values))
    for series in layout.lines if stems else ():  # under the dots: a line from zero to each value
        xs = [x for i in series.positions for x in (i, i, None)]
        ys = [y for v in series.values for y in (0, v, None)]
        traces.append(dict(type="scatter", x=xs, y=ys, mode="lines", line={"color": series.color, "width": 2},
                           showlegend=False, hoverinfo="skip"))
    for series in layout.lines:
        mode = ("markers" if dots else "lines" + ("+markers" if series.marked else "")) + \
            ("+text" if style.value_labels else "")
        traces.append(dict(type="scatter", x=series.positions, y=series.values, name=series.col,
                           mode=mode, line={"color": series.color}, text=series.texts,
                           **({"marker": {"color": series.color, "size": 10}} if dots else {}),
                           textposition="top center", yaxis="y2" if series.on_right else "y", cliponaxis=False,
                           **({"fill": "tozeroy"} if fill else {})))
    return layout.elements, layout.area


def radar(traces: list[dict], canvas: Canvas) -> tuple[list[Element], PlotArea]:
    """pinned.radar drawn in image pixels on hidden axes: grey rings and spokes, each column a closed polygon (lightly
    filled), the spokes' names and the rings' values as text, value labels where pinned predicted them."""
    shape, style = pinned.radar(canvas), canvas.style
    font_px = style.font_size * style.dpi / 72
    grey = {"mode": "lines", "line": {"color": "#cccccc", "width": 0.8}, "showlegend": False, "hoverinfo": "skip"}
    for ring in shape.rings:
        points = [shape.at(a, ring) for a in shape.angles + shape.angles[:1]]
        traces.append(dict(grey, type="scatter", x=[p[0] for p in points], y=[p[1] for p in points]))
    ends = [shape.at(a, shape.reach) for a in shape.angles]
    traces.append(dict(grey, type="scatter", x=[v for x, _ in ends for v in (shape.centre[0], x, None)],
                       y=[v for _, y in ends for v in (shape.centre[1], y, None)]))
    for col, points in shape.vertices.items():
        closed = points + points[:1]
        traces.append(dict(type="scatter", name=col, x=[p[0] for p in closed], y=[p[1] for p in closed],
                           mode="lines+markers" if style.markers else "lines", fill="toself",
                           fillcolor=_translucent(shape.colors[col]), line={"color": shape.colors[col], "width": 2},
                           marker={"color": shape.colors[col], "size": 7}, hoverinfo="skip"))
    texts = shape.spoke_labels(canvas.spec.data.index, pinned.RADAR_NAME_GAP_PX)
    texts += [(t, x + pinned.RADAR_NAME_GAP_PX / 2, y, 0.0, 0.5) for t, x, y in shape.ring_labels(style)]
    texts += [(e.text, (e.bbox[0] + e.bbox[2]) / 2, (e.bbox[1] + e.bbox[3]) / 2, 0.5, 0.5) for e in canvas.value_labels]
    across, up = {0.0: "right", 0.5: "center", 1.0: "left"}, {0.0: "bottom", 0.5: "middle", 1.0: "top"}
    for t, x, y, ax, ay in texts:  # (x, y) is the anchor point of the text's box: the text lies on its far side
        traces.append(dict(type="scatter", mode="text", x=[x], y=[y], text=[t], showlegend=False, hoverinfo="skip",
                           textposition=f"{up[ay]} {across[ax]}", textfont={"size": font_px}, cliponaxis=False))
    return shape.elements, shape.area


def _translucent(color: str, alpha: float = 0.15) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def bridge(traces: list[dict], canvas: Canvas) -> tuple[list[Element], PlotArea]:
    """pinned.bridge's floating bars as one bar trace (each bar its own base and colour), thin connectors between."""
    placed = pinned.bridge(canvas)
    n = len(placed.values)
    trace = dict(type="bar", x=list(range(n)), y=placed.values, base=placed.base, width=placed.width,
                 marker={"color": placed.colors}, textposition="outside", cliponaxis=False, textangle=0,
                 showlegend=False, hoverinfo="skip")
    if canvas.style.value_labels:
        trace["text"] = placed.texts
    ends = [b + v for b, v in zip(placed.base, placed.values)]
    half = placed.width / 2
    traces.append(dict(type="scatter", mode="lines", showlegend=False, hoverinfo="skip",
                       x=[x for i in range(n - 1) for x in (i + half, i + 1 - half, None)],
                       y=[y for i in range(n - 1) for y in (ends[i], ends[i], None)],
                       line={"color": "#888888", "width": 0.6}))
    traces.append(trace)
    return placed.elements, placed.area


def boxes(traces: list[dict], canvas: Canvas) -> tuple[list[Element], PlotArea]:
    """pinned.boxes drawn from their statistics: each box a bar from the lower to the upper quartile, whiskers and
    caps as thin lines, the median a line across (plotly's own box trace places boxes its own way)."""
    placed = pinned.boxes(canvas)
    n, half, cap = len(placed.stats), placed.width / 2, placed.width / 4
    traces.append(dict(type="bar", x=list(range(n)), y=[q3 - q1 for _, q1, _, q3, _ in placed.stats],
                       base=[q1 for _, q1, _, _, _ in placed.stats], width=placed.width, showlegend=False,
                       hoverinfo="skip", marker={"color": placed.color, "line": {"color": "#333333", "width": 1}}))
    whiskers_x, whiskers_y, median_x, median_y = [], [], [], []
    for i, (lo, q1, med, q3, hi) in enumerate(placed.stats):
        whiskers_x += [i, i, None, i, i, None, i - cap, i + cap, None, i - cap, i + cap, None]
        whiskers_y += [lo, q1, None, q3, hi, None, lo, lo, None, hi, hi, None]
        median_x += [i - half, i + half, None]
        median_y += [med, med, None]
    traces.append(dict(type="scatter", mode="lines", x=whiskers_x, y=whiskers_y, showlegend=False, hoverinfo="skip",
                       line={"color": "#333333", "width": 1}))
    traces.append(dict(type="scatter", mode="lines", x=median_x, y=median_y, showlegend=False, hoverinfo="skip",
                       line={"color": placed.median_color, "width": 2.5}))
    return placed.elements, placed.area


def layers(traces: list[dict], canvas: Canvas) -> tuple[list[Element], PlotArea]:
    """pinned.layers' stacked area: each band filled opaque from the one below (plotly's stackgroup adds the values
    up as pinned did), its values printed mid-band in the ink that reads on its fill."""
    placed = pinned.layers(canvas)
    for layer in placed.layers:
        traces.append(dict(type="scatter", x=list(range(len(layer.values))), y=layer.values, name=layer.col,
                           mode="lines", stackgroup="one", line={"color": layer.color, "width": 0.5},
                           fillcolor=layer.color, hoverinfo="skip"))
    if canvas.value_labels:
        frame = placed.area.frame
        texts = [(e, *frame.data((e.bbox[0] + e.bbox[2]) / 2, (e.bbox[1] + e.bbox[3]) / 2))
                 for e in canvas.value_labels]
        traces.append(dict(type="scatter", mode="text", x=[x for _, x, _ in texts], y=[y for _, _, y in texts],
                           text=[e.text for e, _, _ in texts], textfont={"color": [e.color for e, _, _ in texts]},
                           showlegend=False, hoverinfo="skip", cliponaxis=False))
    return placed.elements, placed.area


def _lines(texts: list[str]) -> list[str]:
    """Texts of several lines as plotly writes them."""
    return [text.replace("\n", "<br>") for text in texts]


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
    n = len(table.index)
    horizontal = chart.horizontal
    show_legend = style.legend != "none" and len(table.columns) > 1 and chart.keyed
    page = Page.of(spec, style, lang, chart)
    font_px, furniture_px, below_px = page.font_px, page.furniture_px, page.below_px
    above, below = page.above, page.below

    def draw(where: str, style: StyleSpec):
        """The figure's traces for a legend placed `where`, on the page's canvas for it."""
        traces: list[dict] = []
        canvas = Page.of(spec, style, lang, chart).canvas(where)
        return traces, canvas, *add_traces(traces, canvas)

    def compose(where: str, style: StyleSpec) -> tuple[str, list[Element], dict[str, float], list[str]]:
        """The chart as SVG with its legend `where`, the marks' boxes, the value axes' tick steps and the categories
        left unlabelled."""
        traces, canvas, elements, area = draw(where, style)
        left, top, right, bottom, rotation = canvas.left, canvas.top, canvas.right, canvas.bottom, canvas.rotation

        tickformat = ",~f" if style.number_format is NumberFormat.THOUSANDS else "~f"
        layout = dict(
            width=width, height=height, template=_template("simple_white" if not style.grid else "plotly_white"),
            font={"family": style.font_family, "size": font_px},
            margin={"l": left, "r": right, "t": top, "b": bottom, "autoexpand": False},
            showlegend=where != "none", paper_bgcolor="white", plot_bgcolor="white", barmode="overlay",
        )
        if where != "none":
            layout["legend"] = {
                # beyond a right-hand value axis's tick labels, when there is one
                "right": {"x": 1.02 + (font_px * 5 / (width - left - right) if spec.secondary_series else 0), "y": 1,
                          "xanchor": "left", "yanchor": "top"},
                "upper left": {"x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top", "bgcolor": "rgba(255,255,255,0.7)"},
                "top": {"orientation": "h", "x": 0, "y": 1 - page.legend_top / height, "yref": "container",
                        "yanchor": "top"},
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
            [note(text, width - 6, top - page.band_top + 2 + i * line, "right", "top") for i, text in enumerate(above)]
            + [note(text, 6, height - 4 - i * line, "left", "bottom") for i, text in enumerate(reversed(below))]
            + [note(text, width * 0.02, top - page.band_top + 2 + i * line, "left", "top")
               for i, text in enumerate(page.subtitle)]
            + [note(text, x, y, anchor, "middle") for text, x, y, anchor in
               (canvas.table_cells() if chart.data_table else ())])
        if page.title:  # an annotation: plotly's own title sets a second line above the image, not under the first
            left_title = style.title_loc == "left"
            layout["annotations"].append(
                note(page.title.replace("\n", "<br>"), width * 0.02 if left_title else width / 2, height * 0.02,
                     "left" if left_title else "center", "top") | {"font": {"size": font_px * furniture.TITLE_EM}})
        layout["shapes"] = [{"type": "line", "xref": "paper", "yref": "paper", "x0": (x0 - left) / plot_w,
                             "x1": (x1 - left) / plot_w, "y0": (height - bottom - y) / plot_h,
                             "y1": (height - bottom - y) / plot_h, "line": {"color": pinned.RULE_COLOR, "width": 0.6}}
                            for x0, x1, y in (canvas.table_rules() if chart.data_table else ())]
        for col, x, y, separator in canvas.panel_titles() if chart.panels else ():
            layout["annotations"].append(note(col, x, y, "center", "bottom") | {"font": {"size": font_px}})
            if separator is not None:
                at = (separator - left) / plot_w
                layout["shapes"].append({"type": "line", "xref": "paper", "yref": "paper", "x0": at, "x1": at,
                                         "y0": 0, "y1": 1, "line": {"color": pinned.RULE_COLOR, "width": 0.8}})
        arrow = pinned.callout_arrow(canvas, elements)
        if arrow:
            text, tip_x, tip_y, tail_x, tail_y = arrow
            layout["annotations"].append(note(text, tip_x, tip_y, "right", "bottom") | {
                "showarrow": True, "ax": tail_x - tip_x, "ay": tail_y - tip_y, "arrowhead": 2, "arrowwidth": 1,
                "arrowcolor": "#333333", "standoff": 1})
        vertical = furniture.vertical_title(spec, style)
        if vertical and area is not None:  # 縦書き: upright characters, one a line, left of the tick labels
            layout["annotations"].append(note(vertical.replace("\n", "<br>"), canvas.left_of_ticks(area.frame.yrange),
                                              top + (height - top - bottom) / 2, "center", "middle")
                                         | {"font": {"size": font_px}})
        steps: dict[str, float] = {}
        if area is not None and area.x_axis == "hidden":  # a radar, drawn in image pixels: read on its rings
            layout["xaxis"] = {"visible": False, "range": area.frame.xrange}
            layout["yaxis"] = {"visible": False, "range": area.frame.yrange}
            steps = dict.fromkeys(table.columns, area.radial_step)
        elif area is not None:
            category_axis = {"tickmode": "array", "tickvals": list(range(n)),
                             "ticktext": _lines(canvas.labels(table.index)),
                             "automargin": False,
                             "ticklabeloverflow": "allow"}  # never hidden silently: off the canvas is flagged instead

            def value_axis(value_range: list[float]) -> dict:  # ticks pinned, so readers and we know the step
                axis = {"tickformat": tickformat, "showgrid": style.grid, "automargin": False, "zeroline": True,
                        "tickmode": "linear", "tick0": 0, "dtick": nice_step(*value_range), "ticks": "outside",
                        "ticklen": 4, "ticklabeloverflow": "allow"}
                if chart.mirrored:  # distances from zero on both sides: the left ticks without their sign
                    ticks = pinned.tick_values(*value_range)
                    axis |= {"tickmode": "array", "tickvals": ticks,
                             "ticktext": [pinned.tick_text(abs(v), style) for v in ticks]}
                return axis

            x_title, y_title = (spec.y_title, spec.x_title) if horizontal else (spec.x_title, spec.y_title)
            slots = chart.slots(spec)  # the labels along the bottom
            bottom_axis = dict(category_axis, tickvals=list(range(len(slots))), ticktext=_lines(canvas.labels(slots)),
                               tickangle=-rotation)
            if area.x_axis == "columns":  # a heatmap: column names across; its scale is the colour bar
                xaxis = bottom_axis
                x_title = ""
            elif area.x_axis == "category":
                xaxis = bottom_axis
                x_title = "" if chart.data_table else x_title  # the data table sits where the title would
            else:
                xaxis = value_axis(area.frame.xrange)
            yaxis = dict(category_axis) if area.y_axis == "category" else value_axis(area.frame.yrange)
            y_title = "" if vertical else y_title  # written upright beside the axis instead
            x_title = two_lines_if_longer(x_title, style.width_px - left - right, style.font_family, font_px)
            y_title = two_lines_if_longer(y_title, style.height_px - top - bottom, style.font_family, font_px)
            # axis titles at the size they were measured and given room at (plotly's own is 1.2 font sizes)
            layout["xaxis"] = dict(xaxis, range=area.frame.xrange, title={"text": x_title.replace("\n", "<br>"),
                                                                          "font": {"size": font_px}})
            layout["yaxis"] = dict(yaxis, range=area.frame.yrange, title={"text": y_title.replace("\n", "<br>"),
                                                                          "font": {"size": font_px}})
            primary = layout["xaxis"] if area.x_axis == "value" and area.y_axis == "category" else layout["yaxis"]
            steps = {c: primary["dtick"] for c in table.columns if c not in spec.secondary_series and "dtick" in primary}
            if area.x_axis == area.y_axis == "value":  # a scatter: x read across, y up
                steps = {table.columns[0]: layout["xaxis"]["dtick"], table.columns[1]: layout["yaxis"]["dtick"]}
            if spec.secondary_series:
                layout["yaxis2"] = dict(value_axis(area.secondary_range), range=area.secondary_range, overlaying="y",
                                        side="right", title={"text": spec.series_unit[spec.secondary_series[0]],
                                                               "font": {"size": font_px}},
                                        showgrid=False)
                steps |= {c: layout["yaxis2"]["dtick"] for c in spec.secondary_series}
        across = table.columns if chart.cells else table.index
        unlabelled = canvas.unlabelled(across) if area is not None else []
        return _to_svg({"data": traces, "layout": layout}, width, height), elements, steps, unlabelled

    return pinned.finish(spec, style, lang, style.legend if show_legend else "none",
                         lambda where, style: draw(where, style)[1].predicted_texts(), compose)
