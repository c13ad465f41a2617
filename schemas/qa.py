"""Questions, their answers, and the program that recomputes each answer from the data table."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QAType(StrEnum):
    RETRIEVAL = "retrieval"  # read one value: 2021/1の法人の預金等残高は何億円か
    VISUAL = "visual"  # find a mark by colour/position: 一番左の緑のバーの値は
    COMPOSITIONAL = "compositional"  # compute over several values: 2020/1から2022/1まで何億円増加したか


class AnswerType(StrEnum):
    NUMBER = "number"
    LABEL = "label"


class Op(StrEnum):
    VALUE = "value"  # table[row, col]
    DIFF = "diff"  # table[end, col] - table[start, col]
    SUM = "sum"  # sum of col over rows (all rows when empty)
    MEAN = "mean"  # mean of col over all rows
    RATIO = "ratio"  # table[row, col] / table[other.row, other.col], in 倍 / times
    GROWTH = "growth"  # (table[end, col] / table[start, col] - 1) * 100, in %
    MAX = "max"
    MIN = "min"
    ARGMAX = "argmax"  # label of the row with the largest col
    ARGMIN = "argmin"
    RANK = "rank"  # 1 + number of rows whose col is larger than table[row, col]
    PICK = "pick"  # visual: the mark of `color` (any colour when None) that is `order`-most, then its value
    UNIT = "unit"  # the unit the chart's unit line states for its values (（単位：億円）)
    SOURCE = "source"  # the source the chart cites, as printed after its 出典/資料/Source label
    COMPARE = "compare"  # yes/no: is table[row, col] larger than table[other.row, other.col]?
    COUNT_ABOVE = "count_above"  # how many rows of col exceed `threshold`
    FIRST_ABOVE = "first_above"  # the first row, in the table's order, whose col exceeds `threshold`
    LONGEST_RISE = "longest_rise"  # the most consecutive rises of col from one row to the next
    SERIES_COUNT = "series_count"  # how many series the chart shows (its legend's entries)
    ARGMAX_TOTAL = "argmax_total"  # label of the row whose values summed over every column are largest (tallest stack)


READ_FROM = {
    "label": "printed on the chart (a value label, a category label)",
    "cell": "a table cell",
    "axis": "a mark's position read against the value axis ticks, to a fifth of the tick step",
    "slice": "a pie slice's size without a label, to 2 points of the whole",
    "position": "which mark is larger, longer or further: the marks differ visibly",
}
ReadFrom = Literal["label", "cell", "axis", "slice", "position"]


class CellRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    row: str
    col: str


class Program(BaseModel):
    """A closed, typed computation over the table. Never code: the verifier interprets it."""

    model_config = ConfigDict(extra="forbid")

    op: Op
    col: str | None = None
    row: str | None = None
    rows: list[str] = Field(default_factory=list)
    start: str | None = None
    end: str | None = None
    other: CellRef | None = None
    color: str | None = Field(default=None, description="pick: hex colour of the marks to choose among")
    order: Literal["leftmost", "rightmost", "topmost", "bottommost"] | None = None
    threshold: float | None = Field(default=None, description="count_above, first_above: the value compared against")


class QA(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, max_length=100, description="as the chart would show it, with its unit")
    qa_type: QAType
    answer_type: AnswerType
    unit: str = ""
    program: Program
    verified: bool = False
    read_from: ReadFrom | None = Field(default=None, description="how the answer is read from the image (set after "
                                       "rendering): " + "; ".join(f"{k}: {v}" for k, v in READ_FROM.items()))
    tolerance: float = Field(default=0.0, ge=0, description="how far, in the answer's unit, a careful reader's answer "
                             "may lie from `answer` (0: exact as printed)")


class AnswerFailure(BaseModel):
    """Why the verifier refused an answer: `reason` is a short countable tag (it becomes a Reject's reason)."""

    model_config = ConfigDict(extra="forbid")
    reason: str
    detail: str
