"""A long time series: one or two lines over 20–30 years, as statistics bulletins chart them — too many points to
print each value, so values are read against the ticks."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from renderers.charts.line import at_least_two_periods
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.LONG_LINE,
    topic_axes=("period",),
    series=(1, 2),
    periods=(20, 30),
    rules=at_least_two_periods,
    draw={"matplotlib": mpl.drawing(mpl.lines, fill=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=False),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=False)},
)
