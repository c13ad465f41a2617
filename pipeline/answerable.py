"""Is each question answerable from the image the row ships with? Checked from the renderer's own geometry (element
boxes) and the PNG's pixels after drawing; what the eye cannot settle is not asked.

- Questions naming a category whose label the chart left off (a long series labels every k-th period) are not asked.
- Comparisons (OPS entries with `compares`) on charts without value labels: the answer's mark must stand out from the
  runner-up by `SEPARABLE_PX` along the value axis (pie slices: by `SEPARABLE_SHARE` of the whole).
- Visual references (pipeline.qa.QuestionWriter.visual) name only marks that are drawn (no line vertices without
  markers), painted in the colour they are named by (renderers.colour.painted_as: not covered by a legend, a label or
  another series) and distinct from every other colour painted for data (renderers.colour.distinct).
"""

from __future__ import annotations

import math
from collections import Counter

from pipeline.qa import MAX_QUESTION, OPS, Unverifiable, evaluate, pick_mark, text, write_answer
from renderers.charts import family
from renderers.numbers import rounded_digits
from schemas import QA, AnswerType, ChartSpec, Element, Op, QAType, Rendered, Sample, StyleSpec

SEPARABLE_PX = 3.0
SEPARABLE_SHARE = 0.03  # ≈ 11° of a pie
VISUAL_SUFFIX = "_visual"  # not_asked keys of visual questions, which belong to one drawing


def labelled(sample: Sample) -> bool:
    return prints_values(sample.spec, sample.style)


def prints_values(spec: ChartSpec, style: StyleSpec) -> bool:
    """Every value is printed: in cells (a table, a heatmap, a chart's data table), or as value labels on the
    marks."""
    chart = family(spec.chart_type)
    return chart.cells or chart.data_table or (chart.value_labels and style.value_labels)


def _magnitudes(spec: ChartSpec, col: str, elements: list[Element]) -> dict[str, float] | None:
    """How far each row's mark of `col` reaches along the value axis, in pixels; None without measured marks."""
    chart = family(spec.chart_type)
    if chart.paired and col == spec.data.columns[0]:  # the x measure of a scatter: read across
        points = [e for e in elements if e.kind == "point" and e.bbox]
        return {e.row: (e.bbox[0] + e.bbox[2]) / 2 for e in points} or None
    if chart.sized and col == spec.data.columns[2]:  # a bubble's size: its diameter
        points = [e for e in elements if e.kind == "point" and e.bbox]
        return {e.row: e.bbox[2] - e.bbox[0] for e in points} or None
    marks = [e for e in elements if e.col == col and e.kind in ("bar", "layer", "point", "vertex") and e.bbox]
    if not marks:
        return None
    if chart.radial:  # a value is a vertex's distance from the centre
        origin = next((e.bbox for e in elements if e.kind == "origin"), None)
        if origin is None:
            return None
        return {e.row: math.dist(((e.bbox[0] + e.bbox[2]) / 2, (e.bbox[1] + e.bbox[3]) / 2), origin[:2])
                for e in marks}
    values = dict(zip(spec.data.index, spec.data.column(col)))
    out = {}
    for e in marks:
        x0, y0, x1, y1 = e.bbox
        if e.kind in ("bar", "layer"):  # a length along the value axis (a layer's thickness)
            length = (x1 - x0) if chart.horizontal else (y1 - y0)
            out[e.row] = length if values[e.row] >= 0 else -length
        else:
            out[e.row] = -(y0 + y1) / 2  # image y grows downwards
    return out


