"""Small multiples: 2–4 series over the same periods, each in a panel of its own side by side, all against one value
axis — compared by level across panels and by shape within one, without a legend (each panel is titled)."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.SMALL_MULTIPLES,
    topic_axes=("period",),
    series=(2, 4),
    topic_series=2,
    periods=(4, 6),
    panels=True,
    draw={"matplotlib": mpl.drawing(mpl.lines, fill=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=False),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=False)},
)
