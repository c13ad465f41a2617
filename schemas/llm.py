"""What each LLM step must return. The JSON Schema sent to the server is derived from these models."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from schemas.chart import ChartSpec, DataTable
from schemas.qa import Op, Program


MAX_DECIMALS = 3


def decimals_written(value: float) -> int:
    """Digits after the point in the shortest form of `value` (as the model wrote it in JSON)."""
    text = repr(float(value))
    if "e" in text:
        mantissa, exponent = text.split("e")
        return max(0, len(mantissa.partition(".")[2].rstrip("0")) - int(exponent))
    return len(text.partition(".")[2].rstrip("0"))


class ValuesDraft(BaseModel):
    """The data step's answer: the chart's title and its numbers, one object per series keyed by the category labels.
    Labels, series and units come from the sample's plan (the seed bank), so a decoder that enforces `sized`'s schema
    cannot get the table's shape wrong and a small model writes only what it can: a title and magnitudes."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=80, description="the chart's title, naming what is measured")
    values: dict[str, dict[str, float]]

    @classmethod
    @cache
    def sized(cls, series: tuple[str, ...], labels: tuple[str, ...], whole: tuple[bool, ...], measure: str,
              lang: str) -> type[ValuesDraft]:
        """This shape with exactly these series, each with exactly these category labels (object keys: required,
        nothing else allowed); a series whose measure is counted in whole units (`whole`) takes integers, so a
        grammar-constrained decoder cannot write 28.9119999 where 29 is meant; the title names the `measure`."""
        def per_series(kind: type) -> type[BaseModel]:
            return create_model(f"{kind.__name__.title()}Series", __config__=ConfigDict(extra="forbid"),
                                **{f"c{i}": (kind, Field(alias=label)) for i, label in enumerate(labels)})

        values = create_model("Values", __config__=ConfigDict(extra="forbid"), **{
            f"s{j}": (per_series(int if integer else float), Field(alias=name))
            for j, (name, integer) in enumerate(zip(series, whole, strict=True))})
        title = Field(max_length=80, pattern=names(measure, lang), description=cls.model_fields["title"].description)
        return create_model("ValuesDraft", __base__=cls, __doc__=cls.__doc__, title=(str, title), values=(values, ...))

    def filled(self, plan: ChartSpec, settle: Callable[[list[list[float]], str], list[list[float]]] | None = None
               ) -> ChartSpec:
        """`plan` with these values and this title, each column shown to the digits the model wrote (never rounded
        here), after `settle(rows, unit)` computes what the chart family's arithmetic fixes (ChartFamily.settle);
        ChartSpec's validators decide whether it can be drawn."""
        written = self.values.model_dump(by_alias=True) if isinstance(self.values, BaseModel) else self.values
        columns, index = plan.data.columns, plan.data.index
        fine = [f"{v!r} ({c}, {label})" for c in columns for label, v in written[c].items()
                if decimals_written(v) > MAX_DECIMALS]
        if fine:
            raise ValueError(f"values {', '.join(fine[:3])} have more than {MAX_DECIMALS} digits after the point: "
                             "write them as a chart would show them")
        rows = [[written[c][label] for c in columns] for label in index]
        rows = settle(rows, plan.unit) if settle else rows
        digits = [max(decimals_written(row[j]) for row in rows) for j in range(len(columns))]
        fields = plan.model_dump() | {
            "title": self.title, "decimals": digits[0],
            "column_decimals": {c: d for c, d in zip(columns, digits) if d != digits[0]},
            "data": DataTable(index=index, columns=columns, data=rows).model_dump()}
        return ChartSpec.model_validate(fields)


def pinned(model: type[BaseModel], naming: Mapping[str, str] = {}, lang: str = "en", **values: str
           ) -> type[BaseModel]:
    """`model` with some fields fixed to one value (`const` in the schema) and some made to name a phrase
    (`naming`: a `pattern`): what the prompt gives, the decoder writes, so a small model can neither swap in its
    example's domain nor write a topic that never names its measure."""
    fields = {name: (Literal[value], ...) for name, value in values.items()}
    fields |= {name: (str, Field(pattern=names(phrase, lang))) for name, phrase in naming.items()}
    return create_model(model.__name__, __base__=model, **fields)


def names(phrase: str, lang: str, before: int = 20, after: int = 50) -> str:
    """A regular expression for a one-line text naming `phrase` (its first letter in either case) — what a
    grammar-constrained decoder (llama.cpp, OpenAI strict, xgrammar) can enforce. English starts with it ("loan
    balance by …": a small model forced to splice it mid-sentence mangles words, "carNet sales company"); Japanese,
    whose measure often closes the phrase (部門別の売上高), may have up to `before` characters first."""
    head, rest = phrase[:1], _literal(phrase[1:])
    first = f"[{head.upper()}{head.lower()}]" if head.upper() != head.lower() else _literal(head)
    any_char = r'[^"\\\x00-\x1f]'  # not `.`: a quote would end the JSON string early; one line, no control characters
    lead = f"{any_char}{{0,{before}}}" if lang == "ja" else ""
    return f"^{lead}{first}{rest}{any_char}{{0,{after}}}$"


def _literal(text: str) -> str:
    """`text` as a regular expression matching itself, escaping only what regex syntax needs (llama.cpp's pattern
    converter reads `\\ ` as a backslash, where Python's re.escape would write one before a space)."""
    return re.sub(r"([.^$*+?{}\[\]()|\\])", r"\\\1", text)


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