def separable(qa: QA, sample: Sample, elements: list[Element]) -> bool:
    """A comparison the eye can make: the answer's mark differs visibly from its nearest rival."""
    op, spec = qa.program.op, sample.spec
    if op is Op.ARGMAX_TOTAL and not labelled(sample):  # the tallest stack stands clear of the runner-up
        reaches = [_magnitudes(spec, c, elements) for c in spec.data.columns]
        if any(r is None or len(r) != len(spec.data.index) for r in reaches):
            return False
        ordered = sorted((sum(r[row] for r in reaches) for row in spec.data.index), reverse=True)
        return ordered[0] - ordered[1] >= SEPARABLE_PX
    if not OPS[op].compares or labelled(sample) or qa.program.col not in spec.data.columns:
        return True
    col = qa.program.col
    if family(spec.chart_type).round:
        total = sum(spec.data.column(col))
        reach, threshold = {r: v / total for r, v in zip(spec.data.index, spec.data.column(col))}, SEPARABLE_SHARE
    else:
        reach, threshold = _magnitudes(spec, col, elements), SEPARABLE_PX
        if reach is None or len(reach) != len(spec.data.index):
            return False  # not every value is drawn where it can be measured
    if op is Op.COMPARE:  # the two marks named, apart (another series' marks measured the same way)
        other = qa.program.other
        theirs = reach if other is None or other.col == col else (
            None if family(spec.chart_type).round else _magnitudes(spec, other.col, elements))
        if not theirs or other is None or other.row not in theirs or qa.program.row not in reach:
            return False
        return abs(reach[qa.program.row] - theirs[other.row]) >= threshold
    if op is Op.LONGEST_RISE:  # every step from one entry to the next visibly up or down
        ordered_rows = [row for row in spec.data.index if row in reach]
        return all(abs(reach[b] - reach[a]) >= threshold for a, b in zip(ordered_rows, ordered_rows[1:]))
    if qa.program.rows:  # the op ranges over these rows only (a waterfall's factors)
        reach = {row: r for row, r in reach.items() if row in qa.program.rows}
    ordered = sorted(reach.values(), reverse=True)
    if len(ordered) < 2:
        return True
    if op in (Op.ARGMAX, Op.MAX):
        gap = ordered[0] - ordered[1]
    elif op in (Op.ARGMIN, Op.MIN):
        gap = ordered[-2] - ordered[-1]
    else:  # rank: apart from both neighbours
        mine = reach[qa.program.row]
        gap = min(abs(mine - other) for row, other in reach.items() if row != qa.program.row)
    return gap >= threshold


def named(qa: QA, rendered: Rendered) -> bool:
    """Every category the question or its answer names is labelled on the chart (a long series writes only every
    k-th label: a year left unlabelled cannot be found, or given as an answer, by name)."""
    if not rendered.unlabelled:
        return True
    program = qa.program
    names = {program.row, program.start, program.end, *(program.rows or ()),
             program.other.row if program.other else None}
    if qa.answer_type is AnswerType.LABEL:
        names.add(qa.answer)
    return not names & set(rendered.unlabelled)


def answerable(sample: Sample, rendered: Rendered) -> Sample:
    """The sample with each question as its image lets it be answered (how, and to what tolerance), and the
    questions the image cannot settle left out."""
    labelled_names = [qa for qa in sample.qa if named(qa, rendered)]
    compared = [qa for qa in labelled_names if separable(qa, sample, rendered.elements)]
    kept = [qa for qa in (readable(qa, sample, rendered) for qa in compared) if qa is not None]
    not_asked = Counter(sample.provenance.not_asked)
    for kind, before, after in (("unlabelled", sample.qa, labelled_names), ("inseparable", labelled_names, compared),
                                ("unreadable", compared, kept)):
        dropped = Counter(qa.qa_type for qa in before) - Counter(qa.qa_type for qa in after)
        not_asked[kind] += sum(n for qa_type, n in dropped.items() if qa_type is not QAType.VISUAL)
        not_asked[kind + VISUAL_SUFFIX] += dropped[QAType.VISUAL]  # a redrawing redoes these: kept apart
    provenance = sample.provenance.model_copy(update={"not_asked": {k: v for k, v in sorted(not_asked.items()) if v}})
    return sample.model_copy(update={"qa": kept, "provenance": provenance})


