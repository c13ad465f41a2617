"""A table of 2–4 series, drawn as a grid with optional merged header cells (結合セル) and a 単位 note."""

from renderers.charts.family import ChartFamily
from renderers.table import render_table
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.TABLE,
    topic_axes=("period", "category", "share"),
    series=(2, 4),
    cells=True,
    header_groups=True,
    draw={"table": render_table},
)
