"""The offline template generator: persona → topic → description → spec, from the shipped seed lists; its
questions are written by pipeline/qa.py.

Deterministic: everything is drawn from `numpy.random.default_rng([run_seed, index])`.
"""

from __future__ import annotations

import math
from typing import get_args

import numpy as np

import prompts
from pipeline import __version__
from pipeline.describe import DESCRIBE_STREAM, joined, overview
from pipeline.qa import pick_subset, program_qa, text, with_unit_title, wording
from pipeline.style import pick, sample_period_format, sample_style
from renderers.charts import ChartFamily, families, family
from schemas.seeds import LAST_YEAR, SeedTopic, TemplateChoice
from schemas import (
    ChartRenderer,
    ChartSpec,
    ChartType,
    DataTable,
    Description,
    HeaderGroup,
    PeriodFormat,
    Persona,
    Provenance,
    RunConfig,
    Sample,
    Topic,
)

SHAPE_NOISE = (0.02, 0.08)  # a series' period-to-period noise: its standard deviation is drawn from this range
SHAPE_SHOCK = 0.3  # share of series with a one-period shock
SHAPE_PLATEAU = 0.2  # share of series whose trend levels off
STACK_SPREAD = 0.25  # a stacked part's level is drawn between this share of the stack's largest level and all of it
SCALE_WORDS = "十百千万億兆"  # a unit starting with one of these is already scaled (億円, 千台)
RENDERERS = get_args(ChartRenderer)  # what "mix" spreads over


def _choose(rng: np.random.Generator, chart: ChartFamily) -> TemplateChoice:
    options = [(d, t) for d in prompts.seeds().domains for t in d.topics if chart.fits(t)]
    domain, topic = options[int(rng.integers(len(options)))]
    org = domain.orgs[int(rng.integers(len(domain.orgs)))]
    function = domain.functions[int(rng.integers(len(domain.functions)))]
    return TemplateChoice(domain=domain, topic=topic, org=org, function=function)


def seed_role(choice: TemplateChoice, lang: str) -> str:
    """The persona a choice's organisation and function make: 地方銀行の投資判断担当 / loan officer at a regional bank."""
    return f"{choice.org[0]}の{choice.function[0]}" if lang == "ja" else f"{choice.function[1]} at {choice.org[1]}"


def choose_renderer(chart: ChartFamily, asked: str, rng: np.random.Generator) -> str:
    """The run's renderer, a seeded pick for "mix". A family no chart renderer draws (tables) has its own: for "mix"
    a seeded pick among them, else its first (drawn with matplotlib, so a matplotlib run needs no browser)."""
    choices = [r for r in RENDERERS if r in chart.draw] or list(chart.draw)
    if asked != "mix":
        return asked if asked in choices else choices[0]
    return choices[int(rng.integers(len(choices)))]


# ---------------------------------------------------------------- labels and numbers

def _year_label(year: int, fmt: PeriodFormat, lang: str) -> str:
    if fmt is PeriodFormat.FY:
        return f"FY{year}"
    if fmt is PeriodFormat.NENDO:
        return f"{year}年度"
    if fmt is PeriodFormat.WAREKI:
        era, n = ("令和", year - 2018) if year >= 2019 else ("平成", year - 1988)
        return f"{era}{'元' if n == 1 else n}年度"
    return f"{year}年" if lang == "ja" else str(year)


def _periods(rng: np.random.Generator, n: int, season: int, fmt: PeriodFormat, lang: str,
             since: int | None = None) -> list[str]:
    """`n` consecutive months (season 12, from a January), quarters (season 4, from a first quarter, written one of
    the ways reports write them) or years, the last no later than LAST_YEAR and none before `since` (n fits in
    SeedTopic.periods); long runs start earlier."""
    if season:
        years = (n - 1) // season  # beyond the first
        year = int(rng.integers(max(min(2018, LAST_YEAR - years), since or 0), LAST_YEAR + 1 - years))
        if season == 12:
            return [f"{year + m // 12}/{m % 12 + 1}" for m in range(n)]
        written = pick(rng, text("quarter", lang))
        return [written.format(y=year + k // 4, yy=(year + k // 4) % 100, q=k % 4 + 1, m1=k % 4 * 3 + 1,
                               m2=k % 4 * 3 + 3) for k in range(n)]
    start = int(rng.integers(max(min(2010, LAST_YEAR + 1 - n), since or 0), LAST_YEAR + 2 - n))
    return [_year_label(y, fmt, lang) for y in range(start, start + n)]


def _round(values, decimals: int) -> list[float]:
    return [round(float(v), decimals) for v in values]


