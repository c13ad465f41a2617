"""A waterfall (増減要因の分析, a profit bridge): last year's level, the signed factors that moved it — each floating
from the running total, rises and falls in their own colours — and this year's level, which is the first plus every
factor. The chart IR decks explain a change in operating profit with."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily, share_slack
from schemas.chart import ChartSpec, ChartType


def adds_up(spec: ChartSpec) -> None:
    values = [row[0] for row in spec.data.data]
    if len(spec.data.columns) != 1 or len(values) < 3:
        raise ValueError(f"waterfall needs one column of a level, at least one change and a level, got columns "
                         f"{spec.data.columns!r} and {len(values)} rows")
    expected = values[0] + sum(values[1:-1])
    if abs(values[-1] - expected) > share_slack(spec, len(values)):
        raise ValueError(f"waterfall's last level {spec.data.index[-1]!r} = {values[-1]:g} must be the first "
                         f"({values[0]:g}) plus the changes between ({expected:g})")


FAMILY = ChartFamily(
    chart_type=ChartType.WATERFALL,
    topic_axes=("bridge",),
    series=(1, 1),
    bridge=True,
    rules=adds_up,
    draw={"matplotlib": mpl.drawing(mpl.bridge), "plotly": plotly.drawing(plotly.bridge),
          "vegalite": vegalite.drawing(vegalite.bridge)},
)
