"""A stacked area: 2–4 additive series over time, each band laid on the ones below, so the top edge is the total —
the family's `stacks` rule keeps rates and temperatures out. A value is its band's thickness at a period."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from renderers.charts.line import at_least_two_periods
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.STACKED_AREA,
    topic_axes=("period",),
    series=(2, 4),
    topic_series=2,
    periods=(5, 12),
    stacks=True,
    rules=at_least_two_periods,
    draw={"matplotlib": mpl.drawing(mpl.layers), "plotly": plotly.drawing(plotly.layers),
          "vegalite": vegalite.drawing(vegalite.stacked_area)},
)
