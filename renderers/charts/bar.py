"""Vertical bars, one series: a value per period, category or share."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.BAR,
    topic_axes=("period", "category", "share"),
    series=(1, 1),
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=False, stacked=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True)},
)
