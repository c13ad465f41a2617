import json

import pytest
from pydantic import ValidationError

from pipeline.llm_chain import TopicDeduper
from pipeline.passage import contradiction
from common.llm_client import extract_json, response_format
from schemas import ChartSpec
from schemas.llm import ValuesDraft


def spec(values: list[float], kind: str = "line") -> ChartSpec:
    return ChartSpec(chart_type=kind, title="売上", unit="億円",
                     data={"index": [str(2019 + i) for i in range(len(values))], "columns": ["売上"],
                           "data": [[v] for v in values]})


def test_contradictions_between_passage_and_table_are_named():
    assert contradiction("売上は増加した。", spec([1, 2, 3])) is None
    assert "rose" in contradiction("売上は増加した。", spec([3, 2, 1]))
    assert "fell" in contradiction("Sales fell sharply.", spec([1, 2, 3]))
    assert contradiction("売上は3年連続で増加した。", spec([1, 2, 3, 4])) is None
    assert "3年連続で増加" in contradiction("売上は3年連続で増加した。", spec([1, 2, 1, 2]))
    assert contradiction("増加した部門と減少した部門がある。", spec([3, 2, 1])) is None  # both said: not checkable


def test_every_number_a_passage_states_must_be_one_its_table_holds():
    """Numbers seen in landed LLM rows before this check: a year outside the table, a total nowhere in it."""
    tons = ChartSpec(chart_type="line", title="ごみ排出量", unit="万トン",
                     data={"index": ["2012年", "2013年", "2014年"], "columns": ["家庭系"], "data": [[3850], [3190], [3750]]})
    assert "'1996'" in contradiction("The waste collected in 1996 was a record.", tons)
    assert "80 million" in contradiction("about 80 million tons were collected", tons)
    assert "50億" in contradiction("2014年の1月時点で50億回の減量に成功した。", tons)
    # years of the span, counts, values in the unit or multiplied out, changes, differences and totals all hold
    assert contradiction("2012年から2014年の3年間で家庭系は3,850万トンから3,750万トンへ減少し、前年比では17.6%の増加もあった。",
                         tons) is None
    assert contradiction("In 2013 it was 31.9 million tons, 660 (10 thousand tons) less than in 2012; "
                         "10,790 in all.", tons) is None
    sales = spec([100, 120, 150]).model_copy(update={"timeline": True})
    assert contradiction("売上は2019年の100億円から2021年には1.5百億円、50%増えた。", sales) is None
    assert "40%" in contradiction("Sales grew 40% over the period.", sales)
    assert contradiction("5G sales rose to 1.5 times the first year's.", sales) is None  # 5G names a thing
    assert "2.5" in contradiction("Sales rose to 2.5 times the first year's.", sales)
    shares = spec([50, 30, 20], "pie")
    assert contradiction("首位が全体の50%を占め、2位と3位の差は10ポイント。", shares) is None
    assert "45%" in contradiction("首位が全体の45%を占める。", shares)


def test_json_is_extracted_from_chatty_or_fenced_replies():
    assert extract_json('Sure! Here it is:\n```json\n{"a": {"b": "}"}}\n```\nAnything else?') == '{"a": {"b": "}"}}'
    assert extract_json('prefix {"a": 1} suffix {"b": 2}') == '{"a": 1}'
    assert extract_json('{"a": [1, 2') == '{"a": [1, 2'  # truncated stays truncated, for the parser to refuse


def test_structured_output_modes_per_server():
    schema = {"type": "object"}
    sent = response_format("json_schema", "data", schema)["json_schema"]
    assert sent["name"] == "data" and sent["strict"] is True
    assert response_format("json_object", "data", schema) == {"type": "json_object", "schema": schema}
    assert response_format("text", "data", schema) is None


def test_near_duplicate_topics_are_refused():
    dedup = TopicDeduper([(0, "法人・個人別の預金等残高の推移")])
    assert not dedup.admit("法人・個人別の預金等残高の推移。", 1)
    assert dedup.admit("地域別の観光客数", 2)
    assert not dedup.admit("地域別の観光客数", 3)


