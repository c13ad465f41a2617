"""Lines of 1–3 series over time, filled down to zero."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from renderers.charts.line import at_least_two_periods
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.AREA,
    topic_axes=("period",),
    periods=(4, 10),
    rules=at_least_two_periods,
    draw={"matplotlib": mpl.drawing(mpl.lines, fill=True),
          "plotly": plotly.drawing(plotly.cartesian, bars=False, fill=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=False, fill=True)},
)
