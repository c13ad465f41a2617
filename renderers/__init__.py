"""Spec + style → image bytes, element boxes and render checks. Deterministic; never runs generated code."""

from __future__ import annotations

from schemas.chart import ChartSpec, ChartType
from schemas.render import Rendered
from schemas.style import StyleSpec


def render(spec: ChartSpec, style: StyleSpec, renderer: str, lang: str) -> Rendered:
    if renderer == "table" or spec.chart_type is ChartType.TABLE:
        if renderer != "table" or spec.chart_type is not ChartType.TABLE:
            raise ValueError(f"chart_type={spec.chart_type!r} cannot be drawn by renderer={renderer!r}")
        from renderers.table import render_table

        return render_table(spec, style, lang)
    if renderer == "matplotlib":
        from renderers.mpl import render_matplotlib

        return render_matplotlib(spec, style, lang)
    if renderer == "plotly":
        from renderers.plotly_renderer import render_plotly

        return render_plotly(spec, style, lang)
    raise ValueError(f"unknown renderer {renderer!r}; choose matplotlib, plotly or table")
