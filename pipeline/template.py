"""The offline template generator: persona → topic → description → spec → QA, from the shipped seed lists.

Deterministic: everything is drawn from `numpy.random.default_rng([run_seed, index])`. Answers are computed from
the table with pandas here; pipeline/verify.py recomputes them independently before anything is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

import prompts
from pipeline import __version__
from renderers.numbers import format_number
from renderers.style import sample_period_format, sample_style
from schemas import (
    QA,
    AnswerType,
    CellRef,
    ChartSpec,
    ChartType,
    DataTable,
    Description,
    Element,
    HeaderGroup,
    Op,
    PeriodFormat,
    Persona,
    Program,
    Provenance,
    QAType,
    RunConfig,
    Sample,
    StyleSpec,
    Topic,
)

AXIS_CHARTS = {
    "period": [ChartType.BAR, ChartType.LINE, ChartType.AREA, ChartType.GROUPED_BAR, ChartType.STACKED_BAR,
               ChartType.BAR_LINE, ChartType.TABLE, ChartType.BARH],
    "category": [ChartType.BAR, ChartType.BARH, ChartType.GROUPED_BAR, ChartType.STACKED_BAR, ChartType.TABLE],
    "share": [ChartType.PIE, ChartType.DONUT, ChartType.BAR, ChartType.BARH, ChartType.TABLE],
    "pair": [ChartType.SCATTER],
}
MULTI_SERIES = (ChartType.GROUPED_BAR, ChartType.STACKED_BAR)
SCALE_WORDS = "十百千万億兆"  # a unit starting with one of these is already scaled (億円, 千台)
RENDERERS = ("matplotlib", "plotly")


@dataclass(frozen=True)
class Choice:
    domain: dict
    topic: dict
    org: list[str]
    function: list[str]


def _text(*path: str) -> dict:
    node = prompts.load("template_text")
    for key in path:
        node = node[key]
    return node


def persona_roles() -> list[tuple[str, str, str]]:
    """Every shipped (domain, ja role, en role): organisation × function per domain."""
    return [
        (d["id"], f"{org[0]}の{fn[0]}", f"{fn[1]} at {org[1]}")
        for d in prompts.load("seeds")["domains"]
        for org in d["orgs"]
        for fn in d["functions"]
    ]


def _fits(topic: dict, chart: ChartType) -> bool:
    if chart not in AXIS_CHARTS[topic["axis"]]:
        return False
    if chart is ChartType.BAR_LINE:
        return "secondary" in topic
    if chart in MULTI_SERIES:
        return len(topic.get("series", [])) >= 2
    return True


def _choose(rng: np.random.Generator, chart: ChartType) -> Choice:
    options = [(d, t) for d in prompts.load("seeds")["domains"] for t in d["topics"] if _fits(t, chart)]
    domain, topic = options[int(rng.integers(len(options)))]
    org = domain["orgs"][int(rng.integers(len(domain["orgs"])))]
    function = domain["functions"][int(rng.integers(len(domain["functions"])))]
    return Choice(domain, topic, org, function)


# ---------------------------------------------------------------- labels and numbers

def _year_label(year: int, fmt: PeriodFormat, lang: str) -> str:
    if fmt is PeriodFormat.FY:
        return f"FY{year}"
    if fmt is PeriodFormat.NENDO:
        return f"{year}年度"
    if fmt is PeriodFormat.WAREKI:
        era, n = ("令和", year - 2018) if year >= 2019 else ("平成", year - 1988)
        return f"{era}{'元' if n == 1 else n}年度"
    if fmt is PeriodFormat.YEAR_MONTH:
        return f"{year}/1"
    return f"{year}年" if lang == "ja" else str(year)


def _periods(rng: np.random.Generator, n: int, seasonal: bool, fmt: PeriodFormat, lang: str) -> list[str]:
    if seasonal:
        year = int(rng.integers(2018, 2025))
        return [f"{year}/{m}" for m in range(1, n + 1)]
    start = int(rng.integers(2010, 2026 - n))
    return [_year_label(y, fmt, lang) for y in range(start, start + n)]


def _round(values, decimals: int) -> list[float]:
    return [round(float(v), decimals) for v in values]


def _series_values(rng, n: int, base: list[float], decimals: int, growth=(0.0, 0.0), seasonal=False) -> list[float]:
    lo, hi = base
    level = math.exp(rng.uniform(math.log(lo), math.log(hi))) if lo > 0 else rng.uniform(lo, hi)
    g = rng.uniform(*growth)
    t = np.arange(n)
    shape = (1 + g) ** t
    if seasonal:
        shape = shape * (1 + rng.uniform(0.08, 0.3) * np.sin(2 * np.pi * (t + rng.integers(12)) / 12))
    values = level * shape * (1 + rng.normal(0, 0.03, n))
    floor = 10 ** -decimals
    return _round(np.maximum(values, floor), decimals)


def _shares(rng, n: int, decimals: int) -> list[float]:
    """Shares that sum to exactly 100 at the shown precision, every one positive."""
    step = 10 ** -decimals
    while True:
        raw = rng.dirichlet(np.full(n, 2.0)) * 100
        shares = _round(raw[:-1], decimals)
        last = round(100 - sum(shares), decimals)
        if min(shares + [last]) >= step:
            return sorted(shares + [last], reverse=True)


def _pick_subset(rng, items: list, k: int) -> list:
    chosen = sorted(rng.choice(len(items), size=k, replace=False))
    return [items[i] for i in chosen]


# ---------------------------------------------------------------- spec

def _pair_spec(rng, chart: ChartType, topic: dict, li: int, lang: str, title: str) -> ChartSpec:
    """Scatter: two measures per entity, loosely correlated."""
    x, y = topic["x"], topic["y"]
    decimals = max(x["decimals"], y["decimals"])
    entities = _pick_subset(rng, topic["categories"], int(rng.integers(5, len(topic["categories"]) + 1)))
    xs = np.linspace(*x["base"], len(entities)) * rng.uniform(0.8, 1.2, len(entities))
    rel = (xs - xs.mean()) / (np.ptp(xs) or 1.0)
    mid, span = (y["base"][0] + y["base"][1]) / 2, (y["base"][1] - y["base"][0]) / 2
    ys = np.clip(mid + span * (2 * rng.uniform(-0.8, 0.8) * rel + rng.normal(0, 0.25, len(xs))), y["base"][0], None)
    columns = [x["metric"][li], y["metric"][li]]
    data = DataTable(index=[e[li] for e in entities], columns=columns,
                     data=[list(p) for p in zip(_round(xs, decimals), _round(ys, decimals))])
    return ChartSpec(chart_type=chart, title=title, x_title=_with_unit_title(columns[0], x["unit"][li], lang),
                     y_title=_with_unit_title(columns[1], y["unit"][li], lang), unit=y["unit"][li],
                     decimals=decimals, column_units={columns[0]: x["unit"][li]}, data=data)


def _series_count(rng, chart: ChartType, available: int) -> int:
    if chart in (ChartType.BAR, ChartType.BARH):
        return 1
    if chart in MULTI_SERIES or chart is ChartType.TABLE:
        return int(rng.integers(2, min(4, available) + 1))
    return int(rng.integers(1, min(2 if chart is ChartType.BAR_LINE else 3, available) + 1))


def _spec(rng, chart: ChartType, choice: Choice, lang: str, fmt: PeriodFormat) -> tuple[ChartSpec, PeriodFormat]:
    """The spec, and the period format its labels really use (monthly data is always written 2023/1)."""
    topic, li = choice.topic, 0 if lang == "ja" else 1
    metric, unit, decimals = topic["metric"][li], topic.get("unit", ["", ""])[li], topic.get("decimals", 0)
    axis = topic["axis"]
    title = f"{metric}の推移" if lang == "ja" and axis == "period" else metric
    if axis == "pair":
        return _pair_spec(rng, chart, topic, li, lang, title), fmt
    extra: dict = {}
    if axis == "share":
        cats = _pick_subset(rng, topic["categories"], int(rng.integers(3, len(topic["categories"]) + 1)))
        index = [c[li] for c in cats]
        data = DataTable(index=index, columns=[metric], data=[[v] for v in _shares(rng, len(index), decimals)])
    else:
        seasonal = axis == "period" and bool(topic.get("seasonal")) and rng.random() < 0.5
        if axis == "period":
            long = chart in (ChartType.LINE, ChartType.AREA)
            n = int(rng.integers(6, 13)) if seasonal else int(rng.integers(4, 11 if long else 9))
            index = _periods(rng, n, seasonal, fmt, lang)
            fmt = PeriodFormat.YEAR_MONTH if seasonal else fmt
        else:
            cats = _pick_subset(rng, topic["categories"], int(rng.integers(3, len(topic["categories"]) + 1)))
            index = [c[li] for c in cats]
        cols = [s[li] for s in _pick_subset(rng, topic["series"], _series_count(rng, chart, len(topic["series"])))]
        values = [_series_values(rng, len(index), topic["base"], decimals, topic.get("growth", (0.0, 0.0)), seasonal)
                  for _ in cols]
        if chart is ChartType.BAR_LINE:
            sec = topic["secondary"]
            cols.append(sec["metric"][li])
            values.append(_series_values(rng, len(index), sec["base"], sec["decimals"], (-0.08, 0.08)))
            extra = {"secondary_series": [cols[-1]], "column_units": {cols[-1]: sec["unit"][li]},
                     "column_decimals": {cols[-1]: sec["decimals"]}}
        data = DataTable(index=index, columns=cols, data=[list(r) for r in zip(*values)])
        if chart is ChartType.TABLE and rng.random() < 0.6:
            extra["header_groups"] = [HeaderGroup(label=metric, span=len(cols))]
    x_title = "区分" if axis == "category" and lang == "ja" else ""
    spec = ChartSpec(chart_type=chart, title=title, x_title=x_title, y_title=_with_unit_title(metric, unit, lang),
                     unit=unit, decimals=decimals, data=data, **extra)
    return spec, fmt


def _with_unit_title(name: str, unit: str, lang: str) -> str:
    if not unit:
        return name
    return f"{name}（{unit}）" if lang == "ja" else f"{name} ({unit})"


# ---------------------------------------------------------------- answers and phrasing

def with_unit(number: str, unit: str, lang: str) -> str:
    if not unit:
        return number
    return f"{number}{unit}" if lang == "ja" or unit in ("%", "℃") else f"{number} {unit}"


def _subject(spec: ChartSpec, metric: str, col: str, lang: str) -> str:
    if spec.chart_type is ChartType.SCATTER or col in spec.secondary_series:
        return col
    kind = "single" if len(spec.data.columns) - len(spec.secondary_series) == 1 else "series"
    return _text("subject", kind, lang).format(metric=metric, col=col)


class _QABuilder:
    """Builds questions over one spec; every number it writes is computed with pandas from the table."""

    def __init__(self, spec: ChartSpec, metric: str, style: StyleSpec, lang: str, timeline: bool = False):
        self.spec, self.metric, self.style, self.lang, self.timeline = spec, metric, style, lang, timeline
        self.df = pd.DataFrame(**spec.data.model_dump())

    def number(self, value: float, decimals: int, unit: str, signed: bool = False) -> str:
        text = format_number(value, decimals, self.style, self.lang)
        if signed and value > 0 and text.strip("0.,０．，"):
            text = "+" + text
        return with_unit(text, unit, self.lang)

    def qa(self, op: Op, qa_type: QAType, answer: str, unit: str, answer_type=AnswerType.NUMBER, phrase: str = "",
           **fields) -> QA:
        """Fields starting with "_" fill the phrasing; the rest form the program the verifier re-runs."""
        placeholders = {k: v for k, v in fields.items() if k.startswith("_")}
        countable = bool(unit) and "/" not in unit
        for key, (counter, plain) in ((k, v) for k, v in _text("ask").items() if k != "note"):
            placeholders[f"_{key}"] = counter.format(unit=unit) if countable else plain
        program = Program(op=op, **{k: v for k, v in fields.items() if not k.startswith("_")})
        question = _text("qa", phrase or op.value, self.lang).format(**{k[1:]: v for k, v in placeholders.items()})
        return QA(question=question, answer=answer, qa_type=qa_type, answer_type=answer_type, unit=unit, program=program)

    def subject(self, col: str) -> str:
        return _subject(self.spec, self.metric, col, self.lang)

    def retrieval(self, rng) -> QA:
        row = self.df.index[int(rng.integers(len(self.df.index)))]
        col = self.df.columns[int(rng.integers(len(self.df.columns)))]
        unit = self.spec.series_unit[col]
        return self.qa(Op.VALUE, QAType.RETRIEVAL, self.number(self.df.at[row, col], self.spec.decimals_of(col), unit), unit,
                       row=row, col=col, _row=row, _subject=self.subject(col))

    def compositional(self, rng) -> list[QA]:
        df, lang = self.df, self.lang
        col = df.columns[int(rng.integers(len(df.columns)))]
        d = self.spec.decimals_of(col)
        unit, values, subject = self.spec.series_unit[col], df[col], self.subject(col)
        first, last = df.index[0], df.index[-1]
        out: list[QA] = []
        if self.spec.chart_type in (ChartType.PIE, ChartType.DONUT) or len(df.index) < 3:
            a, b = _pick_subset(rng, list(df.index), 2)
            joiner = _text("joiner", lang)
            out.append(self.qa(Op.SUM, QAType.COMPOSITIONAL, self.number(values[[a, b]].sum(), d, unit), unit,
                               col=col, rows=[a, b], _rows_text=f"{a}{joiner}{b}", _subject=subject))
        else:
            out.append(self.qa(Op.DIFF, QAType.COMPOSITIONAL, self.number(values[last] - values[first], d, unit, signed=True),
                               unit, phrase="diff" if self.timeline else "diff_between",
                               col=col, start=first, end=last, _start=first, _end=last, _subject=subject))
            if self.timeline and values[first] > 0:
                out.append(self.qa(Op.GROWTH, QAType.COMPOSITIONAL,
                                   self.number((values[last] / values[first] - 1) * 100, 1, "%", signed=True), "%",
                                   col=col, start=first, end=last, _start=first, _end=last, _subject=subject))
            out.append(self.qa(Op.MEAN, QAType.COMPOSITIONAL, self.number(values.mean(), d + 1, unit), unit, col=col,
                               _n=len(values), _d=d + 1, _subject=subject))
        top, bottom = values.idxmax(), values.idxmin()
        if (values == values[top]).sum() == 1:
            out.append(self.qa(Op.ARGMAX, QAType.COMPOSITIONAL, top, "", AnswerType.LABEL, col=col, _subject=subject))
            out.append(self.qa(Op.MAX, QAType.COMPOSITIONAL, self.number(values[top], d, unit), unit, col=col, _subject=subject))
        if (values == values[bottom]).sum() == 1:
            out.append(self.qa(Op.ARGMIN, QAType.COMPOSITIONAL, bottom, "", AnswerType.LABEL, col=col, _subject=subject))
        row = df.index[int(rng.integers(len(df.index)))]
        if (values == values[row]).sum() == 1:
            rank_unit = _text("rank_unit", lang)
            rank = int((values > values[row]).sum()) + 1
            out.append(self.qa(Op.RANK, QAType.COMPOSITIONAL, with_unit(str(rank), rank_unit, lang), rank_unit,
                               col=col, row=row, _row=row, _subject=subject))
        other_row = df.index[int(rng.integers(len(df.index)))]
        if other_row != row and values[other_row] > 0:
            ratio_unit = _text("ratio_unit", lang)
            out.append(self.qa(Op.RATIO, QAType.COMPOSITIONAL,
                               self.number(values[row] / values[other_row], 2, ratio_unit), ratio_unit,
                               col=col, row=row, other=CellRef(row=other_row, col=col),
                               _row=row, _other_row=other_row, _subject=subject, _other_subject=subject))
        return out

    def visual(self, rng, elements: list[Element]) -> list[QA]:
        """Questions about marks as drawn: their colour (the palette actually used) and position (the element boxes)."""
        marks = [e for e in elements if e.kind != "text"]
        if not marks:
            return []
        kind = marks[0].kind
        color_words = {c.hex: getattr(c, self.lang) for c in self.style.palette}
        col = marks[int(rng.integers(len(marks)))].col
        same = [e for e in marks if e.col == col]
        if kind == "slice":
            target = same[int(rng.integers(len(same)))] if len(same) > 1 else same[0]
            if sum(1 for e in marks if e.color == target.color) != 1:
                return []
            where, order, color, chosen = "", None, target.color, target
        else:
            if any(e.bbox is None for e in same):
                return []
            horizontal = self.spec.chart_type is ChartType.BARH or kind == "cell"
            order = ("bottommost" if rng.random() < 0.5 else "topmost") if horizontal else \
                ("rightmost" if rng.random() < 0.5 else "leftmost")
            axis, sign = (1, 1) if horizontal else (0, 1)
            center = lambda e: (e.bbox[axis] + e.bbox[axis + 2]) / 2  # noqa: E731
            chosen = (max if order in ("rightmost", "bottommost") else min)(same, key=center)
            color = None if kind == "cell" or len({e.color for e in marks}) == 1 else chosen.color
            where = _text("where", order, self.lang)
        value = self.df.at[chosen.row, chosen.col]
        unit = self.spec.series_unit[chosen.col]
        color_text = "" if color is None else (color_words[color] + ("の" if self.lang == "ja" else " "))
        mark = _text("mark", kind, self.lang).format(col=chosen.col)
        return [self.qa(Op.PICK, QAType.VISUAL, self.number(value, self.spec.decimals_of(chosen.col), unit), unit,
                        color=color, order=order, col=chosen.col if kind == "cell" else None,
                        _where=where, _color=color_text, _mark=mark)]


def _description(choice: Choice, spec: ChartSpec, metric: str, style: StyleSpec, lang: str) -> str:
    li = 0 if lang == "ja" else 1
    org = choice.org[li]
    table = spec.data
    col = table.columns[0]
    unit = spec.series_unit[col]
    fmt = lambda v: with_unit(format_number(v, spec.decimals_of(col), style, lang), unit, lang)  # noqa: E731
    values = table.column(col)
    if spec.chart_type is ChartType.SCATTER:
        i = int(np.argmax(values))
        y = table.columns[1]
        return _text("description", "pair", lang).format(
            org=org, xname=col, top=table.index[i], yname=y,
            v0=with_unit(format_number(table.data[i][1], spec.decimals, style, lang), spec.series_unit[y], lang))
    subject = _subject(spec, metric, col, lang)
    if choice.topic["axis"] == "period":
        v0, v1 = values[0], values[-1]
        kind = "rise" if v1 > v0 else "fall" if v1 < v0 else "flat"
        return _text("description", kind, lang).format(org=org, subject=subject, start=table.index[0],
                                                       end=table.index[-1], v0=fmt(v0), v1=fmt(v1))
    i = int(np.argmax(values))
    return _text("description", "top", lang).format(org=org, subject=subject, top=table.index[i], v0=fmt(values[i]))


def draft_sample(config: RunConfig, index: int) -> Sample:
    """Everything but the visual questions, which need the rendered element boxes (see `add_visual_qa`)."""
    rng = np.random.default_rng([config.seed, index])
    lang = config.lang if config.lang != "mix" else ("ja" if rng.random() < 0.5 else "en")
    chart = list(ChartType)[int(rng.integers(len(ChartType)))]
    choice = _choose(rng, chart)
    fmt = sample_period_format(rng, lang)
    spec, fmt = _spec(rng, chart, choice, lang, fmt)
    metric = choice.topic["metric"][0 if lang == "ja" else 1]
    n_colors = len(spec.data.index) if chart in (ChartType.PIE, ChartType.DONUT) else len(spec.data.columns)
    bare_units = all(u and u[0] not in SCALE_WORDS for u in spec.series_unit.values())
    style = sample_style(rng, lang, chart, n_colors, fmt, bare_units)
    renderer = "table" if chart is ChartType.TABLE else (
        config.renderer if config.renderer != "mix" else RENDERERS[int(rng.integers(len(RENDERERS)))])
    li = 0 if lang == "ja" else 1
    qa = program_qa(spec, metric, style, lang, rng, timeline=choice.topic["axis"] == "period")
    return Sample(
        id=sample_id(config.seed, index),
        lang=lang,
        renderer=renderer,
        persona=Persona(domain=choice.domain["id"], role=f"{choice.org[0]}の{choice.function[0]}" if lang == "ja"
                        else f"{choice.function[1]} at {choice.org[1]}"),
        topic=Topic(text=_text("topic", choice.topic["axis"], lang).format(org=choice.org[li], metric=metric), metric=metric),
        description=Description(text=_description(choice, spec, metric, style, lang)),
        spec=spec,
        style=style,
        qa=qa,
        provenance=Provenance(generator="template", prompt_version=f'{prompts.load("template_text")["version"]}+{prompts.load("seeds")["version"]}',
                              run_seed=config.seed, sample_index=index, package_version=__version__),
    )


def program_qa(spec: ChartSpec, metric: str, style: StyleSpec, lang: str, rng, timeline: bool, k: int = 3) -> list[QA]:
    """One retrieval question and up to `k` compositional ones, all written and answered by program."""
    builder = _QABuilder(spec, metric, style, lang, timeline=timeline)
    compositional = builder.compositional(rng)
    take = sorted(rng.choice(len(compositional), size=min(k, len(compositional)), replace=False))
    return [builder.retrieval(rng)] + [compositional[i] for i in take]


def format_answer(program: Program, truth: float | str, spec: ChartSpec, style: StyleSpec, lang: str) -> tuple[str, str]:
    """(answer, unit) for a value computed from the table, written the way this generator writes answers."""
    if isinstance(truth, str):
        return truth, ""
    number = _QABuilder(spec, "", style, lang).number
    if program.op is Op.GROWTH:
        return number(truth, 1, "%", signed=True), "%"
    if program.op is Op.RATIO:
        unit = _text("ratio_unit", lang)
        return number(truth, 2, unit), unit
    if program.op is Op.RANK:
        unit = _text("rank_unit", lang)
        return with_unit(str(int(truth)), unit, lang), unit
    col = program.col if program.col is not None else spec.data.columns[0]
    unit = spec.series_unit[col]
    decimals = spec.decimals_of(col) + (1 if program.op is Op.MEAN else 0)
    return number(truth, decimals, unit, signed=program.op is Op.DIFF), unit


def add_visual_qa(sample: Sample, elements: list[Element]) -> Sample:
    rng = np.random.default_rng([sample.provenance.run_seed, sample.provenance.sample_index, 1])
    builder = _QABuilder(sample.spec, sample.topic.metric, sample.style, sample.lang)
    return sample.model_copy(update={"qa": sample.qa + builder.visual(rng, elements)})


def sample_id(seed: int, index: int) -> str:
    return f"cs{seed}-{index:09d}"
