"""A population pyramid (人口ピラミッド): bins of one range (age groups) down the side, oldest on top, two groups
back to back — the first drawn leftwards from a central zero, the second rightwards; both read as distances from
zero, so left and right are compared bin by bin."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily, exactly_columns
from renderers.charts.histogram import counts
from schemas.chart import ChartSpec, ChartType


def two_sides(spec: ChartSpec) -> None:
    exactly_columns(spec, 2, "exactly two groups back to back")
    counts(spec)


FAMILY = ChartFamily(
    chart_type=ChartType.PYRAMID,
    topic_axes=("bins",),
    series=(2, 2),
    topic_series=2,
    horizontal=True,
    mirrored=True,
    rules=two_sides,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=True, stacked=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=True, horizontal=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True, horizontal=True)},
)
