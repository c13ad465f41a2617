"""Spec + style → image bytes, element boxes and render checks. Deterministic; never runs generated code.

Which renderer draws which chart family, and how, is declared by the family (renderers/charts/)."""

from __future__ import annotations

from typing import get_args

from schemas.chart import ChartSpec
from schemas.render import Rendered
from schemas.sample import RendererName
from schemas.style import StyleSpec

RENDERER_NAMES = get_args(RendererName)


def render(spec: ChartSpec, style: StyleSpec, renderer: str, lang: str) -> Rendered:
    from renderers.charts import family
    from renderers.checks import drawn_steps

    if renderer not in RENDERER_NAMES:
        raise ValueError(f"unknown renderer {renderer!r}; choose one of {', '.join(RENDERER_NAMES)}")
    chart = family(spec.chart_type)
    draw = chart.draw.get(renderer)
    if draw is None:
        raise ValueError(f"chart_type={spec.chart_type.value!r} cannot be drawn by renderer={renderer!r}; "
                         f"it is drawn by {', '.join(chart.draw)}")
    if style.value_labels and not chart.value_labels:  # the family prints its values otherwise, or not at all
        style = style.model_copy(update={"value_labels": False})
    drawn = draw(spec, style, lang)
    return drawn.model_copy(update={"tick_steps": drawn_steps(drawn.tick_steps, drawn.elements)})
