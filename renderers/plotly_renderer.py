"""plotly + kaleido renderer. Geometry is pinned (fixed margins, explicit ranges, explicit bar offsets), so every
mark's pixel box is computed, not guessed. One Chromium per process is kept open (kaleido's sync server)."""

from __future__ import annotations

import math
import os
import shutil

from renderers.errors import SetupError
from renderers.fonts import font_path, missing_glyphs
from renderers.numbers import format_number
from schemas.chart import ChartSpec, ChartType
from schemas.render import Element, RenderChecks, Rendered
from schemas.style import NumberFormat, StyleSpec

INSTALL_HINT = "plotly rendering needs kaleido>=1 and a Chromium (`apt-get install chromium`, or set BROWSER_PATH)"
SUPPORTED = frozenset(ChartType) - {ChartType.TABLE}
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_browser_ok = False


def _check_browser() -> None:
    """Fail fast: kaleido's server thread dies silently without a browser, and the caller would wait forever."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit and not os.access(explicit, os.X_OK):
        raise SetupError(f"BROWSER_PATH={explicit!r} is not an executable browser. {INSTALL_HINT}")
    if not explicit and not any(shutil.which(name) for name in BROWSERS):
        raise SetupError(f"no Chromium/Chrome on PATH. {INSTALL_HINT}")


def _to_png(fig, width: int, height: int) -> bytes:
    """Render through this process's one kaleido browser; a first failure means the browser is missing or broken."""
    global _browser_ok
    import kaleido

    if not _browser_ok:
        _check_browser()
    try:
        kaleido.start_sync_server(n=1, mathjax=False, silence_warnings=True)
        png = kaleido.calc_fig_sync(fig, opts={"format": "png", "width": width, "height": height, "scale": 1})
    except Exception as error:
        if _browser_ok:
            raise
        raise SetupError(f"{INSTALL_HINT}; kaleido said: {error}") from error
    _browser_ok = True
    return png


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


