"""Template descriptions state only facts a program re-computes, as precisely as the image shows them; questions and
descriptions are worded from many skeletons; every row carries its chart-to-table target."""

import json
import re
import string
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

import prompts
from common.numbers import MINUS_SIGNS
from pipeline.describe import chart_table, describe
from pipeline.qa import QuestionWriter, degree, evaluate, program_qa, text
from pipeline.sample import draw
from pipeline.style import sample_style
from pipeline.template import draft_sample
from pipeline.verify import verify_sample
from schemas import ChartSpec, ChartType, Op, PeriodFormat, Program, Reject, RunConfig


def _rows(dataset) -> list[dict]:
    rows = [r for f in sorted((dataset / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert rows
    return rows


def _sentences(description: str, lang: str) -> int:
    return description.count("。") if lang == "ja" else len(re.findall(r"[.?!](?:\s|$)", description))


def test_every_stated_fact_is_verified_and_written_into_the_description(tiny_dataset):
    rows = _rows(tiny_dataset)
    lengths = Counter(_sentences(r["description"], r["lang"]) for r in rows)
    assert sum(n for k, n in lengths.items() if 3 <= k <= 5) >= 0.8 * len(rows), lengths
    stated = 0
    for row in rows:
        for fact in row["description_facts"]:
            stated += 1
            assert fact["verified"], fact
            answer = fact["answer"]
            program = Program.model_validate_json(fact["program"])
            if program.op is Op.DIFF:  # stated as a magnitude with a direction word
                answer = answer.lstrip("+" + MINUS_SIGNS)
            if program.op is Op.COMPARE:  # stated as the larger series over the smaller one
                assert answer == text("yes_no", "yes", row["lang"])
                continue
            assert answer in row["description"], (answer, row["description"])
    assert stated >= 2 * len(rows)


def test_a_fact_read_off_the_axis_is_said_approximately_and_its_direction_matches_its_sign(tiny_dataset):
    approximate = directions = 0
    for row in _rows(tiny_dataset):
        spec = ChartSpec.model_validate_json(row["spec"])
        for fact in row["description_facts"]:
            program = Program.model_validate_json(fact["program"])
            value = fact["answer"].lstrip("+" + MINUS_SIGNS) if program.op is Op.DIFF else fact["answer"]
            about = text("description", "about", row["lang"])[0].format(value=value)
            if fact["question"].endswith(text("approximately", row["lang"])):
                approximate += 1
                assert about in row["description"], (about, row["description"])
            if program.op is Op.DIFF:
                truth = evaluate(program, spec, [])
                said, unsaid = ("rise", "fall") if truth > 0 else ("fall", "rise")
                if row["lang"] == "ja":  # the sentence stating the change says which way it went
                    directions += 1
                    sentence = next(s for s in row["description"].split("。") if value in s)
                    words = [text("degree", d, "ja") for d in ("many", "high")]
                    assert any(w[said] in sentence for w in words) and not any(w[unsaid] in sentence for w in words)
    assert approximate and directions


def test_a_wrong_description_fact_rejects_the_sample():
    config = RunConfig(n=10, seed=5, lang="ja")
    sample = draft_sample(config, 0)
    drawn, rendered = draw(sample)
    described = describe(drawn, rendered)
    assert described.description_facts
    fact = described.description_facts[0]
    wrong = fact.model_copy(update={"answer": "いいえ" if fact.answer == "はい" else "999999"})
    broken = described.model_copy(update={"description_facts": [wrong, *described.description_facts[1:]]})
    rejected = verify_sample(broken, rendered)
    assert isinstance(rejected, Reject) and "description fact" in rejected.detail
    assert not isinstance(verify_sample(described, rendered), Reject)


def test_chart_table_target_lists_every_value_exact_when_printed_rounded_to_the_reading_when_not():
    config = RunConfig(n=200, seed=5, lang="en")
    kinds = set()
    for index in range(200):
        sample = draft_sample(config, index)
        if sample.spec.chart_type not in (ChartType.BAR, ChartType.LINE) or len(sample.spec.data.columns) != 1:
            continue
        drawn, rendered = draw(sample)
        lines = chart_table(drawn, rendered).splitlines()
        assert lines[0] == drawn.spec.title
        body = [line.split(" | ") for line in lines[3:3 + len(drawn.spec.data.index)]]
        assert [cells[0].lstrip("| ") for cells in body] == drawn.spec.data.index
        read = [float(cells[1].rstrip(" |").replace(",", "")) for cells in body]
        exact = [v for (v,) in drawn.spec.data.data]
        noted = lines[-1] == text("table", "approximate", "en")
        if not noted:
            assert read == pytest.approx(exact, abs=0.5 * 10 ** -drawn.spec.decimals)
        else:
            error = max(abs(a - b) for a, b in zip(read, exact))
            assert error <= max(rendered.tick_steps.values())  # rounded to (a fraction of) a tick step
        kinds.add(noted)
        if kinds == {True, False}:
            return
    pytest.fail(f"saw only approximate={kinds}")


def test_question_and_description_skeletons_are_many_and_all_fill():
    phrasings = prompts.load("template_text")
    placeholders = {name for skeletons in (phrasings["qa"], phrasings["description"]) for key, by_lang in
                    skeletons.items() if key != "note" for variants in by_lang.values() for s in variants
                    for _, name, _, _ in string.Formatter().parse(s) if name}
    fill = dict.fromkeys(placeholders, "x")
    questions = [s for key, v in phrasings["qa"].items() if key != "note" for ss in v.values() for s in ss]
    descriptions = [s for key, v in phrasings["description"].items() if key not in ("note", "about")
                    for ss in v.values() for s in ss]
    assert len(set(questions)) >= 200 and len(set(descriptions)) >= 50
    for skeleton in questions + descriptions:
        assert skeleton.format(**fill)


def test_rewording_changes_no_question_asked_and_spreads_over_skeletons():
    spec = ChartSpec(chart_type="line", title="t", unit="億円", timeline=True, data={
        "index": ["2019年", "2020年", "2021年", "2022年", "2023年"], "columns": ["売上高"],
        "data": [[10.0], [12.0], [11.0], [15.0], [18.0]]})
    style = sample_style(np.random.default_rng(0), "ja", ChartType.LINE, 1, PeriodFormat.YEAR)
    asked = [program_qa(spec, "売上高", style, "ja", np.random.default_rng(3), np.random.default_rng(w))
             for w in range(12)]
    assert len({tuple((q.program.model_dump_json(), q.answer) for q in qs) for qs in asked}) == 1
    assert len({tuple(q.question for q in qs) for qs in asked}) > 6


@pytest.mark.parametrize(("unit", "metric", "most"), [
    ("%", "営業利益率", "高い"), ("円", "客単価", "高い"), ("万円", "職種別の年収", "高い"), ("万人", "来場者数", "多い"),
    ("人", "年収階級別の雇用者数", "多い"), ("分", "診療科別の待ち時間", "長い"), ("", "スコア", "大きい"),
    ("km", "航路の距離", "長い"), ("m²", "売場面積", "大きい")])
def test_japanese_questions_say_high_for_rates_long_for_times_and_many_for_counts(unit, metric, most):
    spec = ChartSpec(chart_type="bar", title="t", unit=unit, data={
        "index": ["A", "B", "C"], "columns": [metric], "data": [[1.0], [3.0], [2.0]]})
    style = sample_style(np.random.default_rng(0), "ja", ChartType.BAR, 1, PeriodFormat.YEAR)
    writer = QuestionWriter(spec, metric, style, "ja", np.random.default_rng(0))
    question = writer.qa(Op.ARGMAX, "compositional", "B", metric, phrase="argmax", col=metric,
                         _subject=metric).question
    assert f"最も{most}" in question or f"一番{most}" in question or "最大" in question or "トップ" in question
    assert text("degree", degree(spec, metric, metric), "ja")["most"] == most


def test_a_row_carries_its_description_facts_and_table_columns(tiny_dataset):
    table = pq.read_table(sorted((tiny_dataset / "data").glob("*.parquet"))[0])
    assert {"description_facts", "table"} <= set(table.column_names)
    row = table.slice(0, 1).to_pylist()[0]
    assert row["table"].splitlines()[1].startswith("| ")
    assert all(json.loads(f["program"])["op"] for f in row["description_facts"])


def test_shares_of_one_whole_are_never_averaged():
    """Percentages adding up to 100 average 100 / n whatever they are: no mean question (a looked-at sample asked
    "the average entrants by admission route over 3 entries" → 33.33%)."""
    shares = ChartSpec(chart_type="bar", title="t", unit="%", decimals=1, data={
        "index": ["A", "B", "C"], "columns": ["構成比"], "data": [[52.3], [35.4], [12.3]]})
    levels = shares.model_copy(update={"data": shares.data.model_copy(update={"data": [[52.3], [35.4], [19.3]]})})
    style = sample_style(np.random.default_rng(0), "ja", ChartType.BAR, 1, PeriodFormat.YEAR)
    asked = {spec.data.data[2][0]: {q.program.op for seed in range(40) for q in program_qa(
        spec, "構成比", style, "ja", np.random.default_rng(seed), np.random.default_rng(seed), k=9)}
        for spec in (shares, levels)}
    assert Op.MEAN not in asked[12.3] and Op.MEAN in asked[19.3]


@pytest.mark.parametrize("timeline", [False, True])
def test_a_count_of_one_is_said_in_the_singular(timeline):
    """"1 entries have …" / "In 1 periods …" was written whenever one value cleared the threshold."""
    from pipeline.describe import _claims, _sentence

    index = ["2020", "2021", "2022", "2023"] if timeline else ["North", "South", "East", "West"]
    spec = ChartSpec(chart_type="bar", title="t", unit="t", timeline=timeline,
                     data={"index": index, "columns": ["output"], "data": [[10.0], [20.0], [30.0], [400.0]]})
    style = sample_style(np.random.default_rng(0), "en", ChartType.BAR, 1, PeriodFormat.YEAR)
    said = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        writer = QuestionWriter(spec, "output", style, "en", rng)
        for claim in _claims(writer, rng):
            if claim.key.startswith("count_above") and claim.facts[0].answer.startswith("1"):
                assert claim.key.endswith("_one")
                said.append(_sentence(claim, claim.key, claim.facts, writer, rng))
    assert said and not any(re.search(r"\b1 (entries|periods)\b", s) for s in said)
    assert all(re.search(r"\b1 (entry|period)\b", s) for s in said)


def test_each_measure_of_a_scatter_is_compared_in_its_own_words():
    """A scatter's metric names both measures (航路の距離と運賃): its fare word made distances 高い/低い ("上海航路の
    距離が最も低い"); each measure is now judged by its own name and unit."""
    spec = ChartSpec(chart_type="scatter", title="t", unit="ドル/TEU", column_units={"距離": "km"}, data={
        "index": ["A", "B", "C"], "columns": ["距離", "運賃"], "data": [[1000.0, 900.0], [5000.0, 1500.0],
                                                                     [9000.0, 2100.0]]})
    assert degree(spec, "距離", "航路の距離と運賃") == "long"
    assert degree(spec, "運賃", "航路の距離と運賃") == "high"
