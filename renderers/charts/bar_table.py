"""Bars with their data table beneath (IR decks, 決算説明資料): the bars show the trend, the table under them gives
every value — a column under each period, a row per series — so values are read from the table, not the axis."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.BAR_TABLE,
    topic_axes=("period",),
    series=(1, 3),
    periods=(4, 6),
    value_labels=False,  # printed in the table instead
    data_table=True,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=False, stacked=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True)},
)
