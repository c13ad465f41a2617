"""The verifier on hand-made tables and element boxes: right answers pass, each kind of wrong one is named."""

import pytest

from schemas import QA, CellRef, ChartSpec, Element, Program

SPEC = ChartSpec(chart_type="grouped_bar", title="預金", unit="億円",
                 data={"index": ["2020/1", "2021/1", "2022/1"], "columns": ["法人", "個人"],
                       "data": [[100, 300], [150, 320], [170, 310]]})
GREEN, BLUE = "#2ca02c", "#1f77b4"
BOXES = [Element(kind="bar", bbox=(10 + 50 * i + 20 * j, 100, 25 + 50 * i + 20 * j, 200), color=[GREEN, BLUE][j], row=r, col=c)
         for i, r in enumerate(SPEC.data.index) for j, c in enumerate(SPEC.data.columns)]


def qa(answer: str, unit: str = "億円", answer_type="number", **program) -> QA:
    return QA(question="q", answer=answer, qa_type="compositional", answer_type=answer_type, unit=unit,
              program=Program(**program))


def check(item: QA, elements=BOXES):
    from pipeline.verify import check_answer

    result = check_answer(item, SPEC, elements, "ja")
    return None if result is None else result.reason


def test_right_answers_pass_in_the_charts_own_formatting():
    assert check(qa("+70億円", op="diff", col="法人", start="2020/1", end="2022/1")) is None
    assert check(qa("７０億円", op="diff", col="法人", start="2020/1", end="2022/1")) is None  # full-width digits
    assert check(qa("+70.0%", unit="%", op="growth", col="法人", start="2020/1", end="2022/1")) is None
    assert check(qa("420億円", op="sum", col="法人")) is None
    assert check(qa("0.33倍", unit="倍", op="ratio", row="2020/1", col="法人", other=CellRef(row="2020/1", col="個人"))) is None
    assert check(qa("2021/1", unit="", answer_type="label", op="argmax", col="個人")) is None
    assert check(qa("2番目", unit="番目", op="rank", row="2022/1", col="個人")) is None


def test_visual_answers_come_from_the_element_boxes():
    assert check(qa("300億円", op="pick", color=BLUE, order="leftmost")) is None
    assert check(qa("170億円", op="pick", color=GREEN, order="rightmost")) is None
    assert check(qa("100億円", op="pick", color=GREEN, order="rightmost")) == "answer_mismatch"


def test_wrong_answers_are_named():
    assert check(qa("+60億円", op="diff", col="法人", start="2020/1", end="2022/1")) == "answer_mismatch"
    assert check(qa("+70万人", op="diff", col="法人", start="2020/1", end="2022/1")) == "unit_mismatch"
    assert check(qa("2022/1", unit="", answer_type="label", op="argmax", col="個人")) == "answer_mismatch"
    assert check(qa("たくさん億円", op="value", row="2020/1", col="法人")) == "unparseable_answer"
    assert check(qa("1億円", op="value", row="2019/1", col="法人")) == "unknown_label"


def test_ambiguous_questions_are_refused():
    tied = [e.model_copy(update={"bbox": (10, 100, 25, 200)}) for e in BOXES if e.color == GREEN]
    assert check(qa("100億円", op="pick", color=GREEN, order="leftmost"), tied) == "ambiguous"
    assert check(qa("100億円", op="pick", color=GREEN, order=None)) == "ambiguous"
    unmeasured = [e.model_copy(update={"bbox": None}) for e in BOXES]
    assert check(qa("100億円", op="pick", color=GREEN, order="leftmost"), unmeasured) == "no_such_mark"


def test_man_oku_answers_are_read_at_the_precision_they_show():
    from pipeline.verify import check_answer
    from common.numbers import parse_number
    from renderers.numbers import format_number
    from pipeline.style import sample_style
    from schemas import ChartType, NumberFormat, PeriodFormat

    import numpy as np

    style = sample_style(np.random.default_rng(0), "ja", ChartType.BAR, 1, PeriodFormat.YEAR).model_copy(
        update={"number_format": NumberFormat.MAN_OKU, "full_width_digits": True})
    assert format_number(12345, 0, style, "ja") == "１．２３万"
    assert format_number(3_456_000_000, 0, style, "ja") == "３４．５６億"
    assert format_number(9876, 0, style, "ja") == "９，８７６"
    assert parse_number("１．２３万人") == (12300.0, 100.0)
    people = ChartSpec(chart_type="bar", title="志願者数", unit="人",
                       data={"index": ["2022年", "2023年"], "columns": ["志願者数"], "data": [[12345], [9876]]})
    right = qa("1.23万人", unit="人", op="value", row="2022年", col="志願者数")
    assert check_answer(right, people, [], "ja") is None
    assert check_answer(right.model_copy(update={"answer": "1.30万人"}), people, [], "ja").reason == "answer_mismatch"


