"""The furniture of a real Japanese (or English) report around a chart: 図表番号 before the title, （単位：…） above
the plot, 出典 and 注 lines below it. What is printed is recorded in the style (chosen by pipeline/style.py); both
chart renderers place it outside the axes, where reports do, and measure it like any other text."""

from __future__ import annotations

import re

from renderers.numbers import format_number
from schemas.chart import ChartSpec
from schemas.style import StyleSpec

UNIT_LINE = {"ja": "（単位：{unit}）", "en": "(Unit: {unit})"}
TWO_AXES_UNIT_LINE = {"ja": "（単位：左軸 {left}、右軸 {right}）", "en": "(Unit: left axis {left}; right axis {right})"}
TITLE_WITH_NUMBER = {"ja": "{number}　{title}", "en": "{number}: {title}"}
TITLE_EM = 1.25  # the chart title's size, in font sizes
SIZE = 0.85  # furniture is set a little smaller than the axis labels, as reports do
TABLE_LINE = 1.5  # a data table's row pitch, in its font sizes
CALLOUT_CLEAR = 0.1  # a record stands this share of the value range above every other value: its callout, above
# and left of it, clears every other mark and its label
CALLOUT_OFFSET_EM = (2.2, 0.6)  # the callout's text ends this far left of and above the mark it points at


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


def subtitle(spec: ChartSpec, style: StyleSpec) -> list[str]:
    """Lines printed above the plot, left-aligned: the subtitle, the span a time series covers."""
    if not (style.subtitle and spec.timeline and len(spec.data.index) > 1):
        return []
    return [style.subtitle.format(first=spec.data.index[0], last=spec.data.index[-1])]


def callout(spec: ChartSpec, style: StyleSpec) -> tuple[str, str] | None:
    """(row, column) the callout's arrow points at: the first series' last value, when the family draws each value
    as one upright mark against one axis and that value is the highest of every value shown, clearly (a record high
    is a fact of the data, and its callout must not cover another mark)."""
    from renderers.charts import family

    if not (style.callout and spec.timeline and family(spec.chart_type).upright and not spec.secondary_series):
        return None
    col = spec.data.columns[0]
    record = spec.data.column(col)[-1]
    others = [v for c in spec.data.columns for v in spec.data.column(c)]
    others.remove(record)
    span = max(record, *others) - min(0.0, *others)
    if len(spec.data.index) < 3 or record <= 0 or any(v > record - CALLOUT_CLEAR * span for v in others):
        return None
    return spec.data.index[-1], col


VERTICAL_FORMS = str.maketrans("（）「」ー", "︵︶﹁﹂丨")
VERTICAL_MAX = 12  # characters: longer titles are turned, as they fit no plot's height
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff（）「」・ー]+")


def vertical_title(spec: ChartSpec, style: StyleSpec) -> str | None:
    """The value axis's title written top to bottom (縦書き: one character a line, brackets in their vertical forms),
    where the style asks and the title is all Japanese and short enough; None: written turned, as usual."""
    from renderers.charts import family

    title, chart = spec.y_title, family(spec.chart_type)
    axes_across = not (chart.round or chart.cells or chart.paired or chart.horizontal or chart.radial)
    if not (style.vertical_title and title and len(title) <= VERTICAL_MAX and _JAPANESE.fullmatch(title)
            and axes_across):
        return None
    return "\n".join(title.translate(VERTICAL_FORMS))


BUBBLE_KEY = {"ja": "注：円の大きさは{size}を表す。", "en": "Note: bubble area shows {size}."}


def below(spec: ChartSpec, style: StyleSpec, lang: str) -> list[str]:
    """Lines printed below the chart, left-aligned: source, then note, then what a bubble's size shows."""
    from renderers.charts import family

    key = BUBBLE_KEY[lang].format(size=spec.data.columns[2]) if family(spec.chart_type).sized else None
    return [line for line in (style.source, style.note, key) if line]


def table_rows(spec: ChartSpec, style: StyleSpec, lang: str) -> list[tuple[str, list[str]]]:
    """A data table's rows under the plot (families with `data_table`): each series' name and its values as printed,
    one per category, in the category's column."""
    return [(col, [format_number(v, spec.decimals_of(col), style, lang) for v in spec.data.column(col)])
            for col in spec.data.columns]


def texts(spec: ChartSpec, style: StyleSpec, lang: str) -> list[str]:
    """Every furniture text drawn (for the glyph check)."""
    return [title(spec, style, lang), *above(spec, style, lang), *subtitle(spec, style), *below(spec, style, lang),
            *([style.callout] if callout(spec, style) else []), vertical_title(spec, style) or ""]
