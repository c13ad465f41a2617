"""The two tables everything else reads: chart families (renderers/charts/) and QA ops (pipeline.qa.OPS)."""

import re

import numpy as np
import pytest

import prompts
from pipeline.qa import OPS, evaluate, text, write_answer
from pipeline.style import sample_style
from pipeline.verify import check_answer
from renderers import render
from renderers.charts import families, family
from schemas import QA, CellRef, ChartSpec, ChartType, Element, Op, PeriodFormat, Program, QAType, RunConfig

SPEC = ChartSpec(chart_type="grouped_bar", title="預金", unit="億円", decimals=1,
                 data={"index": ["2020年", "2021年", "2022年"], "columns": ["法人", "個人"],
                       "data": [[100.5, 300.0], [150.2, 320.4], [170.9, 310.1]]})
BOXES = [Element(kind="bar", bbox=(10 + 50 * i + 20 * j, 100, 25 + 50 * i + 20 * j, 200), color=["#2ca02c", "#1f77b4"][j],
                 row=r, col=c) for i, r in enumerate(SPEC.data.index) for j, c in enumerate(SPEC.data.columns)] + [
    Element(kind="text", text="（単位：億円）", bbox=(200, 5, 260, 15)),
    Element(kind="text", text="出典：中央統計局「年次経済調査」\n注：速報値を含む。", bbox=(5, 210, 200, 230))]
PROGRAMS = {
    Op.VALUE: Program(op=Op.VALUE, row="2021年", col="個人"),
    Op.DIFF: Program(op=Op.DIFF, col="法人", start="2020年", end="2022年"),
    Op.SUM: Program(op=Op.SUM, col="法人", rows=["2020年", "2022年"]),
    Op.MEAN: Program(op=Op.MEAN, col="個人"),
    Op.RATIO: Program(op=Op.RATIO, row="2022年", col="法人", other=CellRef(row="2020年", col="法人")),
    Op.GROWTH: Program(op=Op.GROWTH, col="法人", start="2020年", end="2022年"),
    Op.MAX: Program(op=Op.MAX, col="個人"),
    Op.MIN: Program(op=Op.MIN, col="法人"),
    Op.ARGMAX: Program(op=Op.ARGMAX, col="個人"),
    Op.ARGMIN: Program(op=Op.ARGMIN, col="法人"),
    Op.RANK: Program(op=Op.RANK, row="2022年", col="個人"),
    Op.PICK: Program(op=Op.PICK, color="#1f77b4", order="rightmost"),
    Op.UNIT: Program(op=Op.UNIT),
    Op.SOURCE: Program(op=Op.SOURCE),
    Op.COMPARE: Program(op=Op.COMPARE, row="2021年", col="法人", other=CellRef(row="2021年", col="個人")),
    Op.COUNT_ABOVE: Program(op=Op.COUNT_ABOVE, col="法人", threshold=120),
    Op.FIRST_ABOVE: Program(op=Op.FIRST_ABOVE, col="法人", threshold=120),
    Op.LONGEST_RISE: Program(op=Op.LONGEST_RISE, col="個人"),
    Op.SERIES_COUNT: Program(op=Op.SERIES_COUNT),
    Op.ARGMAX_TOTAL: Program(op=Op.ARGMAX_TOTAL),
}


def test_every_chart_type_has_one_family_in_chart_type_order():
    assert list(families()) == list(ChartType)
    assert all(f.chart_type is t for t, f in families().items())


def test_every_family_can_be_drawn_from_some_seed_topic():
    topics = [t for d in prompts.seeds().domains for t in d.topics]
    for chart in families().values():
        assert any(chart.fits(t) for t in topics), chart.chart_type


def test_a_renderer_a_family_does_not_name_refuses_it_by_name():
    table = SPEC.model_copy(update={"chart_type": ChartType.TABLE})
    style = sample_style(np.random.default_rng(0), "ja", ChartType.TABLE, 2, PeriodFormat.YEAR)
    with pytest.raises(ValueError, match=r"chart_type='table' cannot be drawn by renderer='plotly'; it is drawn by table, great_tables"):
        render(table, style, "plotly", "ja")
    with pytest.raises(ValueError, match="unknown renderer 'svg'"):
        render(SPEC, style, "svg", "ja")


