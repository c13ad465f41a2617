"""Shares of a whole as slices: one column, non-negative, something to draw (in %, filling 100: `meaning`)."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartSpec, ChartType


def shares(spec: ChartSpec) -> None:
    table, kind = spec.data, spec.chart_type
    if len(table.columns) != 1:
        raise ValueError(f"{kind} needs exactly one column of shares, got columns {table.columns!r}")
    negative = [(label, row[0]) for label, row in zip(table.index, table.data) if row[0] < 0]
    if negative:
        raise ValueError(f"{kind} shares must not be negative: {negative!r}")
    total = sum(row[0] for row in table.data)
    if total <= 0:
        raise ValueError(f"{kind} shares sum to {total!r}; nothing to draw")



FAMILY = ChartFamily(
    chart_type=ChartType.PIE,
    topic_axes=("share",),
    round=True,
    rules=shares,
    draw={"matplotlib": mpl.drawing(mpl.pie, donut=False), "plotly": plotly.drawing(plotly.pie),
          "vegalite": vegalite.drawing(vegalite.pie)},
)
