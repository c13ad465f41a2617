"""A table of 2–4 series with optional merged header cells (結合セル), its 単位 line, 出典 and 注: drawn as a
matplotlib grid, or in the great_tables style (HTML laid out by Chromium)."""

from renderers.charts.family import ChartFamily
from renderers.gt_table import render_gt_table
from renderers.table import render_table
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.TABLE,
    topic_axes=("period", "category", "share"),
    series=(2, 4),
    cells=True,
    header_groups=True,
    draw={"table": render_table, "great_tables": render_gt_table},
)
