"""A histogram: counts per bin of one measured range (age groups, price bands, scores), bins in order along the
bottom, each bar filling its bin so neighbours touch — the shape of a distribution rather than a ranking."""

from renderers import mpl, plotly_renderer as plotly, vegalite
from renderers.charts.family import ChartFamily, exactly_columns
from schemas.chart import ChartSpec, ChartType


def counts(spec: ChartSpec) -> None:
    """Counts in at least three ordered bins, none negative."""
    if len(spec.data.index) < 3:
        raise ValueError(f"{spec.chart_type} needs at least three bins, got {spec.data.index!r}")
    negative = [(row, v) for row, values in zip(spec.data.index, spec.data.data) for v in values if v < 0]
    if negative:
        raise ValueError(f"{spec.chart_type} counts must not be negative: bin {negative[0][0]!r} has {negative[0][1]:g}")


def one_measure(spec: ChartSpec) -> None:
    exactly_columns(spec, 1, "one count per bin (two groups back to back: pyramid)")
    counts(spec)


FAMILY = ChartFamily(
    chart_type=ChartType.HISTOGRAM,
    topic_axes=("bins",),
    series=(1, 1),
    touching=True,
    rules=one_measure,
    draw={"matplotlib": mpl.drawing(mpl.bars, horizontal=False, stacked=False),
          "plotly": plotly.drawing(plotly.cartesian, bars=True),
          "vegalite": vegalite.drawing(vegalite.cartesian, bars=True)},
)
