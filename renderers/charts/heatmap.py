"""A heatmap: periods or categories down the side, 3–4 series across, every cell coloured by its value on one ramp
(with a colour bar) and printed in it — read like a table, seen like a chart."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

FAMILY = ChartFamily(
    chart_type=ChartType.HEATMAP,
    topic_axes=("period", "category"),
    series=(3, 4),
    topic_series=3,
    horizontal=True,
    cells=True,
    value_labels=False,  # printed in every cell whatever the style says
    draw={"matplotlib": mpl.drawing(mpl.heatmap), "plotly": plotly.drawing(plotly.heatmap),
          "vegalite": vegalite.drawing(vegalite.heatmap)},
)
