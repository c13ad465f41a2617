"""The furniture of a real Japanese (or English) report around a chart: 図表番号 before the title, （単位：…） above
the plot, 出典 and 注 lines below it. What is printed is recorded in the style (chosen by pipeline/style.py); both
chart renderers place it outside the axes, where reports do, and measure it like any other text."""

from __future__ import annotations

from renderers.numbers import format_number
from schemas.chart import ChartSpec
from schemas.style import StyleSpec

UNIT_LINE = {"ja": "（単位：{unit}）", "en": "(Unit: {unit})"}
TWO_AXES_UNIT_LINE = {"ja": "（単位：左軸 {left}、右軸 {right}）", "en": "(Unit: left axis {left}; right axis {right})"}
TITLE_WITH_NUMBER = {"ja": "{number}　{title}", "en": "{number}: {title}"}
SIZE = 0.85  # furniture is set a little smaller than the axis labels, as reports do
TABLE_LINE = 1.5  # a data table's row pitch, in its font sizes


def title(spec: ChartSpec, style: StyleSpec, lang: str) -> str:
    return TITLE_WITH_NUMBER[lang].format(number=style.figure_number, title=spec.title) if style.figure_number \
        else spec.title


def above(spec: ChartSpec, style: StyleSpec, lang: str) -> list[str]:
    """Lines printed above the plot, right-aligned: the unit line (both axes' units where there are two)."""
    if not (style.unit_line and spec.unit):
        return []
    right = spec.series_unit.get(spec.secondary_series[0]) if spec.secondary_series else None
    if right:
        return [TWO_AXES_UNIT_LINE[lang].format(left=spec.unit, right=right)]
    return [UNIT_LINE[lang].format(unit=spec.unit)]


def below(style: StyleSpec) -> list[str]:
    """Lines printed below the chart, left-aligned: source, then note."""
    return [line for line in (style.source, style.note) if line]


def table_rows(spec: ChartSpec, style: StyleSpec, lang: str) -> list[tuple[str, list[str]]]:
    """A data table's rows under the plot (families with `data_table`): each series' name and its values as printed,
    one per category, in the category's column."""
    return [(col, [format_number(v, spec.decimals_of(col), style, lang) for v in spec.data.column(col)])
            for col in spec.data.columns]


def texts(spec: ChartSpec, style: StyleSpec, lang: str) -> list[str]:
    """Every furniture text drawn (for the glyph check)."""
    return [title(spec, style, lang), *above(spec, style, lang), *below(style)]
