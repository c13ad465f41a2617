"""Horizontal bars of 2–3 series side by side per category: long category names read down the side."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.GROUPED_BARH,
    topic_axes=("period", "category"),
    series=(2, 3),
    topic_series=2,
    periods=(3, 6),
    horizontal=True,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=True, stacked=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=True, horizontal=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True, horizontal=True)},
)
