import pytest

from model.metrics import contains, normalize, relaxed_match


@pytest.mark.parametrize("prediction, gold, expected", [
    ("100", "103", True), ("100", "106", False),        # 5 % relative
    ("2019", "2020", False), ("2020", "2020", True),    # years exact, not within 5 % (pix2struct #35)
    ("2%", "2", False), ("2%", "0.02", True), ("2 %", "2%", True),  # "%" read as a percentage (VLMEvalKit #1313)
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
