"""Bars of 2–4 series side by side per category."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.GROUPED_BAR,
    topic_axes=("period", "category"),
    series=(2, 4),
    topic_series=2,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=False, stacked=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True)},
)
