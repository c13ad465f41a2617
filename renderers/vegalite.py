"""Vega-Lite renderer through vl-convert (Rust/Deno: Vega-Lite → SVG with no browser). Geometry is pinned the way
plotly's is (renderers/pinned.py: fixed margins, explicit scale domains, bars placed by their own edges), so every
mark's pixel box is computed; texts are measured from the SVG Vega lays out and it is rasterised with resvg."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from functools import cache, partial

from renderers import furniture, pinned
from renderers.colour import ink
from renderers.fonts import font_path, text_width
from renderers.layout import slice_name, two_lines_if_longer
from renderers.numbers import nice_step
from renderers.pinned import Canvas, Page, PlotArea
from schemas.chart import ChartSpec
from schemas.render import Element, Rendered
from schemas.style import NumberFormat, StyleSpec

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
TEXT_COLOR = "#222222"
PIE_LABEL_GAP_PX = 6.0  # between the rim and a name set outside it
LEGEND_ORIENT = {"right": "right", "top": "top", "bottom": "bottom", "upper left": "top-left"}

Layers = Callable[..., tuple[list[Element], "Axes | None"]]


@cache
def _register_font_directory(path: str) -> None:
    """vl-convert reads system fonts; a font installed elsewhere (or added after start) must be registered."""
    import vl_convert

    vl_convert.register_font_directory(os.path.dirname(path))


def text(canvas: Canvas, content: str, x: float, y: float, align: str, baseline: str, size: float,
         color: str = TEXT_COLOR) -> dict:
    """A text mark at image pixel (x, y) — Vega places marks relative to the plot's top-left corner."""
    return {"data": {"values": [{}]},
            "mark": {"type": "text", "text": content.split("\n") if "\n" in content else content, "x": x - canvas.left,
                     "y": y - canvas.top, "align": align, "baseline": baseline, "fontSize": size, "lineHeight": size * 1.25,
                     "color": color}}


def rule(canvas: Canvas, x0: float, y0: float, x1: float, y1: float, color: str, width: float) -> dict:
    """A line from image pixel (x0, y0) to (x1, y1), outside any scale."""
    return {"data": {"values": [{}]}, "mark": {"type": "rule", "color": color, "strokeWidth": width},
            "encoding": {"x": {"value": x0 - canvas.left}, "y": {"value": y0 - canvas.top},
                         "x2": {"value": x1 - canvas.left}, "y2": {"value": y1 - canvas.top}}}


def _color(canvas: Canvas, names: list[str], legend: dict | None) -> dict:
    return {"field": "name", "type": "nominal", "legend": legend,
            "scale": {"domain": names, "range": [canvas.color(i) for i in range(len(names))]}}


