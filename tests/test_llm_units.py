from pipeline.llm_chain import TopicDeduper, contradiction
from common.llm_client import extract_json, response_format
from schemas import ChartSpec
from schemas.llm import DataDraft


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


def test_json_is_extracted_from_chatty_or_fenced_replies():
    assert extract_json('Sure! Here it is:\n```json\n{"a": {"b": "}"}}\n```\nAnything else?') == '{"a": {"b": "}"}}'
    assert extract_json('prefix {"a": 1} suffix {"b": 2}') == '{"a": 1}'
    assert extract_json('{"a": [1, 2') == '{"a": [1, 2'  # truncated stays truncated, for the parser to refuse


def test_structured_output_modes_per_server():
    schema = {"type": "object"}
    assert response_format("json_schema", "data", schema)["json_schema"] == {"name": "data", "schema": schema}
    assert response_format("json_object", "data", schema) == {"type": "json_object", "schema": schema}
    assert response_format("text", "data", schema) is None


def test_near_duplicate_topics_are_refused():
    dedup = TopicDeduper(["法人・個人別の預金等残高の推移"])
    assert not dedup.admit("法人・個人別の預金等残高の推移。")
    assert dedup.admit("地域別の観光客数")
    assert not dedup.admit("地域別の観光客数")


def test_data_draft_becomes_a_spec_or_a_named_error():
    draft = DataDraft(title="売上", unit="億円", categories=["2021", "2022"],
                      series=[{"name": "国内", "values": [1.26, 2]}])
    assert draft.to_spec("bar").data.data == [[1.0], [2.0]]
    short = draft.model_copy(update={"series": [draft.series[0].model_copy(update={"values": [1.0]})]})
    try:
        short.to_spec("bar")
    except ValueError as error:
        assert "'国内' has 1 values for 2 categories" in str(error)
    else:
        raise AssertionError("a short series must be refused")


def test_placeholders_and_copies_of_the_prompts_example_are_refused():
    import prompts
    from pipeline.llm_chain import copied_example, placeholder_text
    from schemas import Persona
    from schemas.llm import DataDraft

    prompt = prompts.llm_prompt("persona", "ja", seed_role="投資判断担当", domain="banking")
    assert placeholder_text(Persona(domain="banking", role="人物像(60字以内)．"))
    assert copied_example(Persona(domain="banking", role="地方銀行で法人向け預金の動向を分析する投資判断担当"), prompt)
    real = Persona(domain="banking", role="信用金庫で中小企業向け融資の延滞率を毎月報告する審査担当")
    assert placeholder_text(real) is None and copied_example(real, prompt) is None
    data = {"title": "売上高", "unit": "%", "categories": ["2021", "2022"], "series": [{"name": "value_B", "values": [1, 2]}]}
    assert "value_B" in placeholder_text(DataDraft.model_validate(data))
    data["series"][0]["name"] = "国内"
    assert placeholder_text(DataDraft.model_validate(data)) is None  # a '%' unit is not a placeholder
