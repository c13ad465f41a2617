"""The data a chart is drawn from, and what makes it drawable and askable.

A ChartSpec is the one object every generator (template or LLM) must produce and every renderer draws.
Its validators reject specs that cannot be drawn or asked about honestly; each message names the value. The rules
that depend on the chart type live with its family (renderers/charts/).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

MAX_LABEL = 40
MAX_TITLE = 80
MAX_AXIS_TITLE = 60
MAX_UNIT = 20
MAX_CATEGORIES = 60
MAX_SERIES = 12
MAX_ABS_VALUE = 1e15  # beyond this a chart value is a generation error, not data

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL)]


class ChartType(StrEnum):
    BAR = "bar"
    BARH = "barh"
    GROUPED_BAR = "grouped_bar"
    STACKED_BAR = "stacked_bar"
    LINE = "line"
    AREA = "area"
    PIE = "pie"
    DONUT = "donut"
    SCATTER = "scatter"
    BAR_LINE = "bar_line"
    TABLE = "table"
    GROUPED_BARH = "grouped_barh"
    STACKED_BARH = "stacked_barh"
    BAND = "band"
    CHANGE = "change"
    DOT = "dot"
    HEATMAP = "heatmap"
    HISTOGRAM = "histogram"
    PYRAMID = "pyramid"
    LONG_LINE = "long_line"
    STACKED_AREA = "stacked_area"
    LOLLIPOP = "lollipop"
    WATERFALL = "waterfall"
    DUAL_LINE = "dual_line"
    BOX = "box"
    BAR_TABLE = "bar_table"
    SMALL_MULTIPLES = "small_multiples"
    RADAR = "radar"
    BUBBLE = "bubble"


class DataTable(BaseModel):
    """pandas "split" form, so `pandas.DataFrame(**spec["data"])` rebuilds it.

    `index` are the category labels (x axis, slices, table rows, scatter point names); `columns` are series names.
    """

    model_config = ConfigDict(extra="forbid")

    index: list[Label] = Field(min_length=1, max_length=MAX_CATEGORIES)
    columns: list[Label] = Field(min_length=1, max_length=MAX_SERIES)
    data: list[list[float]] = Field(min_length=1)

    @field_validator("index", "columns")
    @classmethod
    def _unique(cls, labels: list[str], info) -> list[str]:
        seen: set[str] = set()
        for label in labels:
            if label in seen:
                raise ValueError(f"duplicate label {label!r} would make questions about it ambiguous")
            seen.add(label)
        return labels

    @field_validator("data")
    @classmethod
    def _finite(cls, rows: list[list[float]]) -> list[list[float]]:
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if not math.isfinite(value):
                    raise ValueError(f"data[{i}][{j}] = {value!r} is not a finite number")
                if abs(value) > MAX_ABS_VALUE:
                    raise ValueError(f"data[{i}][{j}] = {value!r} is an absurd magnitude (limit {MAX_ABS_VALUE:g})")
        return rows

    @model_validator(mode="after")
    def _shape(self) -> DataTable:
        if len(self.data) != len(self.index):
            raise ValueError(f"data has {len(self.data)} rows but index has {len(self.index)} labels {self.index!r}")
        for i, row in enumerate(self.data):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"data[{i}] (row {self.index[i]!r}) has {len(row)} values but there are "
                    f"{len(self.columns)} columns {self.columns!r}"
                )
        return self

    def column(self, col: str) -> list[float]:
        j = self.columns.index(col)
        return [row[j] for row in self.data]


class HeaderGroup(BaseModel):
    """A merged header cell (結合セル) spanning `span` consecutive data columns of a table."""

    model_config = ConfigDict(extra="forbid")

    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_LABEL)]
    span: int = Field(ge=1, le=MAX_SERIES)


class ChartSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chart_type: ChartType
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
    x_title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_AXIS_TITLE)] = ""
    y_title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_AXIS_TITLE)] = ""
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_UNIT)] = Field(
        default="", description="unit of the values, e.g. 億円, 万人, %, 千台"
    )
    decimals: int = Field(default=0, ge=0, le=3, description="digits after the point the chart shows")
    data: DataTable
    column_decimals: dict[str, int] = Field(
        default_factory=dict, description="digits shown for a column when they differ from `decimals`"
    )
    secondary_series: list[Label] = Field(
        default_factory=list, description="families with a second value axis (bar_line, dual_line): series drawn against it"
    )
    column_units: dict[str, Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_UNIT)]] = Field(
        default_factory=dict, description="unit of a column when it differs from `unit` (a right-hand axis, scatter's x)"
    )
    header_groups: list[HeaderGroup] = Field(
        default_factory=list, description="table only: merged header cells above the column headers"
    )
    timeline: bool = Field(default=False, description="the rows are consecutive periods in order: questions and "
                           "descriptions may speak of change over time (growth, peaks, runs of rises)")

    @model_validator(mode="after")
    def _drawable(self) -> ChartSpec:
        from renderers.charts import family  # each family owns its data-shape rules

        family(self.chart_type).check(self)
        table = self.data
        unknown_units = [c for c in [*self.column_units, *self.column_decimals] if c not in table.columns]
        if unknown_units:
            raise ValueError(f"column_units/column_decimals name columns {unknown_units!r} not in {table.columns!r}")
        spans = sum(g.span for g in self.header_groups)
        if self.header_groups and spans != len(table.columns):
            raise ValueError(f"header_groups span {spans} columns but the table has {len(table.columns)} columns")
        return self

    def decimals_of(self, col: str) -> int:
        return self.column_decimals.get(col, self.decimals)

    @property
    def series_unit(self) -> dict[str, str]:
        return {c: self.column_units.get(c, self.unit) for c in self.data.columns}