class Axes:
    """The x and y encodings every layer of one chart repeats (so Vega-Lite merges them into one scale and axis)."""

    def __init__(self, canvas: Canvas, area: PlotArea):
        from renderers.charts import family

        spec = canvas.spec
        self.canvas, self.area = canvas, area
        horizontal = area.x_axis == "value" and area.y_axis == "category"
        x_title, y_title = (spec.y_title, spec.x_title) if horizontal else (spec.x_title, spec.y_title)
        if area.x_axis == "columns":  # a heatmap: column names across; its scale is the colour bar
            x_title, y_title = "", spec.x_title
        if family(spec.chart_type).data_table:  # the data table sits where the category axis's title would
            x_title = ""
        if furniture.vertical_title(spec, canvas.style) and area.y_axis == "value":
            y_title = ""  # written upright beside the axis instead (render_vegalite)
        self.steps: dict[str, float] = {}
        self.x = self._axis("x", area.x_axis, area.frame.xrange, x_title)
        self.y = self._axis("y", area.y_axis, area.frame.yrange, y_title)
        self.y_right = None
        if area.secondary_range:
            self.y_right = self._axis("y", "value", area.secondary_range, spec.series_unit[spec.secondary_series[0]])
            self.y_right["axis"] |= {"orient": "right", "grid": False}
        columns = spec.data.columns
        value_axis = self.x if area.x_axis == "value" else self.y
        if area.x_axis == "hidden":  # a radar, drawn in image pixels: read on its rings
            self.steps = dict.fromkeys(columns, area.radial_step)
        elif area.x_axis == "columns":
            self.steps = {}
        elif area.x_axis == area.y_axis == "value":  # a scatter: x read across, y up
            self.steps = {columns[0]: self.x["step"], columns[1]: self.y["step"]}
        else:
            self.steps = {c: value_axis["step"] for c in columns if c not in spec.secondary_series}
            if self.y_right:
                self.steps |= {c: self.y_right["step"] for c in spec.secondary_series}
        for encoding in (self.x, self.y, self.y_right):
            if encoding:
                encoding.pop("step", None)

    def _axis(self, channel: str, kind: str, domain: list[float], title: str) -> dict:
        from renderers.charts import family

        canvas, style = self.canvas, self.canvas.style
        length = style.width_px - canvas.left - canvas.right if channel == "x" else \
            style.height_px - canvas.top - canvas.bottom
        lines = two_lines_if_longer(title, length, style.font_family, style.font_size * style.dpi / 72).split("\n")
        axis = {"title": (lines if len(lines) > 1 else title) or None, "labelOverlap": False, "labelFlush": False, "labelBound": False,
                "labelLimit": 0,
                "labelColor": TEXT_COLOR, "titleColor": TEXT_COLOR, "titleFontWeight": "normal", "ticks": True,
                "tickSize": 4}
        step = None
        if kind == "hidden":
            return {"type": "quantitative", "axis": None, "step": None,
                    "scale": {"domain": list(domain), "nice": False, "zero": False}}
        if kind in ("category", "columns"):
            spec = canvas.spec
            labels = family(spec.chart_type).slots(spec) if channel == "x" else list(spec.data.index)
            written = [text.split("\n") if "\n" in text else text for text in canvas.labels(labels)]  # lines: a list
            axis |= {"values": list(range(len(labels))), "grid": False,  # blank where left off (a long series)
                     "labelExpr": f"{json.dumps(written, ensure_ascii=False)}[round(datum.value)]"}
            if channel == "x" and canvas.rotation:
                axis |= {"labelAngle": -canvas.rotation, "labelAlign": "right",
                         "labelBaseline": "middle" if canvas.rotation == 90 else "top"}
            else:
                axis["labelAngle"] = 0
        else:
            step, values = nice_step(*domain), pinned.tick_values(*domain)
            axis |= {"values": values, "grid": style.grid,
                     "format": ",.6~f" if style.number_format is NumberFormat.THOUSANDS else ".6~f"}
            if family(canvas.spec.chart_type).mirrored:  # distances from zero on both sides
                axis["labelExpr"] = f"format(abs(datum.value), '{axis['format']}')"
        return {"type": "quantitative", "axis": axis, "step": step,
                "scale": {"domain": list(domain), "nice": False, "zero": False}}

    def encode(self, x: str, y: str, on_right: bool = False, x2: str | None = None, y2: str | None = None,
               first: bool = True) -> dict:
        """x/y encodings on fields `x`, `y` (and the rect's far edges `x2`, `y2`); only the first layer of a y scale
        draws its axis when the two value axes are resolved independently."""
        y_encoding = dict(self.y_right if on_right else self.y)
        if self.area.secondary_range and not first:
            y_encoding["axis"] = None
        out = {"x": dict(self.x, field=x), "y": dict(y_encoding, field=y)}
        if x2:
            out["x2"] = {"field": x2}
        if y2:
            out["y2"] = {"field": y2}
        return out