def test_family_rules_are_what_chart_spec_enforces():
    with pytest.raises(ValueError, match="stacked_bar values must not be negative"):
        family(ChartType.STACKED_BAR).check(SPEC.model_copy(update={"data": SPEC.data.model_copy(
            update={"data": [[-1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]})}))
    family(ChartType.GROUPED_BAR).check(SPEC)  # the same table is fine side by side


def test_only_quantities_that_add_up_are_stacked():
    def table(unit, rows):
        return SPEC.model_copy(update={"unit": unit, "data": SPEC.data.model_copy(update={"data": rows})})

    rates = table("%", [[4.0, 6.5], [3.9, 6.1], [3.5, 5.8]])
    stacked = family(ChartType.STACKED_BAR)
    assert "do not add up" in stacked.meaning(rates)
    stacked.check(rates)  # still drawable: rows made before the rule load
    assert stacked.meaning(table("%", [[40.0, 60.0], [45.5, 54.5], [50.0, 50.0]])) is None  # 100 % shares
    assert family(ChartType.GROUPED_BAR).meaning(rates) is None  # rates side by side are fine
    rate_topics = [t for d in prompts.seeds().domains for t in d.topics if t.unit[0] in ("%", "倍", "℃")]
    assert rate_topics and not any(stacked.fits(t) for t in rate_topics)
    # averages, prices and overlapping groups in yen or days are declared not additive: never stacked either
    averages = [t for d in prompts.seeds().domains for t in d.topics if not t.additive]
    assert {"客単価", "現金給与総額", "口座数"} <= {t.metric[0] for t in averages}
    assert not any(f.fits(t) for t in averages for f in families().values() if f.stacks and not f.shares_per_category)
    assert any(family(ChartType.GROUPED_BAR).fits(t) for t in averages)  # side by side they are fine
    short = ChartSpec(chart_type="pie", title="t", unit="%", data={"index": ["a", "b"], "columns": ["構成比"],
                                                                  "data": [[50], [40]]})
    assert "sum to 90, not 100" in family(ChartType.PIE).meaning(short)


@pytest.mark.parametrize("op", list(Op))
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_op_is_written_the_way_the_verifier_reads_it(op, lang):
    """One table: an answer computed by `evaluate` and written by `write_answer` passes `check_answer` — and the
    same answer one step of its own precision off does not."""
    style = sample_style(np.random.default_rng(1), lang, ChartType.GROUPED_BAR, 2, PeriodFormat.YEAR)
    program = PROGRAMS[op]
    truth = evaluate(program, SPEC, BOXES)
    about = program.col or "個人"
    answer, unit = write_answer(op, truth, SPEC, about, style, lang)
    qa = QA(question="q", answer=answer, qa_type=QAType.COMPOSITIONAL, answer_type=OPS[op].answer_type, unit=unit,
            program=program)
    assert check_answer(qa, SPEC, BOXES, lang) is None, (answer, unit)
    if OPS[op].written == "yes_no":
        wrong = text("yes_no", "no" if truth == "yes" else "yes", lang)
    elif OPS[op].written == "label":
        wrong = next(label for label in SPEC.data.index if label != truth)
    else:
        decimals = OPS[op].decimals if OPS[op].decimals is not None else SPEC.decimals_of(about) + OPS[op].extra_decimals
        wrong = write_answer(op, truth + 10 ** -decimals if OPS[op].written == "number" else truth + 1, SPEC, about,
                             style, lang)[0]
    assert check_answer(qa.model_copy(update={"answer": wrong}), SPEC, BOXES, lang).reason == "answer_mismatch"


@pytest.mark.parametrize("lang, points", [("ja", "+3.5ポイント"), ("en", "+3.5 points")])
def test_a_difference_of_percentages_is_answered_in_points(lang, points):
    """30.0 % → 33.5 % is +3.5 points (ポイント), not +3.5 %; a sum of shares stays in %, and the verifier agrees."""
    rates = ChartSpec(chart_type="line", title="就業率", unit="%", decimals=1,
                      data={"index": ["2020年", "2021年"], "columns": ["就業率"], "data": [[30.0], [33.5]]})
    style = sample_style(np.random.default_rng(1), lang, ChartType.LINE, 1, PeriodFormat.YEAR).model_copy(
        update={"full_width_digits": False})
    diff = Program(op=Op.DIFF, col="就業率", start="2020年", end="2021年")
    answer, unit = write_answer(Op.DIFF, evaluate(diff, rates, []), rates, "就業率", style, lang)
    assert answer == points
    qa = QA(question="q", answer=answer, qa_type=QAType.COMPOSITIONAL, answer_type=OPS[Op.DIFF].answer_type,
            unit=unit, program=diff)
    assert check_answer(qa, rates, [], lang) is None
    both = Program(op=Op.SUM, col="就業率", rows=["2020年", "2021年"])
    assert write_answer(Op.SUM, evaluate(both, rates, []), rates, "就業率", style, lang)[0] == "63.5%"


def test_questions_about_long_labels_are_left_out_not_raised():
    """LLM-written series names and metrics can be long; a question they would stretch past the QA limit is not
    asked (a real llama.cpp run crashed the whole generate command on one)."""
    from pipeline.qa import MAX_QUESTION, program_qa
    from schemas.chart import MAX_LABEL

    long = "Number of data analysts hired per quarter at the regional branch offices"[:MAX_LABEL]
    spec = ChartSpec(chart_type="grouped_bar", title="t", unit="people", data={
        "index": [f"{long} {i}"[-MAX_LABEL:] for i in range(4)], "columns": [long, long[::-1]],
        "data": [[10.0, 12.0], [20.0, 18.0], [30.0, 31.0], [45.0, 40.0]]})
    for seed in range(20):
        style = sample_style(np.random.default_rng(seed), "en", ChartType.GROUPED_BAR, 2, PeriodFormat.YEAR)
        asked = program_qa(spec, long * 2, style, "en", np.random.default_rng(seed), np.random.default_rng(seed), k=6)
        assert all(len(q.question) <= MAX_QUESTION for q in asked)


def test_template_data_has_real_semantics_in_every_family():
    """Drafted (not rendered) template samples: every family is drawn; 帯グラフ rows each fill 100 %; signed changes
    go below zero; yearly labels are never written 2013/1; pies are not always sorted largest first; compositions
    drift and series move more than a few %; binned counts keep their bins' order; long lines run 20–30 periods."""
    import re

    from pipeline.template import draft_sample
    from schemas import RunConfig

    config = RunConfig(n=600, seed=4, lang="mix")
    specs = [draft_sample(config, i).spec for i in range(600)]
    assert {s.chart_type for s in specs} == set(ChartType)
    bands = [s for s in specs if s.chart_type is ChartType.BAND]
    assert bands and all(abs(sum(row) - 100) < 0.5 for s in bands for row in s.data.data)
    changes = [s for s in specs if s.chart_type is ChartType.CHANGE]
    assert changes and all(s.unit == "%" for s in changes)
    assert sum(any(row[0] < 0 for row in s.data.data) for s in changes) >= len(changes) / 3
    for s in specs:
        months = [label for label in s.data.index if re.fullmatch(r"\d{4}/\d{1,2}", label)]
        steps = [int(y) * 12 + int(m) for y, m in (label.split("/") for label in months)]
        assert all(b - a == 1 for a, b in zip(steps, steps[1:])), s.data.index  # consecutive months, not years
    pies = [[row[0] for row in s.data.data] for s in specs if family(s.chart_type).round]
    assert sum(values != sorted(values, reverse=True) for values in pies) >= len(pies) / 3
    # a composition drifts from year to year (drawn afresh each year, a share moved ~14 points on average)
    moves = [abs(b - a) for s in bands for prev, row in zip(s.data.data, s.data.data[1:]) for a, b in zip(prev, row)]
    assert sum(moves) / len(moves) < 6
    # series move like real ones: not all within a few % of their trend (noise, shocks, plateaus)
    lines = [s.data.column(c) for s in specs if s.chart_type is ChartType.LINE for c in s.data.columns]
    wiggle = [max(abs(b / a - 1) for a, b in zip(v, v[1:])) for v in lines if min(v) > 0]
    assert sum(w > 0.1 for w in wiggle) >= len(wiggle) / 3
    # bins: every bin of the seed in its order (a pyramid: the highest on top), one hump of counts
    bins = {tuple(c[i] for c in t.categories) for d in prompts.seeds().domains for t in d.topics if t.axis == "bins"
            for i in (0, 1)}
    binned = [s for s in specs if s.chart_type in (ChartType.HISTOGRAM, ChartType.PYRAMID)]
    assert {s.chart_type for s in binned} == {ChartType.HISTOGRAM, ChartType.PYRAMID}
    for s in binned:
        order = s.data.index[::-1] if s.chart_type is ChartType.PYRAMID else s.data.index
        assert tuple(order) in bins, s.data.index
        assert len(s.data.columns) == (2 if s.chart_type is ChartType.PYRAMID else 1)
        assert min(v for row in s.data.data for v in row) > 0
    long_lines = [s for s in specs if s.chart_type is ChartType.LONG_LINE]
    assert long_lines and all(20 <= len(s.data.index) <= 30 for s in long_lines)


@pytest.mark.parametrize("renderer", ["matplotlib", "plotly", "vegalite"])
def test_furniture_answers_are_read_from_the_drawn_unit_line_and_source(renderer):
    """The unit and source questions are answered from the texts each renderer drew (matplotlib sets source and note
    as one two-line text); a chart that does not draw them cannot be asked about them."""
    from pipeline.qa import Unverifiable

    style = sample_style(np.random.default_rng(2), "ja", ChartType.GROUPED_BAR, 2, PeriodFormat.YEAR).model_copy(
        update={"unit_line": True, "source": "資料：地域経済研究所「地域動向レポート」", "note": "注：速報値を含む。"})
    drawn = render(SPEC, style, renderer, "ja").elements
    assert evaluate(PROGRAMS[Op.UNIT], SPEC, drawn) == "億円"
    assert evaluate(PROGRAMS[Op.SOURCE], SPEC, drawn) == "地域経済研究所「地域動向レポート」"
    bare = render(SPEC, style.model_copy(update={"unit_line": False, "source": None}), renderer, "ja").elements
    for op in (Op.UNIT, Op.SOURCE):
        with pytest.raises(Unverifiable, match="not_drawn"):
            evaluate(PROGRAMS[op], SPEC, bare)


def test_a_waterfall_adds_up_and_is_asked_about_its_factors_not_sums_of_levels_and_changes():
    """The template's waterfall ends at its first level plus every change; its questions range over the factors
    (which raised or lowered it most — never a level, though a level is the largest bar) or the change from the
    first level to the last; a table whose last level does not add up is refused by name."""
    from pipeline.template import draft_sample
    from schemas import RunConfig

    config = RunConfig(n=800, seed=3, lang="mix")
    samples = [s for s in (draft_sample(config, i) for i in range(800)) if s.spec.chart_type is ChartType.WATERFALL]
    assert len(samples) >= 10
    ops = set()
    for sample in samples:
        values = [row[0] for row in sample.spec.data.data]
        assert abs(values[-1] - values[0] - sum(values[1:-1])) < 1e-6
        factors = sample.spec.data.index[1:-1]
        for qa in sample.qa:
            ops.add(qa.program.op)
            assert qa.program.op not in (Op.MEAN, Op.RANK, Op.RATIO, Op.MAX, Op.MIN)
            if qa.program.op in (Op.ARGMAX, Op.ARGMIN, Op.SUM):
                assert set(qa.program.rows) <= set(factors) and qa.answer not in (sample.spec.data.index[0],
                                                                                   sample.spec.data.index[-1])
            if not OPS[qa.program.op].printed:  # furniture answers are read from the drawing, not the table
                assert check_answer(qa, sample.spec, [], sample.lang) is None, qa
    assert {Op.DIFF, Op.ARGMAX, Op.ARGMIN, Op.SUM} <= ops
    spec = samples[0].spec
    rows = spec.data.index
    among = Program(op=Op.ARGMAX, col=spec.data.columns[0], rows=rows[1:-1])
    assert evaluate(among, spec, []) in rows[1:-1]
    assert evaluate(among.model_copy(update={"rows": []}), spec, []) in (rows[0], rows[-1])  # a level is taller
    broken = spec.data.model_copy(update={"data": spec.data.data[:-1] + [[spec.data.data[-1][0] + 50]]})
    with pytest.raises(ValueError, match="must be the first"):
        spec.model_copy(update={"data": broken}).model_validate(spec.model_copy(update={"data": broken}).model_dump())


def test_judgement_ops_count_compare_and_find_runs_on_the_table():
    """Yes/no comparisons (across rows or series), counts and firsts above a threshold and the longest run of rises,
    computed from the table; a threshold drawn between two neighbouring values is a round number strictly between."""
    from pipeline.qa import Unverifiable, round_between

    assert evaluate(PROGRAMS[Op.COMPARE], SPEC, []) == "no"  # 法人 150.2 < 個人 320.4 in 2021
    assert evaluate(PROGRAMS[Op.COMPARE].model_copy(update={"row": "2022年", "other": CellRef(row="2020年", col="法人")}),
                    SPEC, []) == "yes"
    assert evaluate(PROGRAMS[Op.COUNT_ABOVE], SPEC, []) == 2  # 150.2, 170.9 > 120
    assert evaluate(PROGRAMS[Op.FIRST_ABOVE], SPEC, []) == "2021年"
    assert evaluate(PROGRAMS[Op.LONGEST_RISE], SPEC, []) == 1  # 300.0 → 320.4, then down
    assert evaluate(PROGRAMS[Op.LONGEST_RISE].model_copy(update={"col": "法人"}), SPEC, []) == 2
    assert evaluate(PROGRAMS[Op.SERIES_COUNT], SPEC, []) == 2
    with pytest.raises(Unverifiable, match="undefined"):
        evaluate(PROGRAMS[Op.FIRST_ABOVE].model_copy(update={"threshold": 500}), SPEC, [])
    rng = np.random.default_rng(0)
    for values in ([100.5, 150.2, 170.9], [0.12, 0.31, 0.3], [-40, 12, 90], [1200, 1201]):
        for _ in range(20):
            t = round_between(rng, values)
            ordered = sorted(values)
            assert any(a < t < b for a, b in zip(ordered, ordered[1:])), (values, t)
            assert t == round(t, 9)  # no float noise (0.30000000000000004)
    assert all(round_between(rng, [100.5, 150.2, 170.9]) % 10 == 0 for _ in range(10))  # round: 150, 160, not 150.3
    assert round_between(rng, [5, 5]) is None


def test_every_seed_topic_drafts_a_valid_spec_for_every_family_it_fits_in_both_languages():
    """A seed edit cannot break generation deep in a run: every (family, topic) pair the template may draw makes a
    spec that validates (titles within their limits, enough series for the family) in Japanese and English — a
    one-series topic once crashed the table family, and a long English measure once overflowed a y title."""
    from pipeline.template import draft_spec
    from schemas.seeds import TemplateChoice

    drafted = 0
    for domain in prompts.seeds().domains:
        for topic in domain.topics:
            for chart in families().values():
                if not chart.fits(topic):
                    continue
                choice = TemplateChoice(domain=domain, topic=topic, org=domain.orgs[0], function=domain.functions[0])
                for seed, lang in ((1, "ja"), (2, "en")):
                    spec, _ = draft_spec(np.random.default_rng(seed), chart, choice, lang, PeriodFormat.YEAR)
                    chart.check(spec)
                    drafted += 1
    assert drafted > 1000


def _first_year(label: str) -> int:
    """The calendar year a period label is in (years, 年度, 令和/平成, FY, months, quarters in every written form)."""
    if m := re.match(r"(令和|平成)(元|\d+)年度", label):
        return (2018 if m.group(1) == "令和" else 1988) + (1 if m.group(2) == "元" else int(m.group(2)))
    if m := re.search(r"\d{4}", label):
        return int(m.group())
    return 2000 + int(re.fullmatch(r"[1-4]Q(\d{2})", label).group(1))


def test_a_measure_that_began_lately_is_never_drawn_before_it_began():
    """5G subscriptions from 2020, NISA accounts from 2014 (seeds' `since`): every period of every family that may
    draw such a topic, in any period format or season, is that year or later; a family needing more years than
    the measure has (a 20-period line from 2020) does not draw it."""
    from pipeline.template import draft_spec
    from schemas.seeds import LAST_YEAR, TemplateChoice

    late = [(d, t) for d in prompts.seeds().domains for t in d.topics if t.since]
    assert {t.since for _, t in late} >= {2014, 2020}
    subscriptions, long_line = next(t for _, t in late if t.since == 2020), family(ChartType.LONG_LINE)
    assert long_line.periods[0] > LAST_YEAR - 2020 + 1
    assert long_line.fits(subscriptions.model_copy(update={"since": None})) and not long_line.fits(subscriptions)
    checked = 0
    for domain, topic in late:
        for chart in families().values():
            if not chart.fits(topic):
                continue
            choice = TemplateChoice(domain=domain, topic=topic, org=domain.orgs[0], function=domain.functions[0])
            for seed in range(12):
                for fmt in PeriodFormat:
                    lang = "ja" if seed % 2 else "en"
                    spec, _ = draft_spec(np.random.default_rng(seed), chart, choice, lang, fmt)
                    if spec.timeline:
                        assert min(_first_year(label) for label in spec.data.index) >= topic.since, spec.data.index
                        checked += 1
    assert checked > 300


def _quarter(label: str) -> int:
    """year × 4 + quarter − 1, read back from any way the template writes a quarter."""
    for pattern, year, quarter in ((r"(\d{4})年([1-4])Q", 1, 2), (r"(\d{4})年第([1-4])四半期", 1, 2),
                                   (r"Q([1-4]) (\d{4})", 2, 1), (r"(\d{4}) Q([1-4])", 1, 2), (r"([1-4])Q(\d{2})$", 2, 1)):
        if m := re.fullmatch(pattern, label):
            y = int(m.group(year))
            return (y + 2000 if y < 100 else y) * 4 + int(m.group(quarter)) - 1
    m = re.fullmatch(r"(\d{4})年(\d+)-(\d+)月", label)
    assert m and int(m.group(3)) == int(m.group(2)) + 2, label
    return int(m.group(1)) * 4 + (int(m.group(2)) - 1) // 3


def test_seasonal_topics_come_monthly_or_quarterly_and_a_change_says_on_which_period():
    """Quarters are written as reports write them (2023年1Q, 2023年第1四半期, 2023年1-3月, Q1 2023, 1Q23), in order
    from a first quarter; a change on the previous period names that period (前月比, 前期比, 前年比)."""
    from pipeline.template import draft_sample

    seen: dict[str, set] = {"quarter": set(), "change": set()}
    for lang in ("ja", "en"):
        config = RunConfig(n=600, seed=2, lang=lang)
        for index in range(600):
            sample = draft_sample(config, index)
            fmt, labels = sample.style.period_format, sample.spec.data.index
            if fmt is PeriodFormat.QUARTER:
                assert sample.spec.timeline
                order = [_quarter(label) for label in labels]
                assert order == list(range(order[0], order[0] + len(labels))) and order[0] % 4 == 0, labels
                seen["quarter"].add(re.sub(r"\d", "9", labels[0]))
            if family(sample.spec.chart_type).change_on_previous:
                word = {PeriodFormat.YEAR_MONTH: ("前月比", "month"), PeriodFormat.QUARTER: ("前期比", "quarter")}.get(
                    fmt, ("前年比", "year"))[0 if lang == "ja" else 1]
                assert word in sample.topic.metric
                seen["change"].add(word)
    assert len(seen["quarter"]) >= 5 and len(seen["change"]) >= 4, seen


def test_questions_about_a_table_call_it_a_table_and_about_a_chart_a_chart():
    """"このグラフの出典はどこか" was asked of tables once they printed their source (issue 15 §2)."""
    from pipeline.template import draft_sample
    from schemas import RunConfig

    seen = {"table": set(), "chart": set()}
    for index in range(400):
        sample = draft_sample(RunConfig(n=1000, seed=5, lang="mix"), index)
        kind = "table" if sample.spec.chart_type is ChartType.TABLE else "chart"
        seen[kind] |= {q.question for q in sample.qa}
    assert not any("グラフ" in q or "chart" in q for q in seen["table"])
    assert any(q.startswith("表") or "この表" in q or "table" in q for q in seen["table"])
    assert not any("表の" in q and "図表" not in q or re.search(r"\btable\b", q) for q in seen["chart"])


def test_english_mean_questions_say_place_or_places_as_the_number_needs():
    from pipeline.template import draft_sample
    from schemas import RunConfig

    asked = [q.question for i in range(300) for q in draft_sample(RunConfig(n=1000, seed=3, lang="en"), i).qa
             if q.program.op is Op.MEAN]
    assert asked and not any("place(s)" in q for q in asked)
    assert not any(re.search(r"\b1 decimal places\b|\b[2-9] decimal place\b(?!s)", q) for q in asked)
    assert any("1 decimal place" in q for q in asked) and any("2 decimal places" in q for q in asked)


def test_english_names_a_box_statistic_as_of_the_measure():
    """"How many entries have a median mock exam scores by class above 60?" read badly: the statistic is now "the
    median of mock exam scores by class" (issue 15 §4)."""
    from pipeline.template import draft_sample

    asked = [q.question for i in range(400) for sample in [draft_sample(RunConfig(n=1000, seed=3, lang="en"), i)]
             if sample.spec.chart_type is ChartType.BOX for q in sample.qa]
    statistics = "median|minimum|maximum|lower quartile|upper quartile"
    assert any(re.search(rf"\b({statistics}) of \w", q) for q in asked), asked
    assert not any(re.search(rf"\ba ({statistics}) (?!of)\w", q) for q in asked), asked
