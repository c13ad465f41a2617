"""The chain's objects (persona → topic → description → spec → QA), a finished sample, a shard row, the manifest."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.chart import ChartSpec, ChartType
from schemas.llm import LLMStats
from schemas.qa import QA
from schemas.style import StyleSpec

Lang = Literal["ja", "en"]
RendererName = Literal["matplotlib", "plotly", "vegalite", "table", "great_tables"]
ChartRenderer = Literal["matplotlib", "plotly", "vegalite"]  # the renderers a run or a regeneration may choose


class Persona(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: str
    role: str = Field(min_length=1, max_length=120, description="who asks, e.g. 銀行の投資判断担当")


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=200, description="what that persona works on")
    metric: str = Field(min_length=1, max_length=60, description="the quantity charted, as questions name it")


class Description(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=1000, description="a short passage the chart illustrates")


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    generator: Literal["template", "llm"]
    model: str | None = None
    prompt_version: str
    run_seed: int
    sample_index: int
    package_version: str
    style_seed: int | None = Field(default=None, description="set when the row was re-rendered with a new style seed")
    not_asked: dict[str, int] = Field(
        default_factory=dict, description="questions drafted but left out because the image cannot settle them: "
                                          "'unlabelled' (names a category whose label is left off), "
                                          "'inseparable' (marks too close to compare), 'unreadable' (not readable "
                                          "to the precision asked, or no single mark meant); '…_visual' for visual "
                                          "questions (redone, and recounted, when the chart is redrawn)")


class Sample(BaseModel):
    """Everything needed to redraw the image and re-verify every answer."""

    model_config = ConfigDict(extra="forbid")

    id: str
    lang: Lang
    renderer: RendererName
    persona: Persona
    topic: Topic
    description: Description
    spec: ChartSpec
    style: StyleSpec
    qa: list[QA] = Field(min_length=1)
    provenance: Provenance
    description_facts: list[QA] = Field(
        default_factory=list, description="what the description states, each as a question whose answer the "
                                          "verifier re-computes (template descriptions; an LLM's passage is checked "
                                          "for contradictions instead)")


class ImageCell(BaseModel):
    """Hugging Face `Image` feature storage: bytes plus an optional path."""

    bytes: bytes
    path: str | None = None


class Turn(BaseModel):
    """LLaVA conversation turn."""

    from_: Literal["human", "gpt"] = Field(alias="from")
    value: str
    model_config = ConfigDict(populate_by_name=True)


class QARecord(BaseModel):
    question: str
    answer: str
    qa_type: str
    answer_type: str
    unit: str
    verified: bool
    program: str = Field(description="JSON of schemas.qa.Program")
    read_from: str = Field(description="how the answer is read from the image (schemas.qa.READ_FROM)")
    tolerance: float = Field(description="how far a careful reader's answer may lie from `answer` (0: exact)")


class ShardRow(BaseModel):
    """One Parquet row. Nested objects that users read as a whole are JSON strings (spec, style, …)."""

    id: str
    image: ImageCell
    lang: str
    chart_type: str
    renderer: str
    persona: str
    topic: str
    metric: str = Field(default="", description="the quantity charted, as questions and descriptions name it")
    description: str
    description_facts: list[QARecord] = Field(default_factory=list,
                                              description="the facts `description` states, verified like the QA")
    table: str = Field(default="", description="the chart's data as a Markdown table (chart-to-table target): printed values as "
                                   "printed, else rounded to what the axis lets a reader read (then noted)")
    spec: str = Field(description="JSON of ChartSpec; spec['data'] is pandas split form")
    style: str = Field(description="JSON of StyleSpec")
    qa: list[QARecord]
    conversations: list[Turn]
    elements: str = Field(description="JSON list of schemas.render.Element: where each mark landed")
    render_checks: str = Field(description="JSON of schemas.render.RenderChecks")
    provenance: str = Field(description="JSON of Provenance")


class EvalQuestion(BaseModel):
    """One held-out question with its chart: the row of an exported evaluation set (e.g. the lmms-eval task), where
    tools expect one question per row rather than a chart with its QA list."""

    id: str = Field(description="sample id + '#' + the question's index in the sample")
    image: ImageCell
    question: str
    answer: str
    qa_type: str
    chart_type: str
    lang: str
    unit: str = Field(default="", description="the answer's unit, as printed after the number")
    read_from: str = Field(default="label", description="schemas.qa.READ_FROM")
    tolerance: float = Field(default=0.0, description="a numeric answer within this of `answer` (in `unit`) is right")


class Reject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    sample_index: int
    stage: Literal["generate", "validate", "render", "verify"]
    step: str | None = Field(default=None, description="llm: the chain step that failed (persona, topic, ...)")
    reason: str = Field(description="short, countable: e.g. missing_glyphs, answer_mismatch")
    detail: str
    raw: str | None = Field(default=None, description="llm: the model's last raw answer for the failing step")
    sample: dict | None = None


LLMStep = Literal["persona", "topic", "description", "data", "qa"]


class RunConfig(BaseModel):
    """What defines a run's output. Same config → same ids and the same image bytes."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=1, le=100_000_000)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    lang: Lang | Literal["mix"] = "ja"
    generator: Literal["template", "llm"] = "template"
    renderer: ChartRenderer | Literal["mix"] = "matplotlib"
    shard_size: int = Field(default=1000, ge=1, le=1_000_000)
    base_url: list[str] = Field(default_factory=list, description="llm: OpenAI-compatible servers, requests spread over them")
    model: str | None = Field(default=None, description="llm: model name as the server knows it")
    llm_mode: Literal["auto", "json_schema", "json_object", "text"] = Field(
        default="auto", description="structured output: json_schema (OpenAI, vLLM, Ollama), json_object+schema (llama.cpp)")
    max_in_flight: int = Field(default=16, ge=1, le=4096)
    timeout_s: float = Field(default=120.0, gt=0)
    outage_s: float = Field(default=600.0, ge=0, description="llm: how long to wait, paused, for servers that stop "
                            "answering before the run stops (finished shards are kept; rerun to resume)")
    requests_per_minute: int | None = Field(default=None, ge=1, description="llm: the provider's request limit "
                                            "(requests are spaced to keep it; 429s also slow the run down)")
    tokens_per_minute: int | None = Field(default=None, ge=1, description="llm: the provider's token limit, "
                                          "counted at request time as prompt estimate + max_tokens")
    batch: bool = Field(default=False, description="llm: send the chain's requests through the OpenAI Batch API "
                        "(half the price; answers within 24 h; a stopped run resumes its batches)")
    batch_poll_s: float = Field(default=30.0, gt=0, description="llm: how often a running batch is asked about")
    topics_per_persona: int = Field(default=1, ge=1, le=64, description="llm: topics drafted for each persona "
                                    "(fan-out: consecutive samples share the persona)")
    charts_per_topic: int = Field(default=1, ge=1, le=64, description="llm: charts drafted for each topic "
                                  "(consecutive samples share the topic; each draws its own chart family and data)")
    repair_attempts: int = Field(default=2, ge=0, le=10)
    temperature: float = Field(default=0.7, ge=0, le=2, description="llm: sampling temperature of every step")
    max_tokens: int = Field(default=1024, ge=16, description="llm: reply length limit of every step")
    step_temperature: dict[LLMStep, Annotated[float, Field(ge=0, le=2)]] = Field(
        default_factory=dict, description="llm: temperature of a step when it differs, e.g. {'qa': 0.2}")
    step_max_tokens: dict[LLMStep, Annotated[int, Field(ge=16)]] = Field(
        default_factory=dict, description="llm: reply length limit of a step when it differs, e.g. {'data': 2048}")
    price_per_mtok: tuple[float, float] | None = Field(default=None, description="llm: (prompt, completion) price per 1M tokens")

    @model_validator(mode="after")
    def _llm_needs_a_server(self) -> RunConfig:
        if self.generator == "llm" and (not self.base_url or not self.model):
            raise ValueError("generator 'llm' needs a server and a model: base_url (--base-url URL) and model "
                             "(--model NAME)")
        if self.generator != "llm" and (self.topics_per_persona, self.charts_per_topic) != (1, 1):
            raise ValueError("topics_per_persona (--topics-per-persona) and charts_per_topic (--charts-per-topic) fan "
                             "out the LLM chain's steps: they need generator 'llm' (--generator llm)")
        return self

    def persona_group(self, index: int) -> int:
        """The first sample of the samples sharing sample `index`'s persona (fan-out)."""
        size = self.topics_per_persona * self.charts_per_topic
        return index // size * size

    def topic_group(self, index: int) -> int:
        """The first sample of the samples sharing sample `index`'s topic (fan-out)."""
        return index // self.charts_per_topic * self.charts_per_topic

    def sampling(self, step: LLMStep) -> tuple[float, int]:
        """(temperature, max_tokens) for one step of the LLM chain."""
        return self.step_temperature.get(step, self.temperature), self.step_max_tokens.get(step, self.max_tokens)

    def identity(self) -> dict:
        """The fields a resumed run must share with the run that made the directory (n may only grow; servers,
        concurrency, rate limits, prices and the Batch API may change)."""
        return self.model_dump(exclude={"n", "base_url", "max_in_flight", "timeout_s", "outage_s", "price_per_mtok",
                                        "requests_per_minute", "tokens_per_minute", "batch", "batch_poll_s"})


