"""帯グラフ, the white paper's staple: one horizontal bar per period (or group) split into the shares of its parts,
each bar filling 100 %. The parts are the series; every row's shares sum to 100 (`meaning`)."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartSpec, ChartType


def parts(spec: ChartSpec) -> None:
    if len(spec.data.columns) < 2:
        raise ValueError(f"band needs at least two parts (columns), got {spec.data.columns!r}")


FAMILY = ChartFamily(
    chart_type=ChartType.BAND,
    topic_axes=("share",),
    periods=(2, 5),
    stacks=True,
    horizontal=True,
    shares_per_category=True,
    rules=parts,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=True, stacked=True),
          "plotly": plotly.drawing(plotly.cartesian, bars=True, stacked=True, horizontal=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True, stacked=True, horizontal=True)},
)
