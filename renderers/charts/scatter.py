"""One named point per entity at (x, y): two measures, each its own column and unit."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartSpec, ChartType


def _two_columns(spec: ChartSpec) -> None:
    if len(spec.data.columns) != 2:
        raise ValueError(f"scatter needs exactly two columns (x, y), got {spec.data.columns!r}")


FAMILY = ChartFamily(
    chart_type=ChartType.SCATTER,
    topic_axes=("pair",),
    paired=True,
    value_labels=False,
    rules=_two_columns,
    draw={"matplotlib": mpl.drawing(mpl.scatter), "plotly": plotly.drawing(plotly.scatter),
          "vegalite": vegalite.drawing(vegalite.scatter)},
)
