"""What each LLM step must return. The JSON Schema sent to the server is derived from these models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.chart import ChartSpec, ChartType, DataTable, Label
from schemas.qa import Program


class SeriesDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label
    values: list[float] = Field(min_length=1, description="one value per category, in category order")


class DataDraft(BaseModel):
    """The data step's answer: legend-and-series form, which models write more reliably than a split table."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=80)
    unit: str = Field(default="", max_length=20, description="e.g. 億円, 万人, %, 千台")
    decimals: int = Field(default=0, ge=0, le=3)
    categories: list[Label] = Field(min_length=2, max_length=24, description="x-axis labels, e.g. 2021/1 or 2023年度")
    series: list[SeriesDraft] = Field(min_length=1, max_length=6)

    def to_spec(self, chart_type: ChartType, y_title: str = "") -> ChartSpec:
        """The ChartSpec it describes; ChartSpec's validators decide whether it can be drawn as `chart_type`."""
        for s in self.series:
            if len(s.values) != len(self.categories):
                raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(self.categories)} categories")
        table = DataTable(index=self.categories, columns=[s.name for s in self.series],
                          data=[[round(s.values[i], self.decimals) for s in self.series]
                                for i in range(len(self.categories))])
        return ChartSpec(chart_type=chart_type, title=self.title, unit=self.unit, decimals=self.decimals,
                         y_title=y_title, data=table)


class QADraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=300)
    qa_type: Literal["retrieval", "compositional"]
    program: Program = Field(description="the computation that answers the question, over the table's labels")
    answer: str = Field(min_length=1, max_length=100, description="the answer with its unit")


class QADrafts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[QADraft] = Field(min_length=1, max_length=8)


class LLMUsage(BaseModel):
    """Token counts per step, summed over a run; cost when prices are given."""

    model_config = ConfigDict(extra="forbid")
    requests: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_step: dict[str, dict[str, int]] = Field(default_factory=dict)

    def cost(self, price_per_mtok: tuple[float, float]) -> float:
        prompt, completion = price_per_mtok
        return (self.prompt_tokens * prompt + self.completion_tokens * completion) / 1e6

    def add(self, step: str, prompt: int, completion: int, cached: bool) -> None:
        """Count one answer; a cached one costs nothing."""
        row = self.by_step.setdefault(step, {"requests": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0})
        key = "cached" if cached else "requests"
        row[key] += 1
        setattr(self, key, getattr(self, key) + 1)
        if not cached:
            row["prompt_tokens"] += prompt
            row["completion_tokens"] += completion
            self.prompt_tokens += prompt
            self.completion_tokens += completion

    def merge(self, other: LLMUsage) -> None:
        for step, row in other.by_step.items():
            mine = self.by_step.setdefault(step, dict.fromkeys(row, 0))
            for k, v in row.items():
                mine[k] += v
        self.requests += other.requests
        self.cached += other.cached
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


class VerificationCounts(BaseModel):
    """What the verifier did to LLM-proposed answers."""

    model_config = ConfigDict(extra="forbid")
    kept: int = 0
    corrected: int = 0
    dropped: int = 0


class LLMStats(BaseModel):
    """Per shard, in the manifest: what the LLM chain cost and what verification and dedup did."""

    model_config = ConfigDict(extra="forbid")
    usage: LLMUsage = Field(default_factory=LLMUsage)
    verification: VerificationCounts = Field(default_factory=VerificationCounts)
    topics: int = 0
    distinct_topics: int = 0

    def merge(self, other: LLMStats) -> None:
        self.usage.merge(other.usage)
        for key in ("kept", "corrected", "dropped"):
            setattr(self.verification, key, getattr(self.verification, key) + getattr(other.verification, key))
        self.topics += other.topics
        self.distinct_topics += other.distinct_topics


class LLMReply(BaseModel):
    """One answer from an OpenAI-compatible server, as the response cache stores it (`cached` is not stored)."""

    model_config = ConfigDict(extra="forbid")
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
