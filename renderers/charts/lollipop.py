"""A lollipop: one series, each value a dot on a thin stem from zero — a bar chart's reading with less ink, as
rankings in reports draw it."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily, exactly_columns
from schemas.chart import ChartSpec, ChartType


def one_series(spec: ChartSpec) -> None:
    exactly_columns(spec, 1, "one series (stems of several would stand on each other)")


FAMILY = ChartFamily(
    chart_type=ChartType.LOLLIPOP,
    topic_axes=("period", "category"),
    series=(1, 1),
    periods=(5, 10),
    rules=one_series,
    draw={"matplotlib": mpl.drawing(mpl.lines, fill=False, dots=True, stems=True),
          "plotly": plotly.drawing(plotly.cartesian, bars=False, dots=True, stems=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=False, dots=True, stems=True)},
)