def test_charts_of_one_topic_share_it_and_other_groups_may_not():
    """Fan-out: samples 0–2 draft charts of one topic; sample 3 starts the next topic group."""
    dedup = TopicDeduper([(0, "地域別の観光客数")], group_of=lambda index: index // 3 * 3)
    assert dedup.admit("地域別の観光客数", 1) and dedup.admit("地域別の観光客数", 2)
    assert not dedup.admit("地域別の観光客数", 3)
    assert dedup.admit("法人・個人別の預金等残高の推移", 4)  # group 3's topic: the first admitted
    assert not dedup.admit("地域別の観光客数", 5)  # not its group's topic


def test_values_fill_the_plan_shown_to_the_digits_written_or_a_named_error():
    plan = spec([0, 0])  # the plan's labels 2019, 2020 and its series 売上
    sized = ValuesDraft.sized(("売上",), ("2019", "2020"), (False,), "売上高", "ja")
    draft = sized.model_validate({"title": "売上高の推移", "values": {"売上": {"2019": 1.26, "2020": 2}}})
    filled = draft.filled(plan)
    assert filled.data.data == [[1.26], [2.0]] and filled.decimals == 2 and filled.title == "売上高の推移"
    fine = sized.model_validate({"title": "売上高", "values": {"売上": {"2019": 1.23456, "2020": 2}}})
    with pytest.raises(ValueError, match=r"1\.23456 \(売上, 2019\) have more than 3 digits"):
        fine.filled(plan)


def test_what_a_familys_arithmetic_fixes_is_computed_not_refused():
    """Seen in refused LLM rows: a donut whose % shares summed to 15.78 or 113.8, a 帯グラフ year at 1,634 %, a
    waterfall whose closing level was not the first plus its factors. The program fills what the family determines:
    proportions kept, shares exactly 100; the closing level computed."""
    from renderers.charts import family

    donut, band, waterfall = family("donut"), family("band"), family("waterfall")
    assert donut.settle([[2], [3], [5]], "%") == [[20.0], [30.0], [50.0]]
    shares = donut.settle([[5.1], [4.9], [5.78]], "%")
    assert sum(v for (v,) in shares) == pytest.approx(100) and shares[0][0] > shares[1][0]
    assert [sum(row) for row in band.settle([[600, 1034], [10, 16.3]], "%")] == [pytest.approx(100)] * 2
    assert donut.settle([[2], [3]], "万円") == [[2], [3]]  # amounts are not shares
    assert donut.settle([[-2], [3]], "%") == [[-2], [3]]  # left for `meaning` to refuse
    assert waterfall.settle([[485], [30.5], [-12], [116]], "億円")[-1] == [503.5]
    plan = ChartSpec(chart_type="donut", title="構成比", unit="%", data={
        "index": ["A", "B", "C"], "columns": ["構成比"], "data": [[1], [1], [1]]})
    sized = ValuesDraft.sized(("構成比",), ("A", "B", "C"), (False,), "構成比", "ja")
    filled = sized.model_validate({"title": "構成比", "values": {"構成比": {"A": 1, "B": 1, "C": 1}}}).filled(
        plan, donut.settle)
    assert filled.data.data == [[33.4], [33.3], [33.3]] and filled.decimals == 1


def test_the_data_schema_names_every_series_and_label_and_nothing_else():
    sized = ValuesDraft.sized(("法人", "個人"), ("2021", "2022"), (True, False), "預金", "ja")
    schema = sized.model_json_schema()
    values = schema["$defs"][schema["properties"]["values"]["$ref"].rsplit("/", 1)[1]]
    assert values["required"] == ["法人", "個人"] and values["additionalProperties"] is False
    assert [schema["$defs"][s["$ref"].rsplit("/", 1)[1]]["properties"]["2021"]["type"]
            for s in values["properties"].values()] == ["integer", "number"]  # counted in whole units, or not
    row = {"2021": 1, "2022": 2}
    sized.model_validate({"title": "法人・個人別の預金残高", "values": {"法人": row, "個人": row}})
    with pytest.raises(ValidationError, match="title"):  # a title that never names the measure
        sized.model_validate({"title": "Property A", "values": {"法人": row, "個人": row}})
    for values in ({"法人": row}, {"法人": row, "個人": {"2021": 1}}, {"法人": row, "個人": row | {"2023": 3}},
                   {"法人": {"2021": 1.5, "2022": 2}, "個人": row}):
        with pytest.raises(ValidationError):  # a series or label missing or extra: caught by the shape
            sized.model_validate({"title": "預金", "values": values})


def test_texts_that_drift_from_their_subject_and_values_the_measure_cannot_have_are_named():
    from pipeline.llm_chain import checked_values, restates, unrelated
    from renderers.charts import family

    assert unrelated("法人・個人別の預金残高の推移", "預金等残高", "text", "the measure") is None
    assert unrelated("Deposits by customer type", "deposit balance", "text", "the measure") is None
    assert "does not mention" in unrelated("A man in his mid-40s with a beard", "deposit balance", "text", "x")
    assert restates("Accountant at a megabank", "accountant at a megabank") and restates("売上の推移", "経理担当") is None
    ranges = {"売上": (100.0, 500.0)}
    assert checked_values(family("line"), spec([120, 150, 180]), ranges, "売上は増加した。").data.data[0] == [120]
    with pytest.raises(ValueError, match="not a plausible value"):
        checked_values(family("line"), spec([1, 2, 3]), ranges, "")
    with pytest.raises(ValueError, match="every value is 200"):
        checked_values(family("line"), spec([200, 200, 200]), ranges, "")
    with pytest.raises(ValueError, match="rose"):
        checked_values(family("line"), spec([300, 200, 150]), ranges, "売上は増加した。")


def test_qa_programs_must_name_what_their_op_needs_and_only_the_tables_labels():
    from pipeline.qa import OPS
    from schemas.llm import qa_drafts_schema

    reply, item = qa_drafts_schema({op: r.args for op, r in OPS.items() if r.by_llm}, ["2021", "2022"], ["国内"], 4)
    ok = {"question": "q", "qa_type": "compositional", "answer": "1",
          "program": {"op": "diff", "col": "国内", "start": "2021", "end": "2022"}}
    assert item.model_validate(ok).program.start == "2021"
    for program in ({"op": "diff", "col": "国内", "start": "2021"},  # no end
                    {"op": "value", "row": "1999", "col": "国内"},  # not a row of the table
                    {"op": "pick", "color": "#ff0000", "order": "leftmost"}):  # the model never sees the colours
        with pytest.raises(ValidationError):
            item.model_validate(ok | {"program": program})
    assert "pick" not in json.dumps(reply.model_json_schema())


def test_placeholders_and_copies_of_the_prompts_example_are_refused():
    import prompts
    from pipeline.llm_chain import copied_example, placeholder_text
    from schemas import Persona, Topic

    examples = [json.loads(reply) for _, reply in prompts.llm_shots("persona", "ja")]
    assert placeholder_text(Persona(domain="banking", role="人物像(60字以内)．"))
    assert copied_example(Persona(domain="banking", role="地方銀行で中小企業向け融資の残高を毎月確認する融資担当。"), examples)
    real = Persona(domain="banking", role="信用金庫で中小企業向け融資の延滞率を毎月報告する審査担当")
    assert placeholder_text(real) is None and copied_example(real, examples) is None
    assert "value_B" in placeholder_text(Topic(text="value_B", metric="売上高"))
    assert placeholder_text(Topic(text="国内売上高の推移", metric="売上高")) is None
    # what SmolLM2 wrote in Japanese: the prompt's own field names echoed, JSON braces inside the text
    assert placeholder_text(Topic(text="生鮮物の売上を確認}}\n\n人物: 台引に生鮮物", metric="売上高"))
    assert placeholder_text(Topic(text="Measure: loan balance", metric="loan balance"))


def test_a_text_the_decoder_must_write_is_one_line_naming_its_measure():
    import re

    from schemas.llm import names

    ja, en = names("売上高", "ja"), names("net sales", "en")
    assert re.match(ja, "部門別の売上高の推移") and re.match(en, "Net sales by region")
    assert not re.match(ja, "部門別の売上高\n人物: 台引")  # a line break: the model running on into the prompt
    assert not re.match(en, 'net sales "by" region') and not re.match(en, "by region, net sales")


def test_strict_schemas_close_every_object_and_require_every_field():
    from common.llm_client import strict_schema
    from pipeline.qa import OPS
    from schemas.llm import qa_drafts_schema

    reply, _item = qa_drafts_schema({op: r.args for op, r in OPS.items() if r.by_llm}, ["2021", "2022"], ["国内"], 4)
    objects = []

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node:
                objects.append(node)
            assert not {"oneOf", "default", "discriminator", "minLength"} & set(node) - {"properties"}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(strict_schema(reply.model_json_schema()))
    assert len(objects) >= 12  # the reply, an item, one program per op, other's cell
    assert all(o["additionalProperties"] is False and o["required"] == list(o["properties"]) for o in objects)
    named = strict_schema({"type": "object", "properties": {"default": {"type": "string", "default": "x"}}})
    assert named["properties"] == {"default": {"type": "string"}}  # a field named like a keyword is kept


def test_the_topic_index_finds_what_comparing_every_pair_finds_without_comparing_every_pair():
    import random

    from pipeline.llm_chain import TOPIC_SIMILARITY, TopicDeduper, _jaccard, _trigrams

    rng = random.Random(0)
    words = ["預金", "貸出", "地域別", "法人", "個人", "残高", "推移", "観光客", "売上高", "構成比", "年度", "店舗",
             "deposits", "loans", "by region", "quarterly", "share", "visitors", "sales", "trend"]
    topics = []
    for _ in range(400):
        if topics and rng.random() < 0.3:  # a near copy of an earlier topic
            topics.append(rng.choice(topics) + rng.choice(["", "。", "の推移", " (2023)"]))
        else:
            topics.append(" ".join(rng.sample(words, 4)))
    seen, brute = [], []
    for t in topics:
        grams = _trigrams(t)
        ok = not any(_jaccard(grams, g) >= TOPIC_SIMILARITY for g in seen)
        brute.append(ok)
        if ok:
            seen.append(grams)
    index = TopicDeduper()
    assert [index.admit(t) for t in topics] == brute
    pairs = len(topics) * (len(topics) - 1) / 2
    assert index.compared < pairs / 20  # candidates only, not every earlier topic


def test_a_per_minute_budget_lets_a_minutes_worth_through_then_spaces_the_rest():
    """Clock and sleep are the test's own, so the spacing is exact and the test takes no time."""
    import asyncio

    from common.llm_client import PerMinute

    now = [0.0]

    async def sleep(seconds):
        now[0] += seconds

    async def take(bucket, amounts):
        for amount in amounts:
            await bucket.take(amount)

    requests = PerMinute(60, clock=lambda: now[0], sleep=sleep)
    asyncio.run(take(requests, [1] * 65))
    assert now[0] == pytest.approx(5.0)  # 60 at once, then one a second
    now[0] = 0.0
    tokens = PerMinute(1000, clock=lambda: now[0], sleep=sleep)
    asyncio.run(take(tokens, [600, 600, 5000]))  # the oversized request waits for a full bucket, not forever
    assert now[0] == pytest.approx(0.2 * 60 + 1.0 * 60)


def test_a_clause_carried_over_from_the_worked_example_is_sent_back():
    """Gemma 3 270M wrote "…rose steadily over the five years, while housing loans stayed almost flat." into passages
    on waste and hospitals: the example's clause, not the chart's. Borrowing its sentence shape is fine."""
    import json

    import prompts
    from pipeline.llm_chain import copied_example
    from schemas.sample import Description

    shown = {lang: [json.loads(reply) for _, reply in prompts.llm_shots("description", lang)] for lang in ("en", "ja")}
    carried = {"en": "The waste collected by the waste bin rose steadily over the five years, while housing loans "
                     "stayed almost flat.",
               "ja": "ごみ排出量は5年間で着実に増加した。一方、住宅ローンはほぼ横ばいで推移した。"}
    own = {"en": "Drug revenue rose steadily over the five years, while overseas sales fell.",
           "ja": "ごみ排出量は5年間で着実に増加した。一方、海外はほぼ横ばいで推移した。"}
    for lang in ("en", "ja"):
        assert "carries over" in copied_example(Description(text=carried[lang]), shown[lang])
        assert copied_example(Description(text=own[lang]), shown[lang]) is None
