"""Bars of 2–4 series stacked per category: the family's `stacks` rule keeps only totals that mean something."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType


FAMILY = ChartFamily(
    chart_type=ChartType.STACKED_BAR,
    topic_axes=("period", "category"),
    series=(2, 4),
    topic_series=2,
    stacks=True,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=False, stacked=True),
          "plotly": plotly.drawing(plotly.cartesian, bars=True, stacked=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True, stacked=True)},
)
