"""Answers are computed, not trusted: re-run each QA's program on the table (plain Python, no pandas, so a bug in
the generator's arithmetic cannot hide here) and compare with the answer text as written."""

from __future__ import annotations

import unicodedata

import prompts
from renderers.numbers import parse_number
from schemas import QA, AnswerType, ChartSpec, Element, Op, Program

POSITION_TIE_PX = 1.0


class Unverifiable(ValueError):
    """The program cannot be evaluated unambiguously on this table; `reason` is a short countable tag."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


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


def _extreme_label(pairs: list[tuple[str, float]], largest: bool) -> str:
    best = max(v for _, v in pairs) if largest else min(v for _, v in pairs)
    labels = [label for label, v in pairs if v == best]
    if len(labels) != 1:
        raise Unverifiable("ambiguous", f"tie between {labels!r}")
    return labels[0]


def _pick(program: Program, spec: ChartSpec, elements: list[Element]) -> float:
    marks = [e for e in elements if e.kind != "text"
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
    return _cell(spec, chosen.row, chosen.col)


def evaluate(program: Program, spec: ChartSpec, elements: list[Element]) -> float | str:
    op = program.op
    if op is Op.VALUE:
        return _cell(spec, program.row, program.col)
    if op is Op.PICK:
        return _pick(program, spec, elements)
    if op in (Op.DIFF, Op.GROWTH):
        a, b = _cell(spec, program.start, program.col), _cell(spec, program.end, program.col)
        if op is Op.DIFF:
            return b - a
        if a <= 0:
            raise Unverifiable("undefined", f"growth from a non-positive value {a!r}")
        return (b / a - 1) * 100
    if op is Op.RATIO:
        if program.other is None:
            raise Unverifiable("malformed_program", "ratio needs `other`")
        denominator = _cell(spec, program.other.row, program.other.col)
        if denominator == 0:
            raise Unverifiable("undefined", "ratio to zero")
        return _cell(spec, program.row, program.col) / denominator
    pairs = _column(spec, program.col)
    values = [v for _, v in pairs]
    if op is Op.SUM:
        rows = program.rows or [label for label, _ in pairs]
        return sum(_cell(spec, r, program.col) for r in rows)
    if op is Op.MEAN:
        return sum(values) / len(values)
    if op is Op.MAX:
        return max(values)
    if op is Op.MIN:
        return min(values)
    if op in (Op.ARGMAX, Op.ARGMIN):
        return _extreme_label(pairs, largest=op is Op.ARGMAX)
    if op is Op.RANK:
        mine = _cell(spec, program.row, program.col)
        if values.count(mine) != 1:
            raise Unverifiable("ambiguous", f"{program.row!r} ties with another row at {mine!r}")
        return float(sum(1 for v in values if v > mine) + 1)
    raise Unverifiable("malformed_program", f"unknown op {op!r}")  # pragma: no cover - Op is closed


def expected_unit(program: Program, spec: ChartSpec, lang: str) -> str:
    text = prompts.load("template_text")
    if program.op is Op.GROWTH:
        return "%"
    if program.op is Op.RATIO:
        return text["ratio_unit"][lang]
    if program.op is Op.RANK:
        return text["rank_unit"][lang]
    if program.op in (Op.ARGMAX, Op.ARGMIN):
        return ""
    if program.col is None:  # a pick by colour: the unit of whichever column that colour draws
        return spec.unit if len(set(spec.series_unit.values())) == 1 else "*"
    return spec.series_unit.get(program.col, "")


def check_answer(qa: QA, spec: ChartSpec, elements: list[Element], lang: str) -> tuple[str, str] | None:
    """None when the answer is right; else (reason, detail)."""
    try:
        truth = evaluate(qa.program, spec, elements)
    except Unverifiable as error:
        return error.reason, error.detail
    answer = unicodedata.normalize("NFKC", qa.answer).strip()
    if qa.answer_type is AnswerType.LABEL:
        if not isinstance(truth, str) or answer != unicodedata.normalize("NFKC", truth):
            return "answer_mismatch", f"answer {qa.answer!r} but the table says {truth!r}"
        return None
    if isinstance(truth, str):
        return "answer_type_mismatch", f"numeric answer {qa.answer!r} to a question whose answer is the label {truth!r}"
    unit = expected_unit(qa.program, spec, lang)
    if unit != "*" and qa.unit != unit:
        return "unit_mismatch", f"unit {qa.unit!r} but {qa.program.op.value} of this table is in {unit!r}"
    unit_text = unicodedata.normalize("NFKC", qa.unit)
    if unit_text and not answer.endswith(unit_text):
        return "unit_mismatch", f"answer {qa.answer!r} does not end with its unit {qa.unit!r}"
    parsed = parse_number(answer.removesuffix(unit_text))  # so the 億 of 億円 is not read as ×10^8
    if parsed is None:
        return "unparseable_answer", f"no number in answer {qa.answer!r}"
    value, resolution = parsed
    tolerance = 0.5 * resolution + 1e-9 * max(1.0, abs(truth))
    if abs(value - truth) > tolerance:
        return "answer_mismatch", f"answer {qa.answer!r} but the table gives {truth!r}"
    return None
