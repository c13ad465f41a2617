"""A box plot (箱ひげ図): each category's spread as its five-number summary — the box from the lower to the upper
quartile, the median across it, whiskers to the minimum and maximum — as reports compare prices, times or scores
between stores, sites or classes. The columns are statistics of one measure, not series."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily, exactly_columns
from schemas.chart import ChartSpec, ChartType


def five_numbers(spec: ChartSpec) -> None:
    exactly_columns(spec, 5, "five statistics per category (minimum, lower quartile, median, upper quartile, "
                             "maximum)")
    for label, row in zip(spec.data.index, spec.data.data):
        if any(b < a for a, b in zip(row, row[1:])):
            raise ValueError(f"box {label!r}: its five numbers {row!r} must not decrease (minimum ≤ lower quartile ≤ "
                             "median ≤ upper quartile ≤ maximum)")


FAMILY = ChartFamily(
    chart_type=ChartType.BOX,
    topic_axes=("spread",),
    series=(5, 5),
    value_labels=False,
    summary=True,
    rules=five_numbers,
    draw={"matplotlib": mpl.drawing(mpl.boxes),
          "plotly": plotly.drawing(plotly.boxes),
          "vegalite": vegalite.drawing(vegalite.boxes)},
)