# ---------------------------------------------------------------- readable precision

AXIS_READ = 0.2  # a careful reader places a mark to a fifth of the tick step
SLICE_READ = 0.02  # ... and sizes an unlabelled pie slice to 2 points of the whole
DERIVED_RELATIVE = 0.05  # a derived answer is asked only while its reading error stays within 5 % of it
GROWTH_POINTS = 2.0  # ... a growth rate, within 2 percentage points
SMALL_VALUE = 0.25  # a single value is asked only if its reading error is at most a quarter of it
READS = {Op.DIFF: 2, Op.MEAN: 1}  # values a derived answer reads (sum: one per row; ratio, growth: see below)


def reading_error(spec: ChartSpec, col: str, rendered: Rendered) -> float | None:
    """How far a careful reader may be off reading one value of `col` from the image; None if it cannot be read. A
    stacked value above the first, or a waterfall's floating change, is a length between two edges, each read
    against the ticks: twice the error (a waterfall's levels are taken the same way, erring wide)."""
    chart = family(spec.chart_type)
    if chart.round:
        return SLICE_READ * sum(spec.data.column(col))
    step = rendered.tick_steps.get(col)
    if step is None:
        return None
    edges = 2 if chart.bridge or chart.stacks and col != spec.data.columns[0] else 1
    return edges * AXIS_READ * step


def rounding_step(error: float) -> float:
    """The coarsest 1-2-5 × 10^k step not above `error`: what an approximate answer is rounded to."""
    magnitude = 10 ** math.floor(math.log10(error))
    if magnitude > error:  # log10 rounds up just below a power of ten (0.00999… → -2.0)
        magnitude /= 10
    return max(m * magnitude for m in (1, 2, 5) if m * magnitude <= error)