def cartesian(layers: list[dict], canvas: Canvas, legend: dict | None, bars: bool, stacked: bool = False,
              horizontal: bool = False, fill: bool = False, dots: bool = False, stems: bool = False
              ) -> tuple[list[Element], Axes]:
    """Bars as rects between their pinned edges, lines (filled to zero when `fill`; points alone when `dots`, on
    thin stems from zero when `stems`)."""
    from renderers.charts import family

    layout = pinned.cartesian(canvas, bars, stacked, horizontal, dots)
    axes = Axes(canvas, layout.area)
    columns = [s.col for s in layout.bars] + [s.col for s in layout.lines]
    color = _color(canvas, columns, legend)
    if layout.bars:
        rows = []
        for s in layout.bars:
            for i, (base, value) in enumerate(zip(s.base, s.values)):
                edges = {"c0": i + s.offset, "c1": i + s.offset + s.width, "v0": base, "v1": base + value}
                rows.append({"name": s.col} | edges)
        encoding = (axes.encode("v0", "c0", x2="v1", y2="c1") if horizontal
                    else axes.encode("c0", "v0", x2="c1", y2="v1"))
        edges = {"stroke": "white", "strokeWidth": 1} if family(canvas.spec.chart_type).touching else {}
        layers.append({"data": {"values": rows}, "mark": {"type": "rect", **edges},
                       "encoding": encoding | {"color": color}})
    for k, s in enumerate(layout.lines):
        rows = [{"name": s.col, "i": x, "v": v} for x, v in zip(s.positions, s.values)]
        first = not layout.bars and k == 0 or s.on_right and not any(t.on_right for t in layout.lines[:k])
        encoding = axes.encode("i", "v", on_right=s.on_right, first=first) | {"color": color}
        if fill:
            layers.append({"data": {"values": rows}, "mark": {"type": "area", "opacity": 0.35},
                           "encoding": dict(encoding, y2={"datum": 0})})
        if stems:
            layers.append({"data": {"values": rows}, "mark": {"type": "rule", "strokeWidth": 2},
                           "encoding": dict(encoding, y2={"datum": 0})})
        if dots:
            mark = {"type": "point", "filled": True, "size": 80, "opacity": 1}
        else:
            mark = {"type": "line", "strokeWidth": 2, **({"point": {"filled": True, "size": 36}} if s.marked else {})}
        layers.append({"data": {"values": rows}, "mark": mark, "encoding": encoding | {"order": {"field": "i"}}})
    low = layout.area.frame.xrange[0] if horizontal else layout.area.frame.yrange[0]
    if low < 0:  # the zero line signed values stand on (its axis is the shared one: one layer without it drops it)
        zero = {"x": dict(axes.x, field="z")} if horizontal else {"y": dict(axes.y, field="z")}
        if layout.area.secondary_range:  # independent y scales: each layer would draw its own axis
            zero = {k: dict(v, axis=None) for k, v in zero.items()}
        layers.append({"data": {"values": [{"z": 0}]}, "mark": {"type": "rule", "color": "#444444"}, "encoding": zero})
    return layout.elements, axes


def bridge(layers: list[dict], canvas: Canvas, legend: dict | None) -> tuple[list[Element], Axes]:
    """pinned.bridge's floating bars as rects between their pinned edges, each in its own colour, thin connectors
    from each bar's end to the next (values printed by the shared compose step)."""
    placed = pinned.bridge(canvas)
    axes = Axes(canvas, placed.area)
    half = placed.width / 2
    rows = [{"c0": i - half, "c1": i + half, "v0": b, "v1": b + v, "color": c}
            for i, (b, v, c) in enumerate(zip(placed.base, placed.values, placed.colors))]
    layers.append({"data": {"values": rows}, "mark": {"type": "rect"},
                   "encoding": axes.encode("c0", "v0", x2="c1", y2="v1") | {"color": {"field": "color",
                                                                                    "type": "nominal", "scale": None,
                                                                                    "legend": None}}})
    links = [{"a": i + half, "b": i + 1 - half, "v": r["v1"]} for i, r in enumerate(rows[:-1])]
    layers.append({"data": {"values": links}, "mark": {"type": "rule", "color": "#888888", "strokeWidth": 0.6},
                   "encoding": axes.encode("a", "v", x2="b")})
    if placed.area.frame.yrange[0] < 0:  # a change that takes the running total below zero
        layers.append({"data": {"values": [{"z": 0}]}, "mark": {"type": "rule", "color": "#444444"},
                       "encoding": {"y": dict(axes.y, field="z")}})
    return placed.elements, axes


