import pytest

from model.metrics import contains, normalize, relaxed_match


@pytest.mark.parametrize("prediction, gold, expected", [
    ("100", "103", True), ("100", "106", False),        # 5 % relative
    ("2019", "2020", False), ("2020", "2020", True),    # years exact, not within 5 % (pix2struct #35)
    ("2%", "0.02", True), ("2 %", "2%", True),          # "%" read as a percentage (VLMEvalKit #1313) …
    ("12.5", "12.5%", True), ("13.3", "12.5%", False),  # … or the unit left off
    ("1,234千台", "1234千台", True), ("1234000台", "1,234千台", True), ("158", "158千台", True),  # scale words
    ("744百万円", "744000000円", True), ("1.2万", "12000", True), ("12000", "1.2万人", True),
    ("11.1", "11.1 (10k people)", True), ("5234", "5234 (100M yen)", True), ("5", "5 m²", True),  # digits in units
    ("−5", "-5", True), ("▲5", "-5", True), ("△5", "-5", True), ("5", "-5", False),  # minus signs
    ("二〇一九", "2019", True), ("二〇二〇", "2019", False),
    ("-100", "-103", True), ("500", "-100", False), ("0", "-100", False),  # negative gold (TinyChart)
    ("0", "0", True), ("0.1", "0", False),
    ("Tokyo", "tokyo", True), ("Osaka", "Tokyo", False),
    ("１，２３４億円", "1234億円", True),
])
def test_relaxed_accuracy(prediction, gold, expected):
    assert relaxed_match(prediction, gold) is expected


@pytest.mark.parametrize("prediction, gold, expected", [
    ("答えは12です", "2", False), ("答えは2です", "2", True),      # number boundaries
    ("1.25倍", "1.2", False), ("約1.2倍", "1.2", True),
    ("売上は１，２３４億円", "1234億円", True),                    # NFKC and separators
    ("三百五十人", "350人", True), ("二千二十三年", "2023年", True),  # kanji numerals
    ("令和5年度", "令和5年度", True), ("令和15年度", "令和5年度", False),
    ("FY2023", "fy2023", True),
])
def test_containment(prediction, gold, expected):
    assert contains(prediction, gold) is expected


def test_normalize_keeps_words_with_kanji_that_are_not_numbers():
    assert normalize("万人") == "万人" and normalize("一万人") == "10000人"
    # a kanji digit right after digits starts a word (it crashed the reader of an LLM passage naming a quarter)
    assert normalize("第1四半期") == "第1四半期" and normalize("2023年一月") == "2023年1月"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_printed_number_scores_as_its_value_and_a_6_percent_error_does_not(lang):
    """Every way a chart or an answer prints a number (each number format, full-width digits, negatives, decimals,
    units with scale words or digits of their own): the printed form equals the plain value; 6 % off does not."""
    import itertools

    import numpy as np

    from pipeline.qa import with_unit
    from pipeline.style import sample_style
    from renderers.numbers import format_amount
    from schemas import ChartType, NumberFormat, PeriodFormat

    base = sample_style(np.random.default_rng(0), lang, ChartType.BAR, 1, PeriodFormat.YEAR)
    units = ["億円", "千台", "%", "人", "倍", "百万円"] if lang == "ja" else ["%", "10k people", "100M yen", "m²", "times"]
    values = [0.37, 4.2, -12.5, 87, 1234, -5678.9, 12345.6, 2.5e6, 3.2e8]
    for number_format, full_width, mixed, unit, value, decimals in itertools.product(
            NumberFormat, (False, True), (False, True), units, values, (0, 1, 2)):
        style = base.model_copy(update={"number_format": number_format, "full_width_digits": full_width,
                                        "mixed_scale": mixed})  # 1兆2,345億円
        shown = round(value, decimals)
        if shown == 0 or (float(shown).is_integer() and 1900 <= shown <= 2100):
            continue  # a zero has no 6 % neighbour; years must match exactly
        printed = with_unit(format_amount(shown, decimals, unit, style, lang), unit, lang)
        off = with_unit(format_amount(shown * 1.06, decimals, unit, style, lang), unit, lang)
        plain = repr(float(shown))
        assert relaxed_match(printed, plain), (printed, plain)
        if abs(shown) * 0.06 > 10.0 ** -decimals:  # 6 % is more than the printing's own rounding
            assert not relaxed_match(off, plain), (off, plain)


@pytest.mark.parametrize("text, value, resolution", [
    ("▲1.2万人", -12000, 1000), ("△5", -5, 1), ("−3.5%", -3.5, 0.1), ("1,234千台", 1234000, 1000),
    ("744百万円", 744e6, 1e6), ("二〇一九年度", 2019, 1), ("約１．５億円", 1.5e8, 1e7), ("三千五百", 3500, 1),
    ("1兆2,345億円", 1.2345e12, 1e8), ("▲2兆3,456.7億円", -2.34567e12, 1e7), ("3億4,500万人", 3.45e8, 1e4),
])
def test_one_number_parser_for_the_verifier_the_tolerance_check_and_the_scorer(text, value, resolution):
    """common.numbers reads what the scorer reads (before: the verifier's parser missed △/▲, 千/百 scales and kanji)."""
    from common.numbers import parse_amount, parse_number

    parsed = parse_number(text)
    assert parsed is not None and parsed[0] == pytest.approx(value) and parsed[1] == pytest.approx(resolution)
    assert parse_amount(text, "") == parsed
    assert relaxed_match(text, f"{value:f}")


@pytest.mark.parametrize("text, unit, value", [
    ("1兆2,345億円", "億円", 12345), ("12,345億円", "億円", 12345), ("12,345", "億円", 12345),
    ("▲1兆2,345億円", "億円", -12345), ("744百万円", "百万円", 744), ("1.23万人", "人", 12300), ("12.5%", "%", 12.5),
])
def test_an_amount_is_read_in_its_unit_whether_or_not_its_scale_is_split(text, unit, value):
    """The verifier and the scorer read 1兆2,345億円 as 12,345 (億円), like 12,345億円 (before: the unit was cut off
    first and "1兆2,345" read as 10^12)."""
    from common.numbers import parse_amount

    assert parse_amount(text, unit)[0] == pytest.approx(value)
    assert relaxed_match(text, f"{value}{unit}") and relaxed_match(f"{value}", text)
