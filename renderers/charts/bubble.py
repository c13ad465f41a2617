"""A bubble chart: one named point per entity at (x, y), its area a third measure (従業員数, 純資産総額) — two measures
read against axes, the third compared by size, with a note saying what the size shows."""

from renderers.charts.family import ChartFamily, exactly_columns
from renderers.charts.scatter import FAMILY as SCATTER
from schemas.chart import ChartSpec, ChartType


def _sized(spec: ChartSpec) -> None:
    exactly_columns(spec, 3, "x, y and each bubble's size")
    size = spec.data.columns[2]
    small = [(row, v) for row, v in zip(spec.data.index, spec.data.column(size)) if v <= 0]
    if small:
        raise ValueError(f"bubble {small[0][0]!r}: size {size!r} must be above zero (a bubble's area), got {small[0][1]:g}")


FAMILY = ChartFamily(
    chart_type=ChartType.BUBBLE,
    topic_axes=("pair",),
    paired=True,
    sized=True,
    value_labels=False,
    rules=_sized,
    draw=SCATTER.draw,  # the scatter's drawings size each point by a third column when there is one
)