def boxes(layers: list[dict], canvas: Canvas, legend: dict | None) -> tuple[list[Element], Axes]:
    """pinned.boxes as rects between the quartiles, rules for the whiskers, caps and the median (Vega-Lite's boxplot
    mark computes its own statistics from raw values, which a row does not have)."""
    placed = pinned.boxes(canvas)
    axes = Axes(canvas, placed.area)
    half, cap = placed.width / 2, placed.width / 4
    rows = [{"c0": i - half, "c1": i + half, "q1": q1, "q3": q3} for i, (_, q1, _, q3, _) in enumerate(placed.stats)]
    box = {"type": "rect", "color": placed.color, "stroke": "#333333", "strokeWidth": 1}
    layers.append({"data": {"values": rows}, "mark": box, "encoding": axes.encode("c0", "q1", x2="c1", y2="q3")})
    whiskers = [{"i": i, "a": a, "b": b} for i, (lo, q1, _, q3, hi) in enumerate(placed.stats)
                for a, b in ((lo, q1), (q3, hi))]
    layers.append({"data": {"values": whiskers}, "mark": {"type": "rule", "color": "#333333"},
                   "encoding": axes.encode("i", "a", y2="b")})
    caps = [{"a": i - cap, "b": i + cap, "v": v} for i, (lo, _, _, _, hi) in enumerate(placed.stats) for v in (lo, hi)]
    layers.append({"data": {"values": caps}, "mark": {"type": "rule", "color": "#333333"},
                   "encoding": axes.encode("a", "v", x2="b")})
    medians = [{"a": i - half, "b": i + half, "v": med} for i, (_, _, med, _, _) in enumerate(placed.stats)]
    layers.append({"data": {"values": medians}, "mark": {"type": "rule", "color": placed.median_color,
                                                         "strokeWidth": 2.5},
                   "encoding": axes.encode("a", "v", x2="b")})
    return placed.elements, axes


def radar(layers: list[dict], canvas: Canvas, legend: dict | None) -> tuple[list[Element], Axes]:
    """pinned.radar drawn in image pixels on hidden scales: grey rings and spokes, each column a closed polygon
    (unfilled: Vega-Lite has no polygon mark), the spokes' names and the rings' values as text (value labels by the
    shared compose step)."""
    shape, style = pinned.radar(canvas), canvas.style
    axes = Axes(canvas, shape.area)
    font_px = style.font_size * style.dpi / 72
    grey = {"type": "line", "color": "#cccccc", "strokeWidth": 0.8}
    for ring in shape.rings:
        rows = [{"x": x, "y": y, "k": k}
                for k, (x, y) in enumerate(shape.at(a, ring) for a in shape.angles + shape.angles[:1])]
        layers.append({"data": {"values": rows}, "mark": grey,
                       "encoding": axes.encode("x", "y") | {"order": {"field": "k"}}})
    spokes = [{"x": shape.centre[0], "y": shape.centre[1], "x2": x, "y2": y} for x, y in
              (shape.at(a, shape.reach) for a in shape.angles)]
    layers.append({"data": {"values": spokes}, "mark": {"type": "rule", "color": "#cccccc", "strokeWidth": 0.8},
                   "encoding": axes.encode("x", "y", x2="x2", y2="y2")})
    color = _color(canvas, list(shape.vertices), legend)
    for col, points in shape.vertices.items():
        rows = [{"name": col, "x": x, "y": y, "k": k} for k, (x, y) in enumerate(points + points[:1])]
        encoding = axes.encode("x", "y") | {"color": color, "order": {"field": "k"}}
        line = {"type": "line", "strokeWidth": 2, **({"point": {"filled": True, "size": 36}} if style.markers else {})}
        layers.append({"data": {"values": rows}, "mark": line, "encoding": encoding})
    anchors = {0.0: "left", 0.5: "center", 1.0: "right"}, {0.0: "top", 0.5: "middle", 1.0: "bottom"}
    for content, x, y, ax, ay in shape.spoke_labels(canvas.spec.data.index, pinned.RADAR_NAME_GAP_PX):
        layers.append(text(canvas, content, x, y, anchors[0][ax], anchors[1][ay], font_px))
    for content, x, y in shape.ring_labels(style):
        layers.append(text(canvas, content, x + pinned.RADAR_NAME_GAP_PX / 2, y, "left", "middle", font_px))
    return shape.elements, axes


def stacked_area(layers: list[dict], canvas: Canvas, legend: dict | None) -> tuple[list[Element], Axes]:
    """pinned.layers' bands as areas between their pinned edges, opaque, in the table's order (values printed by
    the shared compose step, in the ink pinned chose for each band)."""
    placed = pinned.layers(canvas)
    axes = Axes(canvas, placed.area)
    color = _color(canvas, [layer.col for layer in placed.layers], legend)
    for k, layer in enumerate(placed.layers):
        rows = [{"name": layer.col, "i": i, "low": low, "high": high}
                for i, (low, high) in enumerate(zip(layer.base, layer.top))]
        layers.append({"data": {"values": rows}, "mark": {"type": "area", "opacity": 1},
                       "encoding": axes.encode("i", "high", y2="low", first=k == 0) | {"color": color}})
    return placed.elements, axes


