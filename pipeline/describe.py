"""What a chart says, as text: the template generator's 3–5-sentence description and the chart-to-table target.

Every number, label and direction a description states comes from a fact computed by program — a QA the verifier
re-runs (Sample.description_facts) — and is written as the image lets a reader check it (pipeline.answerable: "約"/
"about" when read off the axis, left unsaid when it cannot be read). The table target lists every value, rounded to
what the drawing shows when no value is printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.answerable import answerable, labelled, reading_error, rounding_step
from common.numbers import MINUS_SIGNS
from pipeline.qa import (OPS, QuestionWriter, degree, format_value, grows, parts_of_whole, round_between, text,
                         with_unit_title)
from pipeline.style import pick
from renderers.charts import family
from renderers.charts.family import percent
from renderers.numbers import format_number, rounded_digits
from schemas import QA, ChartSpec, Op, QAType, Rendered, Sample

DESCRIBE_STREAM = 103  # [run seed, index, 103]: what a template description says and how
SENTENCES = (3, 5)  # a description's length, overview included
ORDER = ("rise", "fall", "growth", "peak", "trough", "max", "share", "min", "factor_up", "factor_down",
         "compare_series", "streak", "count_above", "count_above_one", "count_above_time", "count_above_time_one",
         "mean")


@dataclass
class Claim:
    """One sentence: `key` names its skeletons; `facts` are the QAs whose answers it states (the first must be
    readable, and the rest too — else `fallback`'s skeleton states what is, or without one the sentence is not
    said); `fill` the words it needs besides."""

    key: str
    facts: list[QA]
    fill: dict = field(default_factory=dict)
    fallback: str = ""


def _phrase(key: str, lang: str, rng, **fill) -> str:
    return pick(rng, text("description", key, lang)).format(**fill)


def joined(sentences: list[str], lang: str) -> str:
    return "".join(sentences) if lang == "ja" else " ".join(s[:1].upper() + s[1:] for s in sentences)


def overview(spec: ChartSpec, topic: str, lang: str, rng) -> list[str]:
    """What the chart is about: its topic and span, and its series when there are several."""
    index, columns = spec.data.index, spec.data.columns
    if spec.timeline:
        said = [_phrase("overview_time", lang, rng, topic=topic, start=index[0], end=index[-1])]
    else:
        said = [_phrase("overview_items", lang, rng, topic=topic, n=len(index))]
    if len(columns) > 1 and not (family(spec.chart_type).paired or family(spec.chart_type).summary):
        names = ("、" if lang == "ja" else ", ").join(columns)
        said.append(_phrase("series", lang, rng, series=names, k=len(columns)))
    return said


def _claims(writer: QuestionWriter, rng) -> list[Claim]:
    """Every sentence the table supports, each with the facts it would state."""
    spec, df, lang = writer.spec, writer.df, writer.lang
    chart = family(spec.chart_type)
    col = df.columns[2] if chart.summary else df.columns[0]  # boxes are told apart by their medians
    values, subject = df[col], writer.subject(col)
    c, r = QAType.COMPOSITIONAL, QAType.RETRIEVAL
    claims: list[Claim] = []

    def fact(op: Op, value, qa_type=c, about=col, **fields) -> QA | None:
        return writer.qa(op, qa_type, value, about, col=about, **fields)

    first, last = df.index[0], df.index[-1]
    if spec.timeline or chart.bridge:
        change = values[last] - values[first]
        if change:
            facts = [fact(Op.DIFF, change, start=first, end=last, _start=first, _end=last, _subject=subject)]
            claims.append(Claim("rise" if change > 0 else "fall", facts, {"start": first, "end": last}))
            if grows(spec, col, values[first]):
                growth = (values[last] / values[first] - 1) * 100
                claims.append(Claim("growth", [fact(Op.GROWTH, growth, start=first, end=last, _start=first, _end=last,
                                                    _subject=subject)], {"start": first, "end": last}))
    if chart.bridge:
        moves = values[list(df.index[1:-1])]
        factors = list(moves.index)
        for op, key, best, moved in ((Op.ARGMAX, "factor_up", moves.idxmax(), moves.max() > 0),
                                     (Op.ARGMIN, "factor_down", moves.idxmin(), moves.min() < 0)):
            if moved and (moves == moves[best]).sum() == 1:
                claims.append(Claim(key, [fact(op, best, rows=factors, _subject=subject)]))
        return claims
    for largest in (True, False):
        best = values.idxmax() if largest else values.idxmin()
        if (values == values[best]).sum() != 1:
            continue
        label_op, value_op = (Op.ARGMAX, Op.MAX) if largest else (Op.ARGMIN, Op.MIN)
        facts = [fact(label_op, best, _subject=subject), fact(value_op, values[best], _subject=subject)]
        interior = spec.timeline and best not in (first, last)
        key = ("peak" if largest else "trough") if interior else ("max" if largest else "min")
        if key == "max" and chart.round and percent(spec.series_unit[col]):
            key = "share"
        claims.append(Claim(key, facts, fallback="" if key == "share" else key + "_label"))
    peers = [p for p in df.columns[1:] if spec.series_unit[p] == spec.series_unit[col]
             and (p in spec.secondary_series) == (col in spec.secondary_series)]
    if peers and not (chart.paired or chart.round or chart.summary):
        peer = peers[int(rng.integers(len(peers)))]
        a, b = (col, peer) if df.at[last, col] > df.at[last, peer] else (peer, col)
        if df.at[last, a] != df.at[last, b]:
            names = {"subject": writer.subject(a), "other_subject": writer.subject(b)}
            larger = writer.qa(Op.COMPARE, c, "yes", a, "compare_series", col=a, row=last,
                               other={"row": last, "col": b}, _row=last, **{f"_{k}": v for k, v in names.items()})
            claims.append(Claim("compare_series", [larger], {"row": last} | names))
    if spec.timeline and len(values) >= 4:
        rises = "".join("1" if b > a else "0" for a, b in zip(values, values[1:]))
        longest = max(len(run) for run in rises.split("0"))
        if longest >= 2:
            claims.append(Claim("streak", [fact(Op.LONGEST_RISE, float(longest), _subject=subject)]))
    threshold = round_between(rng, list(values))
    above = None if threshold is None else int((values > threshold).sum())
    if above:
        said = format_value(threshold, spec.decimals_of(col), spec.series_unit[col], writer.style, lang)
        key = ("count_above_time" if spec.timeline else "count_above") + ("_one" if above == 1 else "")
        claims.append(Claim(key,  # "1 entries" is no English
                            [fact(Op.COUNT_ABOVE, float(above), threshold=threshold, _threshold=said,
                                  _subject=subject)], {"threshold": said}))
    if not chart.paired and not parts_of_whole(spec, col) and len(values) >= 3:
        claims.append(Claim("mean", [fact(Op.MEAN, values.mean(), r, _n=len(values),
                                          _d=spec.decimals_of(col) + OPS[Op.MEAN].extra_decimals, _subject=subject)],
                            {"n": len(values)}))
    return claims


def describe(sample: Sample, rendered: Rendered) -> Sample:
    """The sample with its description written from the drawn chart: the overview and 3–5 sentences' worth of
    facts, each settled from the image like a question (pipeline.answerable) and kept in description_facts."""
    seed = [sample.provenance.run_seed, sample.provenance.sample_index, DESCRIBE_STREAM]
    rng = np.random.default_rng(seed)
    spec, lang = sample.spec, sample.lang
    writer = QuestionWriter(spec, sample.topic.metric, sample.style, lang, rng)
    claims = [cl for cl in _claims(writer, rng) if all(f is not None for f in cl.facts)]
    facts = [f for cl in claims for f in cl.facts]
    settled = {q.program.model_dump_json(): q for q in answerable(sample.model_copy(update={"qa": facts}),
                                                                  rendered).qa}
    said = overview(spec, sample.topic.text, lang, rng)
    sentences, stated = [], []
    for claim in claims:
        kept = [settled.get(f.program.model_dump_json()) for f in claim.facts]
        if kept[0] is None:
            continue
        key = claim.key if all(k is not None for k in kept) else claim.fallback
        if not key:
            continue
        sentences.append((claim, key, [k for k in kept if k is not None]))
    room = int(rng.integers(SENTENCES[0], SENTENCES[1] + 1)) - len(said)
    chosen = sorted(rng.permutation(len(sentences))[:max(1, room)]) if sentences else []
    picked = sorted((sentences[i] for i in chosen), key=lambda s: ORDER.index(s[0].key))
    for claim, key, kept in picked:
        said.append(_sentence(claim, key, kept, writer, rng))
        stated += kept
    return sample.model_copy(update={"description": sample.description.model_copy(update={"text": joined(said, lang)}),
                                     "description_facts": stated})


def _sentence(claim: Claim, key: str, kept: list[QA], writer: QuestionWriter, rng) -> str:
    lang = writer.lang
    col = kept[0].program.col
    approximately = text("approximately", lang)

    def written(qa: QA) -> str:
        if qa.question.endswith(approximately):
            return pick(rng, text("description", "about", lang)).format(value=qa.answer)
        return qa.answer

    fill = {"subject": writer.subject(col)} | text("degree", degree(writer.spec, col, writer.metric), lang)
    fill |= claim.fill
    labels = {Op.ARGMAX: "top", Op.ARGMIN: "bottom"}
    for qa in kept:
        op = qa.program.op
        if op in labels:
            fill[labels[op]] = qa.answer
        elif op is Op.DIFF:
            fill["amount"] = written(qa.model_copy(update={"answer": qa.answer.lstrip("+" + MINUS_SIGNS)}))
        elif op is Op.GROWTH:
            fill["growth"] = written(qa)
        elif op in (Op.LONGEST_RISE, Op.COUNT_ABOVE):
            fill["n"] = qa.answer
        elif op in (Op.MAX, Op.MIN, Op.MEAN):
            fill["value"] = written(qa)
    return _phrase(key, lang, rng, **fill)


def chart_table(sample: Sample, rendered: Rendered) -> str:
    """The chart's data as a Markdown table (a chart-to-table target): values as the chart prints them, or — none
    printed — rounded to what a reader can read off the axis or a slice, with a note saying so."""
    spec, style, lang = sample.spec, sample.style, sample.lang
    table = spec.data
    quanta: dict[str, float] = {}  # a column's reading step, where coarser than the digits the chart shows
    for col in table.columns:
        error = None if labelled(sample) else reading_error(spec, col, rendered)
        if error is not None and rounding_step(error) > 10.0 ** -spec.decimals_of(col):
            quanta[col] = rounding_step(error)
    corner = (not family(spec.chart_type).paired and spec.x_title) or text(
        "table", "period" if spec.timeline else "index", lang)
    header = [corner] + [with_unit_title(c, spec.series_unit[c], lang) for c in table.columns]

    def cell(value: float, col: str) -> str:
        if col not in quanta:
            return format_number(value, spec.decimals_of(col), style, lang)
        quantum = quanta[col]
        return format_number(round(value / quantum) * quantum, rounded_digits(quantum), style, lang)

    lines = [f"| {' | '.join(header)} |", "|" + " --- |" * len(header)]
    lines += [f"| {label} | " + " | ".join(cell(v, c) for v, c in zip(row, table.columns)) + " |"
              for label, row in zip(table.index, table.data)]
    if quanta:
        lines.append(text("table", "approximate", lang))
    return "\n".join([spec.title, *lines])
