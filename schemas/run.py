"""What a run is made of and what it reports: the shards it plans, the drafts passed between its two steps, and the
summary the CLI prints and the Prefect flow publishes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.llm import LLMStats, LLMUsage
from schemas.sample import Reject, Sample


class ShardPlan(BaseModel):
    """One shard to make: samples `start` ≤ index < `stop`. The unit of work, retry and resume."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    index: int
    start: int
    stop: int

    @property
    def file(self) -> str:
        return f"data/shard-{self.index:05d}.parquet"

    @property
    def rejects_file(self) -> str:
        return rejects_file(self.index)


def rejects_file(index: int) -> str:
    return f"rejects/shard-{index:05d}.jsonl"


class ShardDrafts(BaseModel):
    """A shard's drafted samples (LLM replies already in), in sample order, before topic dedup and rendering.
    None when the samples are drafted where they are finished (the template generator, re-rendering)."""

    model_config = ConfigDict(extra="forbid")
    drafts: list[Sample | Reject] | None = None
    llm: LLMStats | None = None


class RunReport(BaseModel):
    """What a run's directory holds once the run is over, and what this run did."""

    model_config = ConfigDict(extra="forbid")
    rows: int = 0
    shards: int = 0
    kept_shards: int = Field(default=0, description="finished before this run and kept")
    built_shards: int = Field(default=0, description="made by this run")
    built_samples: int = Field(default=0, description="samples planned in the shards this run made")
    rebuilt: list[str] = Field(default_factory=list, description="finished shards found damaged and made again")
    rejects: dict[str, int] = Field(default_factory=dict, description="reason → count, most frequent first")
    seconds: float = 0.0
    llm: LLMStats | None = None
    llm_spent: LLMUsage | None = Field(default=None, description="every token the directory's runs were charged "
                                       "for, from the cache's ledger: probes, repairs and stopped runs included")
    price_per_mtok: tuple[float, float] | None = None

    @property
    def samples_per_second(self) -> float:
        """Samples this run planned and made (rows or rejects) per second; kept shards do not count."""
        return self.built_samples / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """The run's summary in a few lines (plain text that also reads as Markdown)."""
        rejects = ", ".join(f"{reason}: {count}" for reason, count in self.rejects.items()) or "none"
        pace = (f"{self.samples_per_second:.3g} samples/s" if self.built_shards else
                "nothing to do: every shard was already finished")
        earlier = f", {self.kept_shards} finished by an earlier run and kept" if self.kept_shards else ""
        lines = [f"{self.rows} samples in {self.shards} shards ({self.built_shards} made by this run{earlier}); "
                 f"rejects: {rejects}; {pace}"]
        lines += [f"{problem}: rebuilt" for problem in self.rebuilt]
        if self.llm:
            usage, checked = self.llm.usage, self.llm.verification
            cost = f", cost {usage.cost(self.price_per_mtok):.4f}" if self.price_per_mtok else ""
            lines.append(f"llm: {usage.requests} requests ({usage.cached} answered from cache), {usage.prompt_tokens} "
                         f"prompt + {usage.completion_tokens} completion tokens{cost}; answers kept {checked.kept}, "
                         f"corrected {checked.corrected}, dropped {checked.dropped}; distinct topics "
                         f"{self.llm.distinct_topics}/{self.llm.topics}")
        if self.llm_spent:
            spent = self.llm_spent
            cost = f", cost {spent.cost(self.price_per_mtok):.4f}" if self.price_per_mtok else ""
            lines.append(f"llm, all runs into this directory (probes, repairs and stopped runs included): "
                         f"{spent.requests} requests, {spent.prompt_tokens} prompt + {spent.completion_tokens} "
                         f"completion tokens{cost}")
        return "\n".join(lines)


class Diversity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    distinct_personas: int
    distinct_topics: int
    distinct_topic_ratio: float


class Answerability(BaseModel):
    """How one chart family drawn by one renderer fares against the image: questions asked (exactly: printed or
    compared; approximately: read against ticks or a slice's size), drafted questions left out, samples rejected."""

    model_config = ConfigDict(extra="forbid")
    rows: int = 0
    asked: int = 0
    exact: int = 0
    approximate: int = 0
    not_asked: dict[str, int] = Field(default_factory=dict)
    rejected: dict[str, int] = Field(default_factory=dict, description="samples, by reject reason")


class DatasetSummary(BaseModel):
    """What `chartsynth inspect` reports on a dataset directory (`--json` prints it). Each `by_*` field counts rows
    (or, for qa_type/answer_type, questions) per value, most frequent first; categories/series by size."""

    model_config = ConfigDict(extra="forbid")
    dir: str
    rows: int
    shards: int
    planned: int
    config: dict
    package_version: str
    by_lang: dict[str, int]
    by_chart_type: dict[str, int]
    by_renderer: dict[str, int]
    by_qa_type: dict[str, int]
    by_answer_type: dict[str, int]
    by_read_from: dict[str, int] = Field(default_factory=dict, description="'qa_type: read_from' → questions: how "
                                         "each kind of question is answered from the image (schemas.qa.READ_FROM)")
    by_style_palette_name: dict[str, int]
    by_style_legend: dict[str, int]
    by_style_number_format: dict[str, int]
    by_style_title_loc: dict[str, int]
    by_style_period_format: dict[str, int]
    by_categories: dict[str, int]
    by_series: dict[str, int]
    rejects_by_reason: dict[str, int]
    reject_examples: dict[str, str]
    diversity: Diversity
    render_check_failures: dict[str, int]
    render_check_examples: dict[str, list[str]]
    read_from_examples: dict[str, str] = Field(default_factory=dict, description="one question per 'qa_type: "
                                               "read_from', with its answer and tolerance and the row id")
    answerability: dict[str, Answerability] = Field(default_factory=dict, description="'chart_type · renderer' → "
                                                    "how its questions are answered from the image")
    examples_per_cell: dict[str, str] = Field(default_factory=dict, description="'chart_type · renderer · lang' → "
                                              "the first row id drawn that way (the report's gallery)")
    examples_per_furniture: dict[str, str] = Field(default_factory=dict, description="document furniture element "
                                                   "(pipeline.report.FURNITURE) → the first row id carrying it")
    flagged: list[str] = Field(default_factory=list, description="the first row ids shipped with a failed render "
                               "check or with questions not asked because the image could not settle them")
    flagged_total: int = 0
    render_check_rates: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="renderer → check → share of its drawn samples (rows and render rejects) "
                                          "failing it: overlapping_text is the text-over-text rate")

    def distributions(self) -> dict[str, dict[str, int]]:
        """The `by_*` counts, keyed without the prefix."""
        return {name.removeprefix("by_"): getattr(self, name) for name in type(self).model_fields
                if name.startswith("by_")}