def pie(layers: list[dict], canvas: Canvas, legend: dict | None, hole: float = 0.0) -> tuple[list[Element], None]:
    """Slices from 12 o'clock clockwise in the table's order, each named (and valued when the style says so) on the
    slice where the name fits across it, else just outside the rim beside it."""
    spec, style, table = canvas.spec, canvas.style, canvas.spec.data
    size = style.font_size * style.dpi / 72
    values = table.column(table.columns[0])
    names = [slice_name(row, style.font_family, size, style.width_px) for row in table.index]
    labels = [f"{name} {canvas.fmt(v)}{spec.unit}" if style.value_labels else name for name, v in zip(names, values)]

    def wide(label: str) -> float:
        return max(text_width(line, style.font_family, size) for line in label.split("\n"))

    def tall(label: str) -> float:
        return size * 1.3 * (label.count("\n") + 1)

    plot_w = style.width_px - canvas.left - canvas.right
    plot_h = style.height_px - canvas.top - canvas.bottom
    widest = max(wide(label) for label in labels)
    outer = max(plot_h / 4, min(plot_h / 2 * 0.92, plot_w / 2 - widest - PIE_LABEL_GAP_PX * 2))
    rows = [{"name": row, "i": i, "v": v} for i, (row, v) in enumerate(zip(table.index, values))]
    layers.append({"data": {"values": rows}, "mark": {"type": "arc", "outerRadius": outer, "innerRadius": outer * hole,
                                                       "stroke": "white", "strokeWidth": 1},
                   "encoding": {"theta": {"field": "v", "type": "quantitative", "stack": True},
                                "color": _color(canvas, table.index, None), "order": {"field": "i"}}})
    cx, cy = canvas.left + plot_w / 2, canvas.top + plot_h / 2
    inside = outer * (0.5 + hole / 2 if hole else 0.62)
    total, start = sum(values), 0.0
    outside: list[tuple[float, float, str]] = []  # (x, y, label) of names set beside the rim
    for i, (label, v) in enumerate(zip(labels, values)):
        sweep = 2 * math.pi * v / total
        middle = start + sweep / 2
        start += sweep
        x, y = cx + inside * math.sin(middle), cy - inside * math.cos(middle)
        if _inside_slice(x, y, wide(label), tall(label), (cx, cy), (outer * hole, outer),
                         (middle - sweep / 2, middle + sweep / 2)):
            layers.append(text(canvas, label, x, y, "center", "middle", size, ink(canvas.color(i))))
        else:
            rim = outer + PIE_LABEL_GAP_PX
            outside.append((cx + rim * math.sin(middle), cy - rim * math.cos(middle), label))
    for right in (True, False):  # names on one side kept clear of each other, pushed down in reading order
        placed = sorted((p for p in outside if (p[0] >= cx) == right), key=lambda p: p[1])
        floor = -math.inf  # the lowest edge set so far
        for x, y, label in placed:
            y = max(y, floor + tall(label) / 2)
            floor = y + tall(label) / 2
            layers.append(text(canvas, label, x, y, "left" if right else "right", "middle", size))
    return pinned.slices(canvas), None


def heatmap(layers: list[dict], canvas: Canvas, legend: dict | None) -> tuple[list[Element], Axes]:
    """pinned.cells' grid as rects on the same two-colour scale (Vega's gradient legend is the colour bar), each
    value printed over its cell in ink that reads on the fill."""
    table, style = canvas.spec.data, canvas.style
    grid = pinned.cells(canvas)
    axes = Axes(canvas, grid.area)
    rows = [{"v": v, "c0": j - 0.5, "c1": j + 0.5, "r0": i - 0.5, "r1": i + 0.5}
            for i, values in enumerate(table.data) for j, v in enumerate(values)]
    plot_h = style.height_px - canvas.top - canvas.bottom
    color = {"field": "v", "type": "quantitative",
             "scale": {"domain": [grid.low, grid.high], "range": [pinned.HEAT_LOW, grid.high_color], "interpolate": "rgb"},
             "legend": {"orient": "right", "title": None, "gradientLength": plot_h * 0.9, "gradientThickness": 12,
                        "labelColor": TEXT_COLOR, "offset": 8,
                        "format": ",.6~f" if style.number_format is NumberFormat.THOUSANDS else ".6~f"}}
    layers.append({"data": {"values": rows}, "mark": {"type": "rect", "stroke": "white", "strokeWidth": 1},
                   "encoding": axes.encode("c0", "r0", x2="c1", y2="r1") | {"color": color}})
    size = style.font_size * style.dpi / 72 * 0.85
    for element, content in zip(grid.elements, grid.texts):
        x0, y0, x1, y1 = element.bbox
        layers.append(text(canvas, content, (x0 + x1) / 2, (y0 + y1) / 2, "center", "middle", size, ink(element.color)))
    return grid.elements, axes


