"""Horizontal bars, one series: long category names read down the side."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.BARH,
    topic_axes=("period", "category", "share"),
    series=(1, 1),
    horizontal=True,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=True, stacked=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=True, horizontal=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True, horizontal=True)},
)
