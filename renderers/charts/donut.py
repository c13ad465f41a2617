"""Shares of a whole as a ring."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from renderers.charts.pie import shares
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.DONUT,
    topic_axes=("share",),
    round=True,
    rules=shares,
    draw={"matplotlib": mpl.drawing(mpl.pie, donut=True), "plotly": plotly.drawing(plotly.pie, hole=0.45),
          "vegalite": vegalite.drawing(vegalite.pie, hole=0.45)},
)