def _inside_slice(x: float, y: float, width: float, height: float, centre: tuple[float, float],
                  radii: tuple[float, float], angles: tuple[float, float]) -> bool:
    """Whether a label box centred at (x, y) lies within a slice's ring and wedge (angles clockwise from 12 o'clock),
    a couple of pixels clear of its edges: only then is it set on the slice, in ink for the slice's fill."""
    cx, cy = centre
    for px in (x - width / 2, x + width / 2):
        for py in (y - height / 2, y + height / 2):
            radius = math.hypot(px - cx, py - cy)
            angle = math.atan2(px - cx, cy - py) % (2 * math.pi)
            if not radii[0] + 2 <= radius <= radii[1] - 2:
                return False
            if angles[1] - angles[0] < 2 * math.pi and not angles[0] <= angle <= angles[1] \
                    and not angles[0] <= angle + 2 * math.pi <= angles[1]:
                return False
    return True


def scatter(layers: list[dict], canvas: Canvas, legend: dict | None) -> tuple[list[Element], Axes]:
    table, style = canvas.spec.data, canvas.style
    placed = pinned.points(canvas)
    area = PlotArea(placed.frame, "value", "value")
    axes = Axes(canvas, area)
    rows = [{"name": table.columns[1], "x": x, "y": y, "s": (e.bbox[2] - e.bbox[0]) ** 2}  # a symbol's box area
            for x, y, e in zip(table.column(table.columns[0]), table.column(table.columns[1]), placed.elements)]
    layers.append({"data": {"values": rows}, "mark": {"type": "point", "filled": True, "opacity": 1,
                                                     "stroke": "white", "strokeWidth": 1},
                   "encoding": axes.encode("x", "y") | {"color": _color(canvas, [table.columns[1]], None),
                                                        "size": {"field": "s", "type": "quantitative", "scale": None}}})
    size = style.font_size * style.dpi / 72
    for element, name, (sx, sy) in zip(placed.elements, table.index, placed.sides):
        x0, y0, x1, y1 = element.bbox
        x = (x1 + 1 if sx > 0 else x0 - 1)
        y = (y0 - 1 if sy < 0 else y1 + 1)
        layers.append(text(canvas, name, x, y, "left" if sx > 0 else "right", "bottom" if sy < 0 else "top", size))
    return placed.elements, axes


def drawing(layers: Layers, **options) -> Callable[[ChartSpec, StyleSpec, str], Rendered]:
    """A family's Vega-Lite drawing: `layers(figure_layers, canvas, legend, **options)` appends its layers and
    returns the marks' boxes and the axes; margins, furniture, value labels, legend and the PNG are shared."""
    return partial(render_vegalite, add_layers=partial(layers, **options) if options else layers)


def _to_svg(figure: dict) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(figure)


