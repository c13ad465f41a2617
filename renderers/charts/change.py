"""Signed bars: each period's change on the one before in % (前年比増減率), rising above and falling below a zero
line — the chart where a reader must see the sign."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from renderers.charts.line import at_least_two_periods
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.CHANGE,
    topic_axes=("period",),
    series=(1, 1),
    periods=(5, 9),
    change_on_previous=True,
    rules=at_least_two_periods,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=False, stacked=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True)},
)
