"""The shipped seed lists (prompts/seeds.json): domains, their organisations and functions (→ personas) and the
topics they chart. Validated on load, so a bad edit names the field instead of failing deep in the generator."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LAST_YEAR = 2024  # the latest year a drawn period reaches

Bilingual = tuple[str, str]  # (ja, en)


class SeedMeasure(BaseModel):
    """One measured quantity: a scatter axis, a bubble's size, or the secondary (right-axis) series of a bar+line
    chart."""

    model_config = ConfigDict(extra="forbid")
    metric: Bilingual
    unit: Bilingual
    base: tuple[float, float] = Field(description="range the values are drawn from")
    decimals: int = Field(ge=0, le=3)


class SeedTopic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    axis: Literal["period", "category", "share", "pair", "bins", "bridge", "spread"] = Field(
        description="period: a time series; category: values per category; share: parts of 100 %; pair: x/y per "
                    "entity; bins: counts per bin of one measured range (age groups, price bands), categories in "
                    "order; bridge: a level one year and the next, and the factors (categories) that moved it; "
                    "spread: how one measure spreads within each category (a price per store, a time per site), "
                    "summarised as its minimum, quartiles and maximum")
    metric: Bilingual
    unit: Bilingual = ("", "")
    base: tuple[float, float] | None = None
    decimals: int = Field(default=0, ge=0, le=3)
    growth: tuple[float, float] = (0.0, 0.0)
    since: int | None = Field(default=None, ge=1950, le=LAST_YEAR - 1, description="the first year the measure exists "
                              "(5G subscriptions: 2020, NISA accounts: 2014): its periods start then or later")
    seasonal: bool = False
    additive: bool = Field(default=True, description="its series add up to a meaningful total (False: averages, "
                                                      "prices, overlapping groups, one measure in two years): only "
                                                      "additive topics are stacked")
    signed: bool = Field(default=False, description="values may fall below zero (営業利益, 収支): drawn about a zero "
                                                    "line, never stacked or shown as parts of a whole")
    series: list[Bilingual] = Field(default_factory=list)
    categories: list[Bilingual] = Field(default_factory=list)
    secondary: SeedMeasure | None = None
    x: SeedMeasure | None = None
    y: SeedMeasure | None = None
    size: SeedMeasure | None = Field(default=None, description="pair topics: a third measure per entity, drawn as "
                                                                 "each point's area in a bubble chart")

    def periods(self, season: int = 0) -> int | None:
        """How many periods (years, or months/quarters with `season`) the measure has had by LAST_YEAR; None: no
        start year, as many as asked."""
        return None if self.since is None else (LAST_YEAR - self.since + 1) * (season or 1)


class SeedDomain(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    orgs: list[Bilingual] = Field(min_length=1)
    functions: list[Bilingual] = Field(min_length=1)
    topics: list[SeedTopic] = Field(min_length=1)


class Seeds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    note: str = ""
    domains: list[SeedDomain] = Field(min_length=1)


class TemplateChoice(BaseModel):
    """What the template generator drew for one sample: a domain, one of its topics, an organisation and a function."""

    model_config = ConfigDict(extra="forbid")
    domain: SeedDomain
    topic: SeedTopic
    org: Bilingual
    function: Bilingual
