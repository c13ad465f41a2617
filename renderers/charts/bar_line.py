"""Bars of 1–2 series with a line of another unit on a right-hand axis (e.g. loans and the NPL ratio)."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.BAR_LINE,
    topic_axes=("period",),
    series=(1, 2),
    secondary_axis=True,
    draw={"matplotlib": mpl.drawing(mpl.two_axes, bars_left=True), "plotly": plotly.drawing(plotly.cartesian, bars=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True)},
)
