"""Questions and answers: one table (`OPS`) says, for every Op, how its answer is computed from the table and how it
is written (unit, decimals, sign). The template generator, the LLM answer correction and the verifier all read it.

Adding an op: one `OPS` entry (+ its evaluation below), its phrasings in prompts/template_text.json, a test.
The question builder computes its numbers with pandas; `evaluate` recomputes them in plain Python, so a bug in one
cannot hide in the other.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

import prompts
from pipeline.style import pick
from renderers.charts import family
from renderers.charts.family import percent
from renderers.colour import distinct, painted_as, pixels
from renderers.furniture import UNIT_LINE
from renderers.numbers import format_amount
from schemas import QA, AnswerType, CellRef, ChartSpec, Element, Op, Program, QAType, Rendered, Sample, StyleSpec
from schemas.render import DRAWN

POSITION_TIE_PX = 1.0
FURNITURE_SHARE = 0.3  # of the charts whose unit line or source is drawn, those asked about it
WORDING_STREAM = 101  # [run seed, index, 101]: a sample's program questions' skeletons; 102: its visual ones
MAX_QUESTION = QA.model_fields["question"].metadata[-1].max_length


class Unverifiable(ValueError):
    """The program cannot be evaluated unambiguously on this table; `reason` is a short countable tag."""

    def __init__(self, reason: str, detail: str):
        super().__init__(reason, detail)  # args as the constructor takes them: it pickles across process pools
        self.reason, self.detail = reason, detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def text(*path: str):
    """A phrasing from prompts/template_text.json."""
    node = prompts.load("template_text")
    for key in path:
        node = node[key]
    return node


# ---------------------------------------------------------------- evaluation (plain Python, no pandas)

def _cell(spec: ChartSpec, row: str | None, col: str | None) -> float:
    table = spec.data
    if row not in table.index or col not in table.columns:
        raise Unverifiable("unknown_label", f"row {row!r} / column {col!r} not in the table")
    return table.data[table.index.index(row)][table.columns.index(col)]


def _column(spec: ChartSpec, col: str | None) -> list[tuple[str, float]]:
    if col not in spec.data.columns:
        raise Unverifiable("unknown_label", f"column {col!r} not in {spec.data.columns!r}")
    j = spec.data.columns.index(col)
    return [(label, row[j]) for label, row in zip(spec.data.index, spec.data.data)]


def _among(program: Program, spec: ChartSpec) -> list[tuple[str, float]]:
    """(label, value) of the rows an op ranges over: `rows` when the program names them (a waterfall's factors),
    else the whole column."""
    pairs = _column(spec, program.col)
    if not program.rows:
        return pairs
    unknown = set(program.rows) - {label for label, _ in pairs}
    if unknown:
        raise Unverifiable("unknown_label", f"rows {sorted(unknown)!r} not in the table")
    return [(label, v) for label, v in pairs if label in program.rows]


def _values(program: Program, spec: ChartSpec) -> list[float]:
    return [v for _, v in _among(program, spec)]


def _extreme_label(program: Program, spec: ChartSpec, largest: bool) -> str:
    pairs = _among(program, spec)
    best = max(v for _, v in pairs) if largest else min(v for _, v in pairs)
    labels = [label for label, v in pairs if v == best]
    if len(labels) != 1:
        raise Unverifiable("ambiguous", f"tie between {labels!r}")
    return labels[0]


def _diff(program: Program, spec: ChartSpec, _elements) -> float:
    return _cell(spec, program.end, program.col) - _cell(spec, program.start, program.col)


def _growth(program: Program, spec: ChartSpec, _elements) -> float:
    a, b = _cell(spec, program.start, program.col), _cell(spec, program.end, program.col)
    if a <= 0:
        raise Unverifiable("undefined", f"growth from a non-positive value {a!r}")
    if not grows(spec, program.col, a):
        raise Unverifiable("growth_of_a_percentage", f"{program.col!r} is a percentage: its change is in points (diff)")
    return (b / a - 1) * 100


def _ratio(program: Program, spec: ChartSpec, _elements) -> float:
    if program.other is None:
        raise Unverifiable("malformed_program", "ratio needs `other`")
    denominator = _cell(spec, program.other.row, program.other.col)
    if denominator == 0:
        raise Unverifiable("undefined", "ratio to zero")
    return _cell(spec, program.row, program.col) / denominator


def _sum(program: Program, spec: ChartSpec, _elements) -> float:
    rows = program.rows or [label for label, _ in _column(spec, program.col)]
    return sum(_cell(spec, r, program.col) for r in rows)


def _mean(program: Program, spec: ChartSpec, _elements) -> float:
    values = _values(program, spec)
    return sum(values) / len(values)


def _rank(program: Program, spec: ChartSpec, _elements) -> float:
    values = _values(program, spec)
    mine = _cell(spec, program.row, program.col)
    if values.count(mine) != 1:
        raise Unverifiable("ambiguous", f"{program.row!r} ties with another row at {mine!r}")
    return float(sum(1 for v in values if v > mine) + 1)


def _compare(program: Program, spec: ChartSpec, _elements) -> str:
    if program.other is None:
        raise Unverifiable("malformed_program", "compare needs `other`")
    mine, theirs = _cell(spec, program.row, program.col), _cell(spec, program.other.row, program.other.col)
    if mine == theirs:
        raise Unverifiable("ambiguous", f"both are {mine!r}")
    return "yes" if mine > theirs else "no"


def _threshold(program: Program) -> float:
    if program.threshold is None:
        raise Unverifiable("malformed_program", f"{program.op} needs `threshold`")
    return program.threshold


def _count_above(program: Program, spec: ChartSpec, _elements) -> float:
    threshold = _threshold(program)
    return float(sum(1 for v in _values(program, spec) if v > threshold))


def _first_above(program: Program, spec: ChartSpec, _elements) -> str:
    threshold = _threshold(program)
    above = [label for label, v in _among(program, spec) if v > threshold]
    if not above:
        raise Unverifiable("undefined", f"no value exceeds {threshold!r}")
    return above[0]


def _largest_total(_program: Program, spec: ChartSpec, _elements) -> str:
    totals = [(label, sum(row)) for label, row in zip(spec.data.index, spec.data.data)]
    best = max(total for _, total in totals)
    labels = [label for label, total in totals if total == best]
    if len(labels) != 1:
        raise Unverifiable("ambiguous", f"tie between {labels!r}")
    return labels[0]


def _longest_rise(program: Program, spec: ChartSpec, _elements) -> float:
    values = _values(program, spec)
    best = run = 0
    for a, b in zip(values, values[1:]):
        run = run + 1 if b > a else 0
        best = max(best, run)
    return float(best)


def _pick(program: Program, spec: ChartSpec, elements: list[Element]) -> float:
    chosen = pick_mark(program, elements)
    return _cell(spec, chosen.row, chosen.col)


SOURCE_LABEL = re.compile(r"^(?:出典|資料|Sources?)\s*[：:]\s*")


def _drawn_lines(elements: list[Element]) -> list[str]:
    return [line for e in elements if e.kind == "text" and e.text for line in e.text.split("\n")]


def _unit(_program: Program, spec: ChartSpec, elements: list[Element]) -> str:
    """The table's unit, if the unit line drawn on the chart (renderers.furniture.UNIT_LINE) states it."""
    stated = {line.format(unit=spec.unit) for line in UNIT_LINE.values()} & set(_drawn_lines(elements))
    if not spec.unit or not stated:
        raise Unverifiable("not_drawn", f"no unit line stating {spec.unit!r} is drawn")
    return spec.unit


def _source(_program: Program, _spec: ChartSpec, elements: list[Element]) -> str:
    """The one source line drawn, without its label."""
    cited = [SOURCE_LABEL.sub("", line) for line in _drawn_lines(elements) if SOURCE_LABEL.match(line)]
    if len(cited) != 1:
        raise Unverifiable("not_drawn" if not cited else "ambiguous", f"{len(cited)} source lines are drawn")
    return cited[0]


def pick_mark(program: Program, elements: list[Element]) -> Element:
    """The drawn mark a visual question points at (by colour, then position)."""
    marks = [e for e in elements if e.kind in DRAWN
             and (program.color is None or e.color == program.color)
             and (program.col is None or e.col == program.col)]
    if not marks:
        raise Unverifiable("no_such_mark", f"no drawn mark with colour {program.color!r} column {program.col!r}")
    if program.order is None:
        if len(marks) != 1:
            raise Unverifiable("ambiguous", f"{len(marks)} marks have colour {program.color!r}")
        chosen = marks[0]
    else:
        if any(m.bbox is None for m in marks):
            raise Unverifiable("no_such_mark", "position asked but the renderer did not measure the marks")
        axis = 0 if program.order in ("leftmost", "rightmost") else 1
        keyed = sorted(marks, key=lambda m: (m.bbox[axis] + m.bbox[axis + 2]) / 2,
                       reverse=program.order in ("rightmost", "bottommost"))
        if len(keyed) > 1:
            a, b = ((m.bbox[axis] + m.bbox[axis + 2]) / 2 for m in keyed[:2])
            if abs(a - b) < POSITION_TIE_PX:
                raise Unverifiable("ambiguous", f"two marks are {program.order} at the same position")
        chosen = keyed[0]
    return chosen


# ---------------------------------------------------------------- the table

Evaluation = Callable[[Program, ChartSpec, list[Element]], "float | str"]


@dataclass(frozen=True)
class OpRule:
    """How one op's answer is computed and written.

    unit: "column" (the asked column's unit), "difference" (the column's unit, but a difference of percentages is in
    points: 30 % → 33 % is +3 points, not +3 %), "%", "ratio" / "rank" (the language's word), "none" (a label).
    decimals: None keeps the column's own digits (+ `extra_decimals`); a number fixes them.
    written: "number" (formatted like the chart's labels), "count" (a plain integer: ranks, counts), "label", "yes_no"
    (the language's yes or no; the program evaluates to "yes" / "no").
    compares: the answer rests on telling which mark is larger (asked without value labels only when the eye can:
    pipeline.answerable).
    args: the Program fields the op reads; the LLM's QA schema makes exactly these required.
    by_llm: the LLM chain may propose it (a visual pick needs the drawn marks, which the model never sees).
    printed: the answer is text printed on the chart's furniture (unit line, source), read as written.
    """

    evaluate: Evaluation
    args: tuple[str, ...] = ("col",)
    unit: Literal["column", "difference", "%", "ratio", "rank", "none"] = "column"
    decimals: int | None = None
    extra_decimals: int = 0
    signed: bool = False
    written: Literal["number", "count", "label", "yes_no"] = "number"
    compares: bool = False
    by_llm: bool = True
    printed: bool = False

    @property
    def answer_type(self) -> AnswerType:
        return AnswerType.LABEL if self.written in ("label", "yes_no") else AnswerType.NUMBER


OPS: dict[Op, OpRule] = {
    Op.VALUE: OpRule(lambda p, s, _e: _cell(s, p.row, p.col), args=("row", "col")),
    Op.DIFF: OpRule(_diff, args=("col", "start", "end"), unit="difference", signed=True),
    Op.SUM: OpRule(_sum, args=("col", "rows")),
    Op.MEAN: OpRule(_mean, extra_decimals=1),
    Op.RATIO: OpRule(_ratio, args=("row", "col", "other"), unit="ratio", decimals=2),
    Op.GROWTH: OpRule(_growth, args=("col", "start", "end"), unit="%", decimals=1, signed=True),
    Op.MAX: OpRule(lambda p, s, _e: max(_values(p, s)), compares=True),
    Op.MIN: OpRule(lambda p, s, _e: min(_values(p, s)), compares=True),
    Op.ARGMAX: OpRule(lambda p, s, _e: _extreme_label(p, s, largest=True), unit="none", written="label",
                      compares=True),
    Op.ARGMIN: OpRule(lambda p, s, _e: _extreme_label(p, s, largest=False), unit="none", written="label",
                      compares=True),
    Op.RANK: OpRule(_rank, args=("row", "col"), unit="rank", written="count", compares=True),
    Op.PICK: OpRule(_pick, args=("color", "order"), by_llm=False),
    Op.UNIT: OpRule(_unit, args=(), unit="none", written="label", by_llm=False, printed=True),
    Op.SOURCE: OpRule(_source, args=(), unit="none", written="label", by_llm=False, printed=True),
    Op.COMPARE: OpRule(_compare, args=("row", "col", "other"), unit="none", written="yes_no", compares=True,
                       by_llm=False),
    Op.COUNT_ABOVE: OpRule(_count_above, args=("col", "threshold"), unit="none", written="count", by_llm=False),
    Op.FIRST_ABOVE: OpRule(_first_above, args=("col", "threshold"), unit="none", written="label", by_llm=False),
    Op.LONGEST_RISE: OpRule(_longest_rise, unit="none", written="count", compares=True, by_llm=False),
    Op.ARGMAX_TOTAL: OpRule(_largest_total, args=(), unit="none", written="label", compares=True, by_llm=False),
    Op.SERIES_COUNT: OpRule(lambda _p, s, _e: float(len(s.data.columns)), args=(), unit="none", written="count",
                            by_llm=False, printed=True),
}


def evaluate(program: Program, spec: ChartSpec, elements: list[Element]) -> float | str:
    """The program's answer on this table (and, for visual picks, these drawn marks)."""
    return OPS[program.op].evaluate(program, spec, elements)


def answer_unit(op: Op, spec: ChartSpec, col: str | None, lang: str) -> str:
    """The unit an answer of `op` about column `col` carries; "*" when `col` is unknown and the columns differ."""
    rule = OPS[op].unit
    if rule == "%":
        return "%"
    if rule in ("ratio", "rank"):
        return text(f"{rule}_unit", lang)
    if rule == "none":
        return ""
    if col is None:  # a pick by colour: the unit of whichever column that colour draws
        return spec.unit if len(set(spec.series_unit.values())) == 1 else "*"
    unit = spec.series_unit.get(col, "")
    return text("points_unit", lang) if rule == "difference" and percent(unit) else unit


def grows(spec: ChartSpec, col: str, start: float) -> bool:
    """Whether a growth rate of `col` from `start` is asked or stated: from a positive start, and never for a
    percentage, whose change is in points ("損害率は何%変化したか → +18.4%" for a rise of 11.9 points misleads)."""
    return start > 0 and not percent(spec.series_unit.get(col, ""))


def unit_text(unit: str, lang: str) -> str:
    """A unit as it follows a number: English puts one that starts with its own scale in brackets — "10,433
    (100M yen)", not "10,433 100M yen"."""
    return f"({unit})" if lang == "en" and unit[:1].isdigit() else unit


def with_unit(number: str, unit: str, lang: str) -> str:
    if not unit:
        return number
    joined = lang == "ja" or unit in ("%", "℃")
    return f"{number}{'' if joined else ' '}{unit_text(unit, lang)}"


def with_unit_title(name: str, unit: str, lang: str) -> str:
    """An axis title or a table header: the name, its unit in brackets."""
    if not unit:
        return name
    return f"{name}（{unit}）" if lang == "ja" else f"{name} ({unit})".lstrip()


def format_value(value: float, decimals: int, unit: str, style: StyleSpec, lang: str, signed: bool = False) -> str:
    """A number as the chart writes it (an amount of 1兆 and above split as the style says), with an explicit + on a
    positive change, then its unit."""
    written = format_amount(value, decimals, unit, style, lang)
    if signed and value > 0 and written.strip("0.,０．，"):
        written = "+" + written
    return with_unit(written, unit, lang)


def write_answer(op: Op, truth: float | str, spec: ChartSpec, col: str | None, style: StyleSpec, lang: str,
                 decimals: int | None = None) -> tuple[str, str]:
    """(answer, unit) for a value computed from the table, written the way `OPS` says; `col` is the column asked
    about (for a visual pick, the picked mark's column). `decimals` overrides the op's (an approximate answer)."""
    rule = OPS[op]
    if rule.written == "yes_no":
        return text("yes_no", truth, lang), ""
    if rule.written == "label" or isinstance(truth, str):
        return str(truth), ""
    col = col if col is not None else spec.data.columns[0]
    unit = answer_unit(op, spec, col, lang)
    if rule.written == "count":
        return with_unit(str(int(truth)), unit, lang), unit
    if decimals is None:
        decimals = rule.decimals if rule.decimals is not None else spec.decimals_of(col) + rule.extra_decimals
    return format_value(truth, decimals, unit, style, lang, signed=rule.signed), unit


# ---------------------------------------------------------------- questions written by program

def round_between(rng, values: list[float]) -> float | None:
    """A round threshold strictly between two neighbouring values (drawn at random), not all values on one side:
    the coarsest 1-2-5 × 10^k that lands inside the gap. None when every value is the same."""
    ordered = sorted(set(values))
    if len(ordered) < 2:
        return None
    k = int(rng.integers(len(ordered) - 1))
    low, high = ordered[k], ordered[k + 1]
    step = 10 ** math.ceil(math.log10(max(abs(low), abs(high), 1e-9)))
    while step > (high - low) * 1e-3:
        for m in (5, 2, 1):
            candidate = round(math.floor(low / (m * step)) * m * step + m * step, 12)  # 0.30000000000000004 → 0.3
            if low < candidate < high:
                return float(candidate)
        step /= 10
    return None


def pick_subset(rng, items: list, k: int) -> list:
    chosen = sorted(rng.choice(len(items), size=k, replace=False))
    return [items[i] for i in chosen]


def subject(spec: ChartSpec, metric: str, col: str, lang: str) -> str:
    """How questions and descriptions name a column: the metric, qualified by the series when there are several."""
    if family(spec.chart_type).paired or col in spec.secondary_series:
        return col
    if family(spec.chart_type).summary:  # a box's statistic of the measure: 年収の中央値, median annual pay
        return text("subject", "statistic", lang).format(metric=metric, col=col)
    kind = "single" if len(spec.data.columns) - len(spec.secondary_series) == 1 else "series"
    return text("subject", kind, lang).format(metric=metric, col=col)


RATE_WORDS = ("率", "単価", "価格", "平均", "指数", "気温", "金利", "利回り", "倍率", "偏差値", "年収", "給与", "賃金",
              "賃料", "家賃", "得点", "速度", "料金", "運賃", "rate", "price", "average", "index", "yield",
              "temperature", "ratio", "pay", "wage", "rent", "score", "speed", "fare")
TIME_UNITS = ("秒", "分", "時間", "ms", "seconds", "minutes", "hours")
LENGTH_UNITS = ("km", "m", "キロ")  # distances: 長い/短い
AREA_UNITS = ("m²", "㎡", "ha", "km²", "坪")  # areas: 大きい/小さい, never 多い


def degree(spec: ChartSpec, col: str | None, metric: str) -> str:
    """How values of `col` compare in words (prompts "degree"): rates, prices, pay, scores, temperatures are high
    or low (高い/低い); times and distances long or short; counts and amounts many or few (多い/少ない); areas and
    bare numbers large or small. A count of something rated (年収階級別の雇用者数, employees by annual pay) is a count: the measure's
    head noun decides (the Japanese ending, the English words before "by")."""
    unit = spec.series_unit.get(col, spec.unit) if col is not None else spec.unit
    if col is not None and family(spec.chart_type).paired:  # each measure named by itself, not the pair's title
        metric = col
    head = metric.lower().split(" by ")[0]
    if percent(unit) or "/" in unit or unit in ("℃", "°C", "倍", "点", "pt", "ポイント"):
        return "high"
    if unit in TIME_UNITS or unit in LENGTH_UNITS:
        return "long"
    if unit in AREA_UNITS:
        return "large"
    if metric.endswith("数"):
        return "many"
    if any(word in head for word in RATE_WORDS):
        return "high"
    return "many" if unit else "large"


def parts_of_whole(spec: ChartSpec, col: str) -> bool:
    """A column of percentages adding up to 100: the shares of one whole."""
    return percent(spec.series_unit[col]) and abs(sum(spec.data.column(col)) - 100) < 0.5


def wording(run_seed: int, index: int, visual: bool = False) -> np.random.Generator:
    """The generator that picks a sample's question skeletons: a stream of its own, so rewording changes no drawn
    question."""
    return np.random.default_rng([run_seed, index, WORDING_STREAM + visual])


class QuestionWriter:
    """Writes questions over one spec; every number in an answer is computed with pandas from the table and written
    through `write_answer`."""

    def __init__(self, spec: ChartSpec, metric: str, style: StyleSpec, lang: str, wording):
        """`wording`: the random generator that picks each question's skeleton, apart from the one that picks what
        to ask (so a new skeleton changes no drawn question)."""
        self.spec, self.metric, self.style, self.lang = spec, metric, style, lang
        self.wording = wording
        self.df = pd.DataFrame(**spec.data.model_dump())

    def qa(self, op: Op, qa_type: QAType, value: float | str, about: str, phrase: str = "", **fields) -> QA | None:
        """`value` is written as `op`'s answer about column `about`. Fields starting with "_" fill the phrasing; the
        rest form the program the verifier re-runs. None when the question would be too long to ask."""
        answer, unit = write_answer(op, value, self.spec, about, self.style, self.lang)
        placeholders = {k: v for k, v in fields.items() if k.startswith("_")}
        countable = bool(unit) and "/" not in unit
        for key, (counter, plain) in ((k, v) for k, v in text("ask").items() if k != "note"):
            placeholders[f"_{key}"] = counter.format(unit=unit) if countable else plain
        placeholders |= {f"_{k}": v for k, v in text("degree", degree(self.spec, about, self.metric), self.lang).items()}
        if "_d" in placeholders:  # "1 decimal place", "2 decimal places"
            placeholders["_places"] = text("decimal_places", "one" if placeholders["_d"] == 1 else "many").format(
                d=placeholders["_d"])
        placeholders["_figure"] = text("figure", "table" if family(self.spec.chart_type).tabular else "chart", self.lang)
        program = Program(op=op, **{k: v for k, v in fields.items() if not k.startswith("_")})
        skeleton = pick(self.wording, text("qa", phrase or op.value, self.lang))
        question = skeleton.format(**{k[1:]: v for k, v in placeholders.items()})
        if len(question) > MAX_QUESTION:  # long LLM-written labels: a question nobody would read is not asked
            return None
        return QA(question=question, answer=answer, qa_type=qa_type, answer_type=OPS[op].answer_type, unit=unit,
                  program=program)

    def subject(self, col: str) -> str:
        return subject(self.spec, self.metric, col, self.lang)

    def retrieval(self, rng) -> QA:
        row = self.df.index[int(rng.integers(len(self.df.index)))]
        col = self.df.columns[int(rng.integers(len(self.df.columns)))]
        return self.qa(Op.VALUE, QAType.RETRIEVAL, self.df.at[row, col], col, row=row, col=col, _row=row,
                       _subject=self.subject(col))

    def compositional(self, rng) -> list[QA]:
        if family(self.spec.chart_type).bridge:
            return self.bridge(rng)
        df, lang = self.df, self.lang
        col = df.columns[int(rng.integers(len(df.columns)))]
        if family(self.spec.chart_type).summary:  # boxes are compared by their medians
            col = df.columns[2]
        values, subject_ = df[col], self.subject(col)
        first, last = df.index[0], df.index[-1]
        c = QAType.COMPOSITIONAL
        out: list[QA] = []
        if family(self.spec.chart_type).round or len(df.index) < 3:
            a, b = pick_subset(rng, list(df.index), 2)
            out.append(self.qa(Op.SUM, c, values[[a, b]].sum(), col, col=col, rows=[a, b],
                               _rows_text=f"{a}{text('joiner', lang)}{b}", _subject=subject_))
        else:
            out.append(self.qa(Op.DIFF, c, values[last] - values[first], col, phrase="diff" if self.spec.timeline else
                               "diff_between", col=col, start=first, end=last, _start=first, _end=last,
                               _subject=subject_))
            if self.spec.timeline and grows(self.spec, col, values[first]):
                out.append(self.qa(Op.GROWTH, c, (values[last] / values[first] - 1) * 100, col, col=col, start=first,
                                   end=last, _start=first, _end=last, _subject=subject_))
            if not parts_of_whole(self.spec, col):  # shares average 100 / n whatever they are
                out.append(self.qa(Op.MEAN, c, values.mean(), col, col=col, _n=len(values),
                                   _d=self.spec.decimals_of(col) + OPS[Op.MEAN].extra_decimals, _subject=subject_))
        top, bottom = values.idxmax(), values.idxmin()
        if (values == values[top]).sum() == 1:
            out.append(self.qa(Op.ARGMAX, c, top, col, col=col, _subject=subject_))
            out.append(self.qa(Op.MAX, c, values[top], col, col=col, _subject=subject_))
        if (values == values[bottom]).sum() == 1:
            out.append(self.qa(Op.ARGMIN, c, bottom, col, col=col, _subject=subject_))
        row = df.index[int(rng.integers(len(df.index)))]
        if (values == values[row]).sum() == 1:
            rank = int((values > values[row]).sum()) + 1
            out.append(self.qa(Op.RANK, c, rank, col, col=col, row=row, _row=row, _subject=subject_))
        other_row = df.index[int(rng.integers(len(df.index)))]
        if other_row != row and values[other_row] > 0:
            out.append(self.qa(Op.RATIO, c, values[row] / values[other_row], col, col=col, row=row,
                               other=CellRef(row=other_row, col=col), _row=row, _other_row=other_row,
                               _subject=subject_, _other_subject=subject_))
        out += self.judgements(rng, col)
        out += self.totals()
        return [q for q in out if q is not None]

    def totals(self) -> list[QA | None]:
        """Two hops: add each entry's series up, then compare the totals — asked of stacks, whose totals are drawn
        (a stack's height), of amounts that add up."""
        chart, df = family(self.spec.chart_type), self.df
        if not chart.stacks or chart.shares_per_category or len(df.columns) < 2:
            return []
        totals = df.sum(axis=1)
        best = totals.idxmax()
        if (totals == totals[best]).sum() != 1:
            return []
        return [self.qa(Op.ARGMAX_TOTAL, QAType.COMPOSITIONAL, best, df.columns[0], _metric=self.metric)]

    def judgements(self, rng, col: str) -> list[QA | None]:
        """Yes/no comparisons (two entries, or two series at one entry), counts and firsts above a round threshold,
        and the longest run of rises along a timeline."""
        df, c = self.df, QAType.COMPOSITIONAL
        values, subject_ = df[col], self.subject(col)
        out: list[QA | None] = []
        peers = [p for p in df.columns if p != col and self.spec.series_unit[p] == self.spec.series_unit[col]
                 and (p in self.spec.secondary_series) == (col in self.spec.secondary_series)]
        row, other_row = pick_subset(rng, list(df.index), 2)
        chart = family(self.spec.chart_type)
        if peers and not (chart.paired or chart.summary) and rng.random() < 0.5:  # two series at one entry
            peer = peers[int(rng.integers(len(peers)))]
            if df.at[row, col] != df.at[row, peer]:
                out.append(self.qa(Op.COMPARE, c, "yes" if df.at[row, col] > df.at[row, peer] else "no", col,
                                   phrase="compare_series", col=col, row=row, other=CellRef(row=row, col=peer),
                                   _row=row, _subject=subject_, _other_subject=self.subject(peer)))
        elif values[row] != values[other_row]:
            out.append(self.qa(Op.COMPARE, c, "yes" if values[row] > values[other_row] else "no", col, col=col,
                               row=row, other=CellRef(row=other_row, col=col), _row=row, _other_row=other_row,
                               _subject=subject_))
        threshold = round_between(rng, list(values))
        if threshold is not None:
            said = format_value(threshold, self.spec.decimals_of(col), self.spec.series_unit[col], self.style,
                                self.lang)
            out.append(self.qa(Op.COUNT_ABOVE, c, float((values > threshold).sum()), col,
                               phrase="count_above_time" if self.spec.timeline else "count_above", col=col,
                               threshold=threshold, _threshold=said, _subject=subject_))
            first = next(i for i, v in enumerate(values) if v > threshold)
            if self.spec.timeline and first > 0:
                out.append(self.qa(Op.FIRST_ABOVE, c, df.index[first], col, col=col, threshold=threshold,
                                   _threshold=said, _subject=subject_))
        if self.spec.timeline and len(values) >= 4:
            rises = [b > a for a, b in zip(values, values[1:])]
            longest = max((len(run) for run in "".join("1" if r else "0" for r in rises).split("0")), default=0)
            if longest:
                out.append(self.qa(Op.LONGEST_RISE, c, float(longest), col, col=col, _subject=subject_))
        return out

    def bridge(self, rng) -> list[QA]:
        """A waterfall's questions: the change from the first level to the last (and its rate), two factors'
        combined effect, and which factor raised or lowered the measure most — never a sum or mean mixing levels
        with changes."""
        df, lang, c = self.df, self.lang, QAType.COMPOSITIONAL
        col = df.columns[0]
        values, subject_ = df[col], self.subject(col)
        first, last, factors = df.index[0], df.index[-1], list(df.index[1:-1])
        out = [self.qa(Op.DIFF, c, values[last] - values[first], col, phrase="diff", col=col, start=first, end=last,
                       _start=first, _end=last, _subject=subject_)]
        if grows(self.spec, col, values[first]):
            out.append(self.qa(Op.GROWTH, c, (values[last] / values[first] - 1) * 100, col, col=col, start=first,
                               end=last, _start=first, _end=last, _subject=subject_))
        if len(factors) >= 2:
            a, b = pick_subset(rng, factors, 2)
            out.append(self.qa(Op.SUM, c, values[[a, b]].sum(), col, phrase="sum_factors", col=col, rows=[a, b],
                               _rows_text=f"{a}{text('joiner', lang)}{b}", _subject=subject_))
        moves = values[factors]
        for op, phrase, best, moved in ((Op.ARGMAX, "argmax_factor", moves.idxmax(), moves.max() > 0),
                                        (Op.ARGMIN, "argmin_factor", moves.idxmin(), moves.min() < 0)):
            if moved and (moves == moves[best]).sum() == 1:
                out.append(self.qa(op, c, best, col, phrase=phrase, col=col, rows=factors, _subject=subject_))
        return [q for q in out if q is not None]

    def furniture(self, rng) -> list[QA]:
        """At most one question about what the chart's furniture prints: its unit line, its source, or how many
        series its legend lists."""
        chart = family(self.spec.chart_type)
        legend = len(self.spec.data.columns) > 1 and self.style.legend != "none" and chart.keyed
        drawn = [(op, answer) for op, answer in (
            (Op.UNIT, self.spec.unit if self.style.unit_line and len(set(self.spec.series_unit.values())) == 1
             and self.spec.unit else None),  # one unit for every value (not bars + line, not a scatter's two)
            (Op.SOURCE, SOURCE_LABEL.sub("", self.style.source) if self.style.source else None),
            (Op.SERIES_COUNT, float(len(self.spec.data.columns)) if legend else None)) if answer]
        if not drawn or rng.random() >= FURNITURE_SHARE:
            return []
        op, answer = drawn[int(rng.integers(len(drawn)))]
        return [self.qa(op, QAType.RETRIEVAL, answer, self.spec.data.columns[0])]

    def visual(self, rng, elements: list[Element], image) -> list[QA]:
        """Questions about marks as drawn: their colour (the palette actually used) and position (the element boxes).
        Only drawn marks are named (no line vertices without markers), each painted in its colour where it stands
        (`image`: the rendered pixels) and distinct from the chart's other data colours."""
        marks = [e for e in elements if e.kind in DRAWN]
        if not marks:
            return []
        color_words = {c.hex: getattr(c, self.lang) for c in self.style.palette}
        col = marks[int(rng.integers(len(marks)))].col
        same = [e for e in marks if e.col == col]
        kind = same[0].kind
        if kind == "slice":
            target = same[int(rng.integers(len(same)))] if len(same) > 1 else same[0]
            if sum(1 for e in marks if e.color == target.color) != 1 or not distinct(target.color, elements):
                return []
            where, order, color, chosen = "", None, target.color, target
        else:
            if any(e.bbox is None for e in same):
                return []
            horizontal = family(self.spec.chart_type).horizontal or kind == "cell"
            order = ("bottommost" if rng.random() < 0.5 else "topmost") if horizontal else \
                ("rightmost" if rng.random() < 0.5 else "leftmost")
            axis = 1 if horizontal else 0
            center = lambda e: (e.bbox[axis] + e.bbox[axis + 2]) / 2  # noqa: E731
            chosen = (max if order in ("rightmost", "bottommost") else min)(same, key=center)
            color = None if kind == "cell" or len({e.color for e in marks}) == 1 else chosen.color
            if kind != "cell" and not painted_as(chosen, image):
                return []  # covered by a legend, a label or another series
            if color is not None and not distinct(color, elements):
                return []
            where = text("where", order, self.lang)
        color_text = "" if color is None else (color_words[color] + ("の" if self.lang == "ja" else " "))
        named = "point_of" if family(self.spec.chart_type).paired else kind  # a scatter point: say which measure
        mark = text("mark", named, self.lang).format(col=chosen.col)
        asked = self.qa(Op.PICK, QAType.VISUAL, self.df.at[chosen.row, chosen.col], chosen.col, color=color,
                        order=order, col=chosen.col if kind == "cell" else None, _where=where, _color=color_text,
                        _mark=mark)
        return [asked] if asked is not None else []


def program_qa(spec: ChartSpec, metric: str, style: StyleSpec, lang: str, rng, wording, k: int = 3) -> list[QA]:
    """One retrieval question and up to `k` compositional ones, all written and answered by program; now and then
    one about the chart's furniture (its unit line, its source) when it is drawn."""
    writer = QuestionWriter(spec, metric, style, lang, wording)
    compositional = writer.compositional(rng)
    take = sorted(rng.choice(len(compositional), size=min(k, len(compositional)), replace=False))
    asked = [writer.retrieval(rng)] + [compositional[i] for i in take] + writer.furniture(rng)
    return [q for q in asked if q is not None]


def add_visual_qa(sample: Sample, rendered: Rendered) -> Sample:
    rng = np.random.default_rng([sample.provenance.run_seed, sample.provenance.sample_index, 1])
    writer = QuestionWriter(sample.spec, sample.topic.metric, sample.style, sample.lang,
                            wording(sample.provenance.run_seed, sample.provenance.sample_index, visual=True))
    visual = writer.visual(rng, rendered.elements, pixels(rendered.png))
    return sample.model_copy(update={"qa": sample.qa + visual})
