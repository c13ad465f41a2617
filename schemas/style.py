"""How a chart looks. Sampled from a seed, stored with every row, so the image can be redrawn byte for byte."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class NamedColor(BaseModel):
    """A palette entry with the words a question may use for it."""

    model_config = ConfigDict(extra="forbid")

    hex: str = Field(pattern=r"^#[0-9a-f]{6}$")
    ja: str
    en: str


class PeriodFormat(StrEnum):
    """How period labels are written. Chosen with the style but baked into the data labels, since questions quote them."""

    FY = "fy"  # FY2023
    NENDO = "nendo"  # 2023年度
    WAREKI = "wareki"  # 令和5年度 (平成30年度 before 2019)
    YEAR_MONTH = "year_month"  # 2021/1
    QUARTER = "quarter"  # 2023年1Q, 2023年第1四半期, 2023年1-3月, Q1 2023, 1Q23
    YEAR = "year"  # 2023 / 2023年


class NumberFormat(StrEnum):
    PLAIN = "plain"  # 12345
    THOUSANDS = "thousands"  # 12,345
    MAN_OKU = "man_oku"  # ja, for units without a scale of their own: 1.23万 / 4.56億 (12,345 below 10,000)


class StyleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width_px: int = Field(ge=240, le=2400)
    height_px: int = Field(ge=180, le=2400)
    dpi: int = Field(ge=50, le=300)
    font_size: float = Field(ge=6, le=24)
    font_family: str = "IPAexGothic"
    palette_name: str
    palette: list[NamedColor] = Field(min_length=1)
    legend: Literal["right", "top", "bottom", "upper left", "none"] = "right"
    grid: bool = True
    value_labels: bool = False
    label_rotation: Literal[0, 30, 45, 90] = 0
    number_format: NumberFormat = NumberFormat.THOUSANDS
    full_width_digits: bool = Field(default=False, description="ja only: ０１２ instead of 012 in value labels")
    minus: Literal["-", "−", "△", "▲"] = Field(default="-", description="how value labels, table cells, answers and "
                                                "descriptions write a negative number (ja reports: △ or ▲); axis "
                                                "ticks keep their renderer's sign")
    period_format: PeriodFormat = PeriodFormat.YEAR
    title_loc: Literal["left", "center", "none"] = "center"
    markers: bool = True
    bar_width: float = Field(default=0.7, ge=0.3, le=0.95)
    figure_number: str | None = Field(default=None, description="図表番号 printed before the title, e.g. 図表1-2-3")
    unit_line: bool = Field(default=False, description="（単位：億円） printed above the plot, outside the axes")
    source: str | None = Field(default=None, description="出典/Source line printed below the chart")
    note: str | None = Field(default=None, description="注/Note line printed below the chart")
    subtitle: str | None = Field(default=None, description="a line under the title giving the span a time series "
                                 "covers, as this format writes it ({first}, {last}: its first and last periods); "
                                 "printed above the plot's top left, on time series only")
    callout: str | None = Field(default=None, description="a callout (過去最高) with an arrow to the first series' "
                                "last value, printed only where that value is the highest of every period shown")
    mixed_scale: bool = Field(default=False, description="ja: answers and descriptions write an amount in 億 of 1兆 "
                              "and above with its 兆 split off (1兆2,345億円), as reports do in prose")
    vertical_title: bool = Field(default=False, description="the value axis's title written top to bottom (縦書き), "
                                 "where it is all Japanese and short enough (sampled for ja only)")
