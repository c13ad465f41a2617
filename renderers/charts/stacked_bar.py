"""Bars of 2–4 series stacked per category: only non-negative values have an honest total."""

from renderers import mpl, plotly_renderer as plotly
from renderers.charts.family import ChartFamily
from schemas.chart import ChartSpec, ChartType


def _non_negative(spec: ChartSpec) -> None:
    if any(v < 0 for row in spec.data.data for v in row):
        raise ValueError("stacked_bar values must not be negative: a mixed-sign stack has no honest total")


FAMILY = ChartFamily(
    chart_type=ChartType.STACKED_BAR,
    topic_axes=("period", "category"),
    series=(2, 4),
    topic_series=2,
    rules=_non_negative,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=False, stacked=True),
          "plotly": plotly.drawing(plotly.cartesian, bars=True, stacked=True)},
)
