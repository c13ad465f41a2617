"""What each LLM step must return. The JSON Schema sent to the server is derived from these models."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from schemas.chart import ChartSpec, ChartType, DataTable, Label
from schemas.qa import Op, Program


MAX_DECIMALS = 3


def decimals_written(value: float) -> int:
    """Digits after the point in the shortest form of `value` (as the model wrote it in JSON)."""
    text = repr(float(value))
    if "e" in text:
        mantissa, exponent = text.split("e")
        return max(0, len(mantissa.partition(".")[2].rstrip("0")) - int(exponent))
    return len(text.partition(".")[2].rstrip("0"))


LAST_UNIT = "the unit of the last series when it differs: the y measure of an x/y chart, the line of a bar+line chart"


class RowDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Label = Field(description="the category: a year, month, fiscal year, region, product …")
    values: list[float] = Field(min_length=1, description="one value per series, in the order of `series`")


class DataDraft(BaseModel):
    """The data step's answer as rows of {label, values}: one row per category keeps each value beside its label, and
    `sized` fixes how many rows and series there are so a schema-enforcing decoder cannot get the shape wrong."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=80)
    unit: str = Field(max_length=20, description="e.g. 億円, 万人, %, 千台 (of the first series where `last_unit` is asked)")
    series: list[Label] = Field(min_length=1, max_length=6, description="the legend: one name per series")
    rows: list[RowDraft] = Field(min_length=2, max_length=24)

    @classmethod
    @cache
    def sized(cls, rows: int, series: int, last_unit: bool = False) -> type[DataDraft]:
        """This shape with exactly `rows` rows of `series` values each; `last_unit` adds the last series' own unit
        (scatter's y measure, bar+line's line on the right-hand axis)."""
        row = create_model("RowDraft", __base__=RowDraft, values=(
            list[float], Field(min_length=series, max_length=series, description=RowDraft.model_fields["values"].description)))
        extra = {"last_unit": (str, Field(max_length=20, description=LAST_UNIT))} if last_unit else {}
        return create_model("DataDraft", __base__=cls, __doc__=cls.__doc__,
                            series=(list[Label], Field(min_length=series, max_length=series,
                                                       description=cls.model_fields["series"].description)),
                            rows=(list[row], Field(min_length=rows, max_length=rows)), **extra)

    def to_spec(self, chart_type: ChartType, y_title: str = "", *, paired: bool = False,
                secondary_axis: bool = False) -> ChartSpec:
        """The ChartSpec it describes, each column shown to the digits the model wrote (never rounded here);
        ChartSpec's validators decide whether it can be drawn as `chart_type`. `paired`: the two series are x and y
        (scatter); `secondary_axis`: the last series is drawn against a right-hand axis in its own unit."""
        for row in self.rows:
            if len(row.values) != len(self.series):
                raise ValueError(f"row {row.label!r} has {len(row.values)} values for {len(self.series)} series "
                                 f"{self.series!r}")
        fine = [f"{v!r} ({row.label})" for row in self.rows for v in row.values if decimals_written(v) > MAX_DECIMALS]
        if fine:
            raise ValueError(f"values {', '.join(fine[:3])} have more than {MAX_DECIMALS} digits after the point: "
                             "write them as a chart would show them")
        digits = [max(decimals_written(row.values[j]) for row in self.rows) for j in range(len(self.series))]
        table = DataTable(index=[row.label for row in self.rows], columns=self.series,
                          data=[list(row.values) for row in self.rows])
        fields: dict = {"unit": self.unit, "y_title": y_title}
        last_unit = getattr(self, "last_unit", None)  # only in a shape sized with last_unit=True
        if (paired or secondary_axis) and last_unit is None:
            raise ValueError(f"{chart_type} needs last_unit, the unit of the series {self.series[-1]!r}")
        if paired:  # x = the first series, y = the second: each axis titled with its measure and unit
            (x, y), ux = self.series, self.unit
            fields = {"unit": last_unit, "column_units": {x: ux}, "x_title": f"{x} ({ux})" if ux else x,
                      "y_title": f"{y} ({last_unit})" if last_unit else y}
        elif secondary_axis:
            fields |= {"column_units": {self.series[-1]: last_unit}, "secondary_series": [self.series[-1]]}
        shown = {c: d for c, d in zip(self.series, digits) if d != digits[0]}
        return ChartSpec(chart_type=chart_type, title=self.title, decimals=digits[0], column_decimals=shown,
                         data=table, **fields)


def pinned(model: type[BaseModel], **values: str) -> type[BaseModel]:
    """`model` with some fields fixed to one value (`const` in the schema): what the prompt gives, the decoder
    writes, so a small model cannot swap in its example's (a persona's domain)."""
    return create_model(model.__name__, __base__=model, **{name: (Literal[value], ...) for name, value in values.items()})


class QADraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=300)
    qa_type: Literal["retrieval", "compositional"]
    program: Program = Field(description="the computation that answers the question, over the table's labels")
    answer: str = Field(min_length=1, max_length=100, description="the answer with its unit")


class QADrafts(BaseModel):
    """What the QA step is checked against: items are validated one by one (`qa_drafts_schema`), so one question
    about a label that is not in the table drops that question, not the other three."""

    model_config = ConfigDict(extra="forbid")
    items: list[dict] = Field(min_length=1, max_length=8)


def qa_drafts_schema(args: Mapping[Op, tuple[str, ...]], rows: list[str], cols: list[str], count: int
                     ) -> tuple[type[BaseModel], type[QADraft]]:
    """The QA step's models for one table: each op's program names exactly the arguments it needs (`args`), and
    rows and columns are the table's own labels, so a decoder that enforces the schema cannot name others.
    Returns (the reply model sent as the schema, the model each item is validated with)."""
    row, col = Literal[tuple(rows)], Literal[tuple(cols)]
    kinds = {"row": row, "col": col, "start": row, "end": row, "rows": list[row],
             "other": create_model("CellRef", __config__=ConfigDict(extra="forbid"), row=(row, ...), col=(col, ...))}
    programs = [create_model(f"Program_{op.value}", __config__=ConfigDict(extra="forbid"), op=(Literal[op.value], ...),
                             **{name: (kinds[name], ...) for name in names})
                for op, names in args.items()]
    program = Annotated[Union[tuple(programs)], Field(discriminator="op", description=QADraft.model_fields[
        "program"].description)]
    item = create_model("QADraft", __base__=QADraft, program=(program, ...))
    reply = create_model("QADrafts", __config__=ConfigDict(extra="forbid"),
                         items=(list[item], Field(min_length=1, max_length=count)))
    return reply, item


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
