"""Two lines on two value axes: a measure on the left and another, in its own unit, on the right (sales and the
operating margin, visitors and the occupancy rate) — each read against its own ticks."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from renderers.charts.line import at_least_two_periods
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.DUAL_LINE,
    topic_axes=("period",),
    series=(1, 1),
    secondary_axis=True,
    periods=(5, 10),
    rules=at_least_two_periods,
    draw={"matplotlib": mpl.drawing(mpl.two_axes, bars_left=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=False),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=False)},
)
