"""Lines of 1–3 series over time."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartSpec, ChartType


def at_least_two_periods(spec: ChartSpec) -> None:
    if len(spec.data.index) < 2:
        raise ValueError(f"{spec.chart_type} needs at least two categories, got {spec.data.index!r}")


FAMILY = ChartFamily(
    chart_type=ChartType.LINE,
    topic_axes=("period",),
    periods=(4, 10),
    rules=at_least_two_periods,
    draw={"matplotlib": mpl.drawing(mpl.lines, fill=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=False),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=False)},
)