def _series_values(rng, n: int, base: list[float], decimals: int, growth=(0.0, 0.0), season: int = 0) -> list[float]:
    """A level drawn from the measure's usual range, moved by a trend, and — as real series are — by noise of a
    seeded size, sometimes a one-period shock (a dip or a spike that partly recovers) or a trend that levels off."""
    lo, hi = base
    level = math.exp(rng.uniform(math.log(lo), math.log(hi))) if lo > 0 else rng.uniform(lo, hi)
    g = rng.uniform(*growth)
    t = np.arange(n)
    shape = (1 + g) ** t
    if rng.random() < SHAPE_PLATEAU:  # growth stops partway: the level holds from there
        shape = np.minimum(shape, shape[int(rng.integers(n // 2, n))]) if g > 0 else \
            np.maximum(shape, shape[int(rng.integers(n // 2, n))])
    if n >= 4 and rng.random() < SHAPE_SHOCK:  # one period off the trend, half of it carried into the next
        at, size = int(rng.integers(1, n - 1)), rng.choice([-1, 1]) * rng.uniform(0.1, 0.25)
        shape = shape * np.where(t == at, 1 + size, np.where(t == at + 1, 1 + size / 2, 1.0))
    if season:  # a yearly cycle over 12 months or 4 quarters
        shape = shape * (1 + rng.uniform(0.08, 0.3) * np.sin(2 * np.pi * (t + rng.integers(season)) / season))
    values = level * shape * (1 + rng.normal(0, rng.uniform(*SHAPE_NOISE), n))
    floor = 10 ** -decimals
    return _round(np.maximum(values, floor), decimals)


def _distribution(rng, n: int, columns: int, base: list[float], decimals: int) -> list[list[float]]:
    """Counts over `n` ordered bins, one list per column: one skewed hump (its peak bin's count drawn from the
    measure's usual range), shared by the columns — two groups of one population differ in size and a little in
    shape — with noise, each count at least one step of the shown precision."""
    lo, hi = base
    centre, left, right = rng.uniform(0.15, 0.85) * (n - 1), rng.uniform(0.2, 0.6) * n, rng.uniform(0.2, 0.6) * n
    k = np.arange(n)
    out = []
    for _ in range(columns):
        peak = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        shift = rng.normal(0, 0.3)
        width = np.where(k < centre + shift, left, right) * rng.uniform(0.9, 1.1)
        shape = np.exp(-0.5 * ((k - centre - shift) / width) ** 2)
        values = peak * shape * (1 + rng.normal(0, 0.05, n))
        out.append(_round(np.maximum(values, 10 ** -decimals), decimals))
    return out


def _signed_values(rng, n: int, base: list[float], decimals: int) -> list[float]:
    """A measure that can fall below zero (a profit, a balance): a level from its usual range plus a drift and noise
    on the range's scale, added rather than multiplied, so a series may cross zero."""
    lo, hi = base
    span = hi - lo
    start, drift = rng.uniform(lo, lo + 0.6 * span), rng.uniform(-0.5, 0.5) * span / n  # often near zero
    return _round(start + drift * np.arange(n) + rng.normal(0, 0.12 * span, n), decimals)


def _five_numbers(rng, base: list[float], decimals: int) -> list[float]:
    """Minimum, quartiles and maximum of one category's values: a median from the measure's usual range, a box a
    sixth to a half of it wide (not always centred on it), whiskers out to one or two box widths, never below zero."""
    lo, hi = base
    median = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    box = median * rng.uniform(0.15, 0.5)
    q1 = median - box * rng.uniform(0.3, 0.7)
    q3 = q1 + box
    low, high = max(q1 - box * rng.uniform(0.5, 1.5), lo * 0.2), q3 + box * rng.uniform(0.5, 2.0)
    return sorted(_round([low, q1, median, q3, high], decimals))


def _shares(rng, n: int, decimals: int, ordered: bool = True) -> list[float]:
    """Shares that sum to exactly 100 at the shown precision, every one positive; largest first when `ordered`."""
    step = 10 ** -decimals
    while True:
        raw = rng.dirichlet(np.full(n, 2.0)) * 100
        shares = _round(raw[:-1], decimals)
        last = round(100 - sum(shares), decimals)
        if min(shares + [last]) >= step:
            return sorted(shares + [last], reverse=True) if ordered else shares + [last]


def _drifting_shares(rng, periods: int, parts: int, decimals: int) -> list[list[float]]:
    """Each period's shares of one whole (a 帯グラフ row), drifting from one period to the next as a composition
    does rather than drawn afresh; every row sums to exactly 100 at the shown precision, every share positive."""
    step = 10 ** -decimals
    raw = rng.dirichlet(np.full(parts, 2.0))
    rows = []
    for _ in range(periods):
        raw = np.maximum(raw, parts * step / 100)  # the last share keeps ≥ a step after the others round
        raw = raw / raw.sum()
        shares = _round(raw[:-1] * 100, decimals)
        rows.append(shares + [round(100 - sum(shares), decimals)])
        raw = raw * np.exp(rng.normal(0, 0.12, parts))
    return rows


# ---------------------------------------------------------------- spec

def _pair_spec(rng, chart: ChartType, topic: SeedTopic, li: int, lang: str, title: str) -> ChartSpec:
    """Scatter: two measures per entity, loosely correlated."""
    x, y = topic.x, topic.y
    decimals = max(x.decimals, y.decimals)
    entities = pick_subset(rng, topic.categories, int(rng.integers(5, len(topic.categories) + 1)))
    xs = np.linspace(*x.base, len(entities)) * rng.uniform(0.8, 1.2, len(entities))
    rel = (xs - xs.mean()) / (np.ptp(xs) or 1.0)
    mid, span = (y.base[0] + y.base[1]) / 2, (y.base[1] - y.base[0]) / 2
    ys = np.clip(mid + span * (2 * rng.uniform(-0.8, 0.8) * rel + rng.normal(0, 0.25, len(xs))), y.base[0], None)
    columns = [x.metric[li], y.metric[li]]
    values = [_round(xs, decimals), _round(ys, decimals)]
    units = {columns[0]: x.unit[li]}
    extra = {}
    if family(chart).sized:  # a third measure, each bubble's area: spread over its range, independent of x and y
        size = topic.size
        columns.append(size.metric[li])
        values.append(_round(np.exp(rng.uniform(*np.log(size.base), len(entities))), size.decimals))
        units[columns[2]] = size.unit[li]
        extra["column_decimals"] = {columns[2]: size.decimals}
    data = DataTable(index=[e[li] for e in entities], columns=columns, data=[list(p) for p in zip(*values)])
    return ChartSpec(chart_type=chart, title=title, x_title=with_unit_title(columns[0], x.unit[li], lang),
                     y_title=with_unit_title(columns[1], y.unit[li], lang), unit=y.unit[li],
                     decimals=decimals, column_units=units, data=data, **extra)


def _bridge_spec(rng, chart: ChartType, topic: SeedTopic, li: int, lang: str, fmt: PeriodFormat) -> ChartSpec:
    """A waterfall: one year's level, 3–5 of the topic's factors (in the seed's order) each moving it by a few to a
    fifth of the level either way, and the next year's level — the first plus every change, exactly as rounded."""
    metric, unit, decimals = topic.metric[li], topic.unit[li], topic.decimals
    start, end = _periods(rng, 2, 0, fmt, lang, topic.since)
    factors = [f[li] for f in pick_subset(rng, topic.categories, int(rng.integers(3, min(5, len(topic.categories)) + 1)))]
    level = _round([math.exp(rng.uniform(*np.log(topic.base)))], decimals)[0]
    changes = _round(level * rng.uniform(0.03, 0.2, len(factors)) * rng.choice([-1, 1], len(factors)), decimals)
    values = [level, *changes, round(level + sum(changes), decimals)]
    title = f"{metric}の増減要因（{start}→{end}）" if lang == "ja" else f"{metric}: {start} → {end}"
    return ChartSpec(chart_type=chart, title=title, y_title=with_unit_title(metric, unit, lang), unit=unit,
                     decimals=decimals, data=DataTable(index=[start, *factors, end], columns=[metric],
                                                       data=[[v] for v in values]))


def _series_count(rng, chart: ChartFamily, available: int) -> int:
    low, high = chart.series
    return low if low == high else int(rng.integers(low, min(high, available) + 1))


def draft_spec(rng, chart: ChartFamily, choice: TemplateChoice, lang: str, fmt: PeriodFormat
               ) -> tuple[ChartSpec, PeriodFormat]:
    """The spec, and the period format its labels really use (monthly data is always written 2023/1). The LLM chain
    takes its labels, series and units and asks the model for the values and the title."""
    topic, li = choice.topic, 0 if lang == "ja" else 1
    metric, unit, decimals = topic.metric[li], topic.unit[li], topic.decimals
    axis = topic.axis
    title = f"{metric}の推移" if lang == "ja" and axis == "period" else metric
    if axis == "pair":
        return _pair_spec(rng, chart.chart_type, topic, li, lang, title), fmt
    if axis == "bridge":
        return _bridge_spec(rng, chart.chart_type, topic, li, lang, fmt), fmt
    extra: dict = {}
    if axis == "share" and chart.shares_per_category:  # 帯グラフ: one bar per period, the parts as columns
        parts = [c[li] for c in pick_subset(rng, topic.categories, int(rng.integers(3, min(5, len(topic.categories)) + 1)))]
        n = int(rng.integers(chart.periods[0], chart.periods[1] + 1))
        index = _periods(rng, min(n, topic.periods() or n), 0, fmt, lang, topic.since)
        data = DataTable(index=index, columns=parts, data=_drifting_shares(rng, len(index), len(parts), decimals))
    elif axis == "spread":  # each category's five-number summary, one column per statistic
        cats = pick_subset(rng, topic.categories, int(rng.integers(3, min(6, len(topic.categories)) + 1)))
        index = [c[li] for c in cats]
        data = DataTable(index=index, columns=list(text("box_stats", lang)),
                         data=[_five_numbers(rng, topic.base, decimals) for _ in index])
    elif axis == "share":
        cats = pick_subset(rng, topic.categories, int(rng.integers(3, len(topic.categories) + 1)))
        index = [c[li] for c in cats]
        shares = _shares(rng, len(index), decimals, ordered=rng.random() < 0.5)  # half in the seed's order, as many reports
        data = DataTable(index=index, columns=[metric], data=[[v] for v in shares])
    else:
        season = 0
        if axis == "period" and topic.seasonal and rng.random() < 0.5:  # months, or quarters
            season = 12 if rng.random() < 0.6 else 4
        if axis == "period":
            low, high = chart.periods
            n = int(rng.integers(max(6, low), max(13, high + 1))) if season else int(rng.integers(low, high + 1))
            index = _periods(rng, min(n, topic.periods(season) or n), season, fmt, lang, topic.since)
            fmt = {12: PeriodFormat.YEAR_MONTH, 4: PeriodFormat.QUARTER}.get(season, fmt)
        elif axis == "bins":  # every bin, in the measure's order
            index = [c[li] for c in topic.categories]
        else:
            cats = pick_subset(rng, topic.categories, int(rng.integers(chart.fewest_categories,
                                                                       len(topic.categories) + 1)))
            index = [c[li] for c in cats]
        cols = [s[li] for s in pick_subset(rng, topic.series, _series_count(rng, chart, len(topic.series)))]
        if chart.change_on_previous:  # each period's change on the one before, from one more period of levels
            levels = [_series_values(rng, len(index) + 1, topic.base, 6, topic.growth) for _ in cols]
            values = [_round([(b / a - 1) * 100 for a, b in zip(level, level[1:])], 1) for level in levels]
            metric, unit, decimals = charted_measure(chart, topic, lang, fmt), "%", 1
            title = metric
        elif axis == "bins":
            values = _distribution(rng, len(index), len(cols), topic.base, decimals)
            if chart.horizontal:  # bins down the side: the highest on top, as a population pyramid stands
                index, values = index[::-1], [v[::-1] for v in values]
        elif topic.signed:
            values = [_signed_values(rng, len(index), topic.base, decimals) for _ in cols]
        elif chart.stacks:  # parts of one total: each a visible layer, within a few times the largest
            top = math.exp(rng.uniform(*np.log(topic.base))) if topic.base[0] > 0 else topic.base[1]
            values = [_series_values(rng, len(index), [top * STACK_SPREAD, top], decimals, topic.growth, season)
                      for _ in cols]
        else:
            values = [_series_values(rng, len(index), topic.base, decimals, topic.growth, season) for _ in cols]
        if chart.secondary_axis:
            sec = topic.secondary
            cols.append(sec.metric[li])
            values.append(_series_values(rng, len(index), sec.base, sec.decimals, (-0.08, 0.08)))
            extra = {"secondary_series": [cols[-1]], "column_units": {cols[-1]: sec.unit[li]},
                     "column_decimals": {cols[-1]: sec.decimals}}
        data = DataTable(index=index, columns=cols, data=[list(r) for r in zip(*values)])
        if chart.header_groups and rng.random() < 0.6:
            extra["header_groups"] = [HeaderGroup(label=metric, span=len(cols))]
    x_title = "区分" if axis == "category" and lang == "ja" else ""
    # counts in bins are titled by what is counted (its one column), or — two groups in a legend — by the unit alone
    y_title = with_unit_title(metric, unit, lang) if axis != "bins" else \
        with_unit_title(data.columns[0], unit, lang) if len(data.columns) == 1 else with_unit_title("", unit, lang)
    spec = ChartSpec(chart_type=chart.chart_type, title=title, x_title=x_title, y_title=y_title, unit=unit,
                     decimals=decimals, data=data, timeline=axis == "period", **extra)
    return spec, fmt


CHANGE_ON = {PeriodFormat.YEAR_MONTH: ("前月比", "month"), PeriodFormat.QUARTER: ("前期比", "quarter")}


def charted_measure(chart: ChartFamily, topic: SeedTopic, lang: str, fmt: PeriodFormat) -> str:
    """What the chart's values measure, as titles and questions name it: the topic's metric, or its change on the
    previous period (year, month or quarter, as `fmt` writes the periods) for a family that charts changes."""
    metric = topic.metric[0 if lang == "ja" else 1]
    if chart.change_on_previous:
        ja, en = CHANGE_ON.get(fmt, ("前年比", "year"))
        return f"{metric}の{ja}" if lang == "ja" else f"{metric}, change on previous {en}"
    return metric


def seed_ranges(topic: SeedTopic, spec: ChartSpec) -> dict[str, tuple[float, float]]:
    """The usual range of each column of a spec drawn for `topic` (draft_spec's layout): shares 0–100, a scatter's
    x and y their measures', counts in bins from zero, a right-axis series its own, the rest the topic's."""
    columns = spec.data.columns
    if topic.axis == "share":
        return dict.fromkeys(columns, (0.1, 100.0))
    if topic.axis == "pair":
        return {columns[0]: tuple(topic.x.base), columns[1]: tuple(topic.y.base)} | (
            {columns[2]: tuple(topic.size.base)} if len(columns) > 2 and topic.size else {})
    if topic.axis == "bins":  # the base is the peak bin's range; a distribution's tails run down towards zero
        return dict.fromkeys(columns, (0.0, topic.base[1]))
    if topic.axis == "bridge":  # levels in the topic's range, changes a fifth of it either way
        return dict.fromkeys(columns, (-0.2 * topic.base[1], topic.base[1]))
    if family(spec.chart_type).change_on_previous:
        return dict.fromkeys(columns, (-30.0, 30.0))
    ranges = dict.fromkeys(columns, tuple(topic.base))
    for column in spec.secondary_series:
        ranges[column] = tuple(topic.secondary.base)
    return ranges


def template_prompt_version() -> str:
    return f'{prompts.load("template_text")["version"]}+{prompts.seeds().version}'


def draft_sample(config: RunConfig, index: int) -> Sample:
    """Everything but the visual questions, which need the rendered element boxes (pipeline.qa.add_visual_qa)."""
    rng = np.random.default_rng([config.seed, index])
    lang = config.lang if config.lang != "mix" else ("ja" if rng.random() < 0.5 else "en")
    all_families = list(families().values())
    chart = all_families[int(rng.integers(len(all_families)))]
    choice = _choose(rng, chart)
    fmt = sample_period_format(rng, lang)
    spec, fmt = draft_spec(rng, chart, choice, lang, fmt)
    li = 0 if lang == "ja" else 1
    metric = charted_measure(chart, choice.topic, lang, fmt)
    bare_units = all(u and u[0] not in SCALE_WORDS for u in spec.series_unit.values())
    style = sample_style(rng, lang, chart.chart_type, chart.n_colors(spec), fmt, bare_units)
    renderer = choose_renderer(chart, config.renderer, rng)
    qa = program_qa(spec, metric, style, lang, rng, wording(config.seed, index))
    topic = Topic(text=text("topic", choice.topic.axis, lang).format(org=choice.org[li], metric=metric), metric=metric)
    # the overview alone until the chart is drawn: pipeline.describe states its facts as the drawing lets them be read
    said = overview(spec, topic.text, lang, np.random.default_rng([config.seed, index, DESCRIBE_STREAM]))
    return Sample(
        id=sample_id(config.seed, index),
        lang=lang,
        renderer=renderer,
        persona=Persona(domain=choice.domain.id, role=seed_role(choice, lang)),
        topic=topic,
        description=Description(text=joined(said, lang)),
        spec=spec,
        style=style,
        qa=qa,
        provenance=Provenance(generator="template", prompt_version=template_prompt_version(), run_seed=config.seed,
                              sample_index=index, package_version=__version__),
    )


def sample_id(seed: int, index: int) -> str:
    return f"cs{seed}-{index:09d}"


def sample_index(ident: str) -> int:
    """The planned index a sample id names (sample_id's inverse)."""
    return int(ident.rsplit("-", 1)[1])