class RegenerateConfig(BaseModel):
    """Which rows of an existing dataset to redo, and how. Rows not selected are carried over unchanged."""

    model_config = ConfigDict(extra="forbid")

    chart_types: list[ChartType] = Field(default_factory=list, description="select these chart types (empty: any)")
    langs: list[Lang] = Field(default_factory=list, description="select these languages (empty: any)")
    renderers: list[RendererName] = Field(default_factory=list, description="select rows drawn by these renderers "
                                          "(empty: any)")
    ids: list[str] = Field(default_factory=list)
    stale_prompts: bool = Field(default=False, description="select rows made with an older prompt version; re-run "
                                "their generator instead of re-rendering")
    style_seed: int | None = Field(default=None, description="re-render selected rows with styles from this seed "
                                   "(number formats kept, so answers still read like the chart); None: original style")
    renderer: ChartRenderer | None = Field(default=None, description="re-render with this renderer")

    def described(self) -> str:
        """The selection as the CLI flags that make it."""
        flags = [f"--chart-type {v}" for v in self.chart_types] + [f"--lang {v}" for v in self.langs] + [
            f"--from-renderer {v}" for v in self.renderers] + [f"--id {v}" for v in self.ids]
        return " ".join(flags + (["--stale-prompts"] if self.stale_prompts else [])) or "every row"

    def selects(self, row: dict) -> bool:
        return ((not self.chart_types or row["chart_type"] in self.chart_types)
                and (not self.langs or row["lang"] in self.langs)
                and (not self.renderers or row["renderer"] in self.renderers)
                and (not self.ids or row["id"] in self.ids))


class ShardEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int
    file: str = Field(description="path relative to the dataset directory")
    start: int
    stop: int
    rows: int
    rejects: int
    sha256: str
    llm: LLMStats | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format_version: int = 1
    package_version: str
    config: RunConfig
    shards: list[ShardEntry] = Field(default_factory=list)
    regenerated_from: str | None = Field(default=None, description="source dataset of a regenerate run")
    regeneration: RegenerateConfig | None = None

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)
