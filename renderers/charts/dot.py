"""Dot plot: one dot per category and series, no bars or lines — values compared by position alone."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.DOT,
    topic_axes=("period", "category"),
    series=(1, 3),
    periods=(4, 8),
    draw={"matplotlib": mpl.drawing(mpl.lines, fill=False, dots=True),
          "plotly": plotly.drawing(plotly.cartesian, bars=False, dots=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=False, dots=True)},
)