def render_vegalite(spec: ChartSpec, style: StyleSpec, lang: str, add_layers: Layers) -> Rendered:
    from renderers.charts import family

    chart = family(spec.chart_type)
    _register_font_directory(font_path(style.font_family))
    table = spec.data
    width, height = style.width_px, style.height_px
    show_legend = style.legend != "none" and len(table.columns) > 1 and chart.keyed

    def draw(where: str, style: StyleSpec) -> tuple[list[dict], Canvas, list[Element], Axes | None]:
        page = Page.of(spec, style, lang, chart)
        canvas = page.canvas(where)
        legend = None if where == "none" else {"orient": LEGEND_ORIENT[where], "title": None, "labelColor": TEXT_COLOR}
        if where in ("top", "bottom"):  # a row at the plot's left, under the title or above the source lines
            row_top = page.legend_top if where == "top" else \
                height * 0.99 - page.below_px - page.legend_rows_px + page.font_px * 0.6
            legend |= {"orient": "none", "direction": "horizontal", "legendX": 0, "legendY": row_top - canvas.top,
                       "columns": page.legend_columns}
        layers: list[dict] = []
        elements, axes = add_layers(layers, canvas, legend)
        return layers, canvas, elements, axes

    def compose(where: str, style: StyleSpec) -> tuple[str, list[Element], dict[str, float], list[str]]:
        layers, canvas, elements, axes = draw(where, style)
        page = Page.of(spec, style, lang, chart)
        font_px, furniture_px = page.font_px, page.furniture_px
        if style.title_loc != "none":
            left_title = style.title_loc == "left"
            layers.append(text(canvas, page.title, width * 0.02 if left_title else width / 2,
                               height * 0.02, "left" if left_title else "center", "top", font_px * furniture.TITLE_EM))
        line = furniture_px * 1.5
        for i, content in enumerate(page.above):
            layers.append(text(canvas, content, width - 6, canvas.top - page.band_top + 2 + i * line, "right", "top",
                               furniture_px))
        for i, content in enumerate(reversed(page.below)):
            layers.append(text(canvas, content, 6, height - 4 - i * line, "left", "bottom", furniture_px))
        for i, content in enumerate(page.subtitle):
            layers.append(text(canvas, content, width * 0.02, canvas.top - page.band_top + 2 + i * line, "left", "top",
                               furniture_px))
        for col, x, y, separator in canvas.panel_titles() if chart.panels else ():
            layers.append(text(canvas, col, x, y, "center", "bottom", font_px))
            if separator is not None:
                layers.append(rule(canvas, separator, canvas.top, separator, height - canvas.bottom,
                                   pinned.RULE_COLOR, 0.8))
        arrow = pinned.callout_arrow(canvas, elements)
        if arrow:
            content, tip_x, tip_y, tail_x, tail_y = arrow
            layers.append(text(canvas, content, tail_x, tail_y, "right", "bottom", furniture_px))
            layers.append(rule(canvas, tail_x, tail_y, tip_x, tip_y - 2, "#333333", 1))
        vertical = furniture.vertical_title(spec, style)
        if vertical and axes:  # 縦書き: upright characters, one a line, left of the tick labels
            column = text(canvas, vertical, canvas.left_of_ticks(axes.area.frame.yrange),
                          (canvas.top + height - canvas.bottom) / 2,
                          "center", "middle", font_px)
            column["mark"] |= {"lineBreak": "\n", "lineHeight": font_px * 1.15}
            layers.append(column)
        for content, x, y, anchor in canvas.table_cells() if chart.data_table else ():
            layers.append(text(canvas, content, x, y, anchor, "middle", furniture_px))
        for x0, x1, y in canvas.table_rules() if chart.data_table else ():
            layers.append(rule(canvas, x0, y, x1, y, pinned.RULE_COLOR, 0.6))
        for predicted in canvas.value_labels:
            x0, y0, x1, y1 = predicted.bbox
            layers.append(text(canvas, predicted.text, (x0 + x1) / 2, (y0 + y1) / 2, "center", "middle",
                               predicted.size_px, predicted.color or TEXT_COLOR))
        figure = {"$schema": VEGA_LITE_SCHEMA, "background": "white", "autosize": {"type": "none"},
                  "width": width - canvas.left - canvas.right, "height": height - canvas.top - canvas.bottom,
                  "padding": {"left": canvas.left, "top": canvas.top, "right": canvas.right, "bottom": canvas.bottom},
                  "config": {"font": style.font_family, "view": {"stroke": None},
                             "axis": {"labelFontSize": font_px, "titleFontSize": font_px, "domainColor": "#444444",
                                      "tickColor": "#444444", "gridColor": "#e5e5e5"},
                             "legend": {"labelFontSize": font_px, "symbolSize": 100, "symbolOpacity": 1,
                                        "labelLimit": 0}},
                  "layer": layers}
        if axes and axes.area.secondary_range:
            figure["resolve"] = {"scale": {"y": "independent"}, "axis": {"y": "independent"}}
        unlabelled = canvas.unlabelled(table.columns if chart.cells else table.index) if axes else []
        return _to_svg(figure), elements, axes.steps if axes else {}, unlabelled

    return pinned.finish(spec, style, lang, style.legend if show_legend else "none",
                         lambda where, style: draw(where, style)[1].predicted_texts(), compose)
