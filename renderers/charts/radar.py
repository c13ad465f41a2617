"""A radar chart (レーダーチャート): 5–8 categories as spokes from one centre, each series a closed polygon through its
values, read against rings — how one or a few entities score across aspects (満足度 by item, shares by region)."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartSpec, ChartType


def from_the_centre(spec: ChartSpec) -> None:
    negative = [(row, v) for row, values in zip(spec.data.index, spec.data.data) for v in values if v < 0]
    if negative:
        raise ValueError(f"radar values are distances from its centre: {negative[0][0]!r} has {negative[0][1]:g}")
    if len(spec.data.index) < 3:
        raise ValueError(f"a radar needs 3 spokes at least, got categories {spec.data.index!r}")


FAMILY = ChartFamily(
    chart_type=ChartType.RADAR,
    topic_axes=("category",),
    series=(1, 3),
    radial=True,
    fewest_categories=5,
    rules=from_the_centre,
    draw={"matplotlib": mpl.drawing(mpl.radar), "plotly": plotly.drawing(plotly.radar),
          "vegalite": vegalite.drawing(vegalite.radar)},
)