def test_amounts_of_a_trillion_yen_written_with_their_cho_split_off_verify():
    """An answer of 12,345億円 may be written 1兆2,345億円 (style.mixed_scale): it is the table's 12,345, and 1兆2,346億円
    is not (before: the verifier cut the unit off first and read "1兆2,345" as 10^12)."""
    import numpy as np

    from pipeline.qa import write_answer
    from pipeline.style import sample_style
    from pipeline.verify import check_answer
    from schemas import ChartType, Op, PeriodFormat

    spec = SPEC.model_copy(update={"data": SPEC.data.model_copy(update={"data": [[12345, 300], [150, 320], [170, 310]]})})
    style = sample_style(np.random.default_rng(0), "ja", ChartType.GROUPED_BAR, 2, PeriodFormat.YEAR)
    answer, unit = write_answer(Op.VALUE, 12345.0, spec, "法人", style.model_copy(update={"mixed_scale": True}), "ja")
    assert (answer, unit) == ("1兆2,345億円", "億円")
    right = qa(answer, op="value", row="2020/1", col="法人")
    assert check_answer(right, spec, BOXES, "ja") is None
    assert check_answer(qa("1兆2,346億円", op="value", row="2020/1", col="法人"), spec, BOXES, "ja").reason == \
        "answer_mismatch"


def test_an_english_unit_with_its_own_scale_is_bracketed_and_verifies():
    """"10,433 100M yen" read as two numbers side by side (issue 15 §4): the unit goes in brackets, and the verifier
    still reads 10,433 (and refuses 10,434)."""
    import numpy as np

    from pipeline.qa import write_answer
    from pipeline.style import sample_style
    from pipeline.verify import check_answer
    from schemas import ChartType, Op, PeriodFormat

    spec = SPEC.model_copy(update={"unit": "100M yen", "column_units": {},
                                   "data": SPEC.data.model_copy(update={"data": [[10433, 300], [150, 320], [170, 310]]})})
    style = sample_style(np.random.default_rng(0), "en", ChartType.GROUPED_BAR, 2, PeriodFormat.YEAR).model_copy(
        update={"number_format": "thousands"})
    answer, unit = write_answer(Op.VALUE, 10433.0, spec, "法人", style, "en")
    assert (answer, unit) == ("10,433 (100M yen)", "100M yen")
    assert check_answer(qa(answer, unit=unit, op="value", row="2020/1", col="法人"), spec, BOXES, "en") is None
    assert check_answer(qa("10,434 (100M yen)", unit=unit, op="value", row="2020/1", col="法人"), spec, BOXES,
                        "en").reason == "answer_mismatch"
    people = spec.model_copy(update={"unit": "people"})
    assert write_answer(Op.VALUE, 10433.0, people, "法人", style, "en")[0] == "10,433 people"


def test_a_percentage_is_never_asked_or_described_as_growing_by_a_percent():
    """"損害率はFY2016からFY2022にかけて何%変化したか → +18.4%" (a rise of 11.9 points) was asked of a rate: its change
    is the difference in points; a growth program on a percentage is refused (an LLM may still write one)."""
    from pipeline.qa import Unverifiable, evaluate
    from pipeline.template import draft_sample
    from schemas import RunConfig

    rates = SPEC.model_copy(update={"unit": "%"})
    with pytest.raises(Unverifiable, match="percentage"):
        evaluate(Program(op="growth", col="法人", start="2020/1", end="2022/1"), rates, [])
    assert evaluate(Program(op="growth", col="法人", start="2020/1", end="2022/1"), SPEC, []) == pytest.approx(70.0)
    grown = []
    for index in range(300):
        sample = draft_sample(RunConfig(n=1000, seed=4, lang="mix"), index)
        for qa in sample.qa + [f for f in sample.description_facts]:
            if qa.program.op.value == "growth":
                grown.append(sample.spec.series_unit.get(qa.program.col, ""))
    assert grown and "%" not in grown