def readable(qa: QA, sample: Sample, rendered: Rendered) -> QA | None:
    """The question as the image lets it be answered: exact where values are printed, or where it asks which mark
    is larger (separable() checked); else with the reading error as its tolerance — a value read off the axis (or a
    slice), or a difference or sum of such values, rounded and asked approximately; a derived value only while its
    error stays small, and one whose question states its decimals only if it is readable to them. None: drop it."""
    spec, lang, op = sample.spec, sample.lang, qa.program.op
    rule, chart = OPS[op], family(spec.chart_type)
    question = qa.question.removesuffix(text("approximately", lang))
    try:
        col = pick_mark(qa.program, rendered.elements).col if op is Op.PICK else qa.program.col
    except Unverifiable:  # e.g. two marks equally "rightmost": the image cannot settle it
        return None

    def exact(read_from: str, tolerance: float) -> QA:
        """Asked as written; an answer rounded for an earlier rendering (a regenerated row) is written in full."""
        update = {"question": question, "read_from": read_from, "tolerance": tolerance}
        if question != qa.question and rule.written == "number":
            update["answer"] = write_answer(op, evaluate(qa.program, spec, rendered.elements), spec, col,
                                            sample.style, lang)[0]
        return qa.model_copy(update=update)

    if rule.printed:  # furniture: read as printed (a series count: the legend's entries)
        legend = any(e.kind == "legend" for e in rendered.elements)
        try:  # as this drawing prints it: a restyled row may carry another source line, or none
            printed = write_answer(op, evaluate(qa.program, spec, rendered.elements), spec, col, sample.style, lang)[0]
        except Unverifiable:
            return None
        asked = exact("label", 0.0).model_copy(update={"answer": printed})
        return asked if op is not Op.SERIES_COUNT or legend else None
    if labelled(sample):
        return exact("cell" if chart.cells or chart.data_table else "label", 0.0)
    error = reading_error(spec, col, rendered)
    if op in (Op.COUNT_ABOVE, Op.FIRST_ABOVE):  # each value that decides it readably on its side of the threshold
        return exact("axis", 0.0) if error is not None and clear_of_threshold(qa.program, spec, error) else None
    if rule.written != "number":  # which label, which rank: settled by comparing marks
        return exact("position", 0.0)
    truth = evaluate(qa.program, spec, rendered.elements)
    if error is None:
        return None
    read_from = "slice" if chart.round else "axis"
    if op in (Op.VALUE, Op.PICK, Op.MAX, Op.MIN):  # tolerance: the reading error plus the answer's own rounding
        if error > SMALL_VALUE * abs(truth):  # a sliver of a bar: its size is seen, its value is not ("about 0")
            return None
        quantum = rounding_step(error)
        shown = 10.0 ** -spec.decimals_of(col)
        if quantum <= shown:  # the chart's own precision is readable: ask it exactly
            return exact(read_from, error + 0.5 * shown)
        digits = rounded_digits(quantum)
        rounded = round(truth / quantum) * quantum
        answer, _ = write_answer(op, rounded, spec, col, sample.style, lang, decimals=digits)
        return approximately(qa, question + text("approximately", lang), answer, read_from,
                             error + abs(rounded - truth))
    if op is Op.GROWTH or op is Op.RATIO:  # relative errors of the two reads add up
        program = qa.program
        first, second = ((program.start, program.col), (program.end, program.col)) if op is Op.GROWTH else \
            ((program.row, program.col), (program.other.row, program.other.col))
        a, b = (evaluate(program.model_copy(update={"op": Op.VALUE, "row": row, "col": c}), spec, [])
                for row, c in (first, second))
        if min(abs(a), abs(b)) <= error:  # a read could be zero: no bound
            return None
        compute = (lambda x, y: (y / x - 1) * 100) if op is Op.GROWTH else (lambda x, y: x / y)
        tolerance = max(abs(compute(a + da, b + db) - truth) for da in (-error, error) for db in (-error, error))
        bound = GROWTH_POINTS if op is Op.GROWTH else DERIVED_RELATIVE * abs(truth)
    else:
        reads = len(qa.program.rows) if op is Op.SUM and qa.program.rows else READS.get(op, len(spec.data.index))
        tolerance = reads * error
        bound = DERIVED_RELATIVE * abs(truth)
    if tolerance > bound:
        return None
    written = 10.0 ** -(rule.decimals if rule.decimals is not None else spec.decimals_of(col) + rule.extra_decimals)
    if rule.decimals is not None or rule.extra_decimals:  # the question states its decimals ("to one decimal place")
        return exact(read_from, tolerance) if tolerance <= written / 2 else None
    quantum = rounding_step(tolerance)
    if quantum <= written:
        return exact(read_from, tolerance + 0.5 * written)
    rounded = round(truth / quantum) * quantum  # a difference or sum of read values: rounded and asked approximately
    digits = rounded_digits(quantum)
    answer, _ = write_answer(op, rounded, spec, col, sample.style, lang, decimals=digits)
    return approximately(qa, question + text("approximately", lang), answer, read_from, tolerance + abs(rounded - truth))


def clear_of_threshold(program, spec: ChartSpec, error: float) -> bool:
    """Every value a threshold question turns on lies further from the threshold than a reading can be off: all of
    them for a count, those up to the first above it for a first."""
    values = spec.data.column(program.col)
    if program.op is Op.FIRST_ABOVE:
        first = next((i for i, v in enumerate(values) if v > program.threshold), len(values) - 1)
        values = values[:first + 1]
    return all(abs(v - program.threshold) > error for v in values)


def approximately(qa: QA, question: str, answer: str, read_from: str, tolerance: float) -> QA | None:
    """`qa` asked approximately; None (not asked) when saying so makes the question too long."""
    if len(question) > MAX_QUESTION:
        return None
    return qa.model_copy(update={"question": question, "answer": answer, "read_from": read_from,
                                 "tolerance": tolerance})