def render_plotly(spec: ChartSpec, style: StyleSpec, lang: str) -> Rendered:
    import plotly.graph_objects as go

    if spec.chart_type not in SUPPORTED:
        raise ValueError(f"plotly renderer does not draw chart_type={spec.chart_type!r}")
    font_path(style.font_family)
    table, kind = spec.data, spec.chart_type
    width, height = style.width_px, style.height_px
    font_px = style.font_size * style.dpi / 72
    label_px = max(len(s) for s in table.index) * font_px * 0.95
    n = len(table.index)
    horizontal = kind is ChartType.BARH
    round_chart = kind in (ChartType.PIE, ChartType.DONUT)
    fmt = (lambda v, col=table.columns[0]: format_number(v, spec.decimals_of(col), style, lang))
    show_legend = style.legend != "none" and len(table.columns) > 1 and not round_chart

    top = 20 + (font_px * 2.2 if style.title_loc != "none" else 0) + (font_px * 2 if show_legend and style.legend == "top" else 0)
    left = 30 + font_px * 4 + (label_px if horizontal else 0)
    right = 30 + (font_px * 5 if kind is ChartType.BAR_LINE else 0)
    right += max(len(c) for c in table.columns) * font_px + 50 if show_legend and style.legend == "right" else 0
    rotation = math.sin(math.radians(style.label_rotation)) if not horizontal else 0
    bottom = 30 + font_px * 3 + label_px * rotation + (font_px * 2 if show_legend and style.legend == "bottom" else 0)

    fig = go.Figure()
    elements: list[Element] = []
    colors = [c.hex for c in style.palette]
    color = lambda i: colors[i % len(colors)]  # noqa: E731
    primary = [c for c in table.columns if c not in spec.secondary_series]
    category_range = [-0.5, n - 0.5]
    frame = None

    if round_chart:
        values = table.column(table.columns[0])
        fig.add_trace(go.Pie(labels=table.index, values=values, sort=False, direction="clockwise", rotation=0,
                             marker={"colors": [color(i) for i in range(n)]}, hole=0.45 if kind is ChartType.DONUT else 0,
                             textinfo="label+text" if style.value_labels else "label",
                             text=[f"{fmt(v)}{spec.unit}" for v in values], showlegend=False))
        elements += [Element(kind="slice", color=color(i), row=row, col=table.columns[0]) for i, row in enumerate(table.index)]
    elif kind is ChartType.SCATTER:
        xcol, ycol = table.columns
        xs, ys = table.column(xcol), table.column(ycol)
        frame = _Frame(left, top, width - right, height - bottom, _value_range(xs), _value_range(ys))
        middle = (frame.xrange[0] + frame.xrange[1]) / 2
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text", text=table.index,
                                 textposition=["top left" if x > middle else "top right" for x in xs],
                                 marker={"color": color(0), "size": 8}, showlegend=False))
        for row, x, y in zip(table.index, xs, ys):
            px, py = frame.px(x, y)
            elements.append(Element(kind="point", bbox=(px - 4, py - 4, px + 4, py + 4), color=color(0), row=row, col=ycol))
    else:
        stacked = kind is ChartType.STACKED_BAR
        bar_columns = primary if kind in (ChartType.BAR, ChartType.BARH, ChartType.GROUPED_BAR, ChartType.STACKED_BAR, ChartType.BAR_LINE) else []
        line_columns = [c for c in table.columns if c not in bar_columns]
        bar_values = [table.column(c) for c in bar_columns]
        if stacked:
            sums = [sum(vs) for vs in zip(*bar_values)]
            value_range = _value_range(sums)
        else:
            value_range = _value_range([v for c in (primary if kind is ChartType.BAR_LINE else table.columns) for v in table.column(c)])
        xr, yr = (value_range, [n - 0.5, -0.5]) if horizontal else (category_range, value_range)
        frame = _Frame(left, top, width - right, height - bottom, xr, yr)
        bar_w = style.bar_width if stacked else style.bar_width / max(1, len(bar_columns))
        base = [0.0] * n
        for j, (col, values) in enumerate(zip(bar_columns, bar_values)):
            offset = -style.bar_width / 2 + (0 if stacked else j * bar_w)
            positions = list(range(n))
            trace = dict(name=col, marker={"color": color(j)}, width=bar_w, offset=offset, base=list(base),
                         text=[fmt(v, col) for v in values] if style.value_labels else None,
                         textposition="inside" if stacked else "outside", cliponaxis=False)
            if horizontal:
                fig.add_trace(go.Bar(y=positions, x=values, orientation="h", **trace))
            else:
                fig.add_trace(go.Bar(x=positions, y=values, **trace))
            for i, (row, v) in enumerate(zip(table.index, values)):
                a, b = i + offset, i + offset + bar_w
                if horizontal:
                    (x0, y0), (x1, y1) = frame.px(base[i], a), frame.px(base[i] + v, b)
                else:
                    (x0, y0), (x1, y1) = frame.px(a, base[i]), frame.px(b, base[i] + v)
                box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
                elements.append(Element(kind="bar", bbox=box, color=color(j), row=row, col=col))
            if stacked:
                base = [b + v for b, v in zip(base, values)]
        secondary_range = _value_range([v for c in spec.secondary_series for v in table.column(c)]) if spec.secondary_series else None
        for j, col in enumerate(line_columns, start=len(bar_columns)):
            values = table.column(col)
            on_right = col in spec.secondary_series
            mode = "lines" + ("+markers" if style.markers else "") + ("+text" if style.value_labels else "")
            fig.add_trace(go.Scatter(x=list(range(n)), y=values, name=col, mode=mode, line={"color": color(j)},
                                     fill="tozeroy" if kind is ChartType.AREA else None,
                                     text=[fmt(v, col) for v in values], textposition="top center",
                                     yaxis="y2" if on_right else "y", cliponaxis=False))
            for i, (row, v) in enumerate(zip(table.index, values)):
                px, py = frame.px(i, v, secondary_range if on_right else None)
                elements.append(Element(kind="point", bbox=(px - 3, py - 3, px + 3, py + 3), color=color(j), row=row, col=col))

    tickformat = ",~f" if style.number_format is NumberFormat.THOUSANDS else "~f"
    layout = dict(
        width=width, height=height, template="simple_white" if not style.grid else "plotly_white",
        font={"family": style.font_family, "size": font_px},
        margin={"l": left, "r": right, "t": top, "b": bottom, "autoexpand": False},
        showlegend=show_legend, paper_bgcolor="white", plot_bgcolor="white", barmode="overlay",
    )
    if style.title_loc != "none":
        layout["title"] = {"text": spec.title, "x": 0.02 if style.title_loc == "left" else 0.5,
                           "xanchor": "left" if style.title_loc == "left" else "center", "yref": "container", "y": 0.98,
                           "yanchor": "top", "font": {"size": font_px * 1.25}}
    if show_legend:
        layout["legend"] = {
            "right": {"x": 1.02, "y": 1, "xanchor": "left", "yanchor": "top"},
            "upper left": {"x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top", "bgcolor": "rgba(255,255,255,0.7)"},
            "top": {"orientation": "h", "x": 0, "y": 1 - (20 + font_px * 2.2) / height, "yref": "container", "yanchor": "top"},
            "bottom": {"orientation": "h", "x": 0, "y": 0.01, "yref": "container", "yanchor": "bottom"},
        }[style.legend]
    if frame is not None:
        category_axis = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": table.index, "automargin": False}
        value_axis = {"tickformat": tickformat, "showgrid": style.grid, "automargin": False, "zeroline": True}
        x_title, y_title = (spec.y_title, spec.x_title) if horizontal else (spec.x_title, spec.y_title)
        if kind is ChartType.SCATTER:
            xaxis, yaxis = dict(value_axis), dict(value_axis)
        elif horizontal:
            xaxis, yaxis = dict(value_axis), dict(category_axis)
        else:
            xaxis, yaxis = dict(category_axis, tickangle=-style.label_rotation), dict(value_axis)
        layout["xaxis"] = dict(xaxis, range=frame.xrange, title={"text": x_title})
        layout["yaxis"] = dict(yaxis, range=frame.yrange, title={"text": y_title})
        if spec.secondary_series:
            layout["yaxis2"] = dict(value_axis, range=secondary_range, overlaying="y", side="right", tickmode="auto",
                                    title={"text": spec.series_unit[spec.secondary_series[0]]}, showgrid=False)
    fig.update_layout(**layout)
    png = _to_png(fig, width, height)
    texts = [spec.title, spec.x_title, spec.y_title, *spec.series_unit.values(), *table.index, *table.columns]
    checks = RenderChecks(missing_glyphs=len(missing_glyphs(texts, style.font_family)), measured_text_boxes=False)
    return Rendered(png=png, width=width, height=height, elements=elements, checks=checks)
