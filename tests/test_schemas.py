import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import prompts
from schemas import ChartSpec, DataTable, HeaderGroup, QA, json_schema

GOOD = {"index": ["2020/1", "2021/1", "2022/1"], "columns": ["法人", "個人"], "data": [[1, 2], [3, 4], [5, 6]]}


def spec(**changes):
    fields = {"chart_type": "bar", "title": "預金等残高", "unit": "億円", "data": GOOD} | changes
    return ChartSpec.model_validate(fields)


def error_text(**changes) -> str:
    with pytest.raises(ValidationError) as info:
        spec(**changes)
    return str(info.value)


def test_good_spec_rebuilds_as_pandas_frame():
    import pandas as pd

    frame = pd.DataFrame(**spec().data.model_dump())
    assert frame.loc["2021/1", "個人"] == 4


@pytest.mark.parametrize(
    "changes, field, value",
    [
        ({"data": GOOD | {"data": [[1, 2], [3, 4]]}}, "data", "2 rows"),
        ({"data": GOOD | {"data": [[1, 2], [3], [5, 6]]}}, "data", "'2021/1'"),
        ({"data": GOOD | {"data": [[1, 2], [math.nan, 4], [5, 6]]}}, "data", "nan"),
        ({"data": GOOD | {"data": [[1, 2], [math.inf, 4], [5, 6]]}}, "data", "inf"),
        ({"data": GOOD | {"index": ["2020/1", "2020/1", "2022/1"]}}, "index", "'2020/1'"),
        ({"data": GOOD | {"index": [], "data": []}}, "index", "[]"),
        ({"title": "x" * 200}, "title", "xxxx"),
        ({"chart_type": "pie"}, "pie", "['法人', '個人']"),
        ({"chart_type": "pie", "data": {"index": ["a", "b"], "columns": ["s"], "data": [[60], [-10]]}}, "pie", "-10"),
        ({"chart_type": "stacked_bar", "data": GOOD | {"data": [[1, -2], [3, 4], [5, 6]]}}, "stacked_bar", "negative"),
        ({"chart_type": "bar_line", "secondary_series": ["人口"]}, "secondary_series", "['人口']"),
        ({"chart_type": "table", "header_groups": [{"label": "預金", "span": 3}]}, "header_groups", "span 3"),
        ({"column_units": {"不明": "%"}}, "column_units", "'不明'"),
    ],
)
def test_bad_spec_is_rejected_naming_field_and_value(changes, field, value):
    message = error_text(**changes)
    assert field in message and value in message


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 4), drop=st.integers(0, 5),
       bad=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_random_malformed_tables_are_rejected(rows, cols, drop, bad):
    index = [f"r{i}" for i in range(rows)]
    columns = [f"c{j}" for j in range(cols)]
    data = [[float(i + j) for j in range(cols)] for i in range(rows)]
    data[drop % rows][0] = bad
    with pytest.raises(ValidationError, match=rf"data\[{drop % rows}\]\[0\] = {bad!r}"):
        DataTable(index=index, columns=columns, data=data)
    data[drop % rows] = data[drop % rows][:-1] if cols > 1 else []
    with pytest.raises(ValidationError, match=rf"data\[{drop % rows}\]"):
        DataTable(index=index, columns=columns, data=data)


def test_json_schema_derives_from_models():
    schema = json_schema(ChartSpec)
    assert set(schema["properties"]) == set(ChartSpec.model_fields)
    assert "program" in json_schema(QA)["properties"]


def test_table_header_groups_must_cover_columns():
    ok = spec(chart_type="table", header_groups=[HeaderGroup(label="預金", span=2)])
    assert ok.header_groups[0].span == 2
    assert "header_groups span 1 columns but the table has 2" in error_text(
        chart_type="table", header_groups=[HeaderGroup(label="預金", span=1)])
    assert "header_groups are only drawn by table, not bar" in error_text(
        header_groups=[HeaderGroup(label="預金", span=2)])


def test_shipped_persona_list_has_300_distinct_roles():
    """Organisation × function per domain: the persona seeds both generators draw from."""
    roles = [(f"{o[0]}の{f[0]}", f"{f[1]} at {o[1]}") for d in prompts.seeds().domains for o in d.orgs for f in d.functions]
    assert len({ja for ja, _ in roles}) >= 300 and len({en for _, en in roles}) >= 300


@st.composite
def arbitrary_specs(draw):
    """Specs of any chart type over small random tables, including values a validator should refuse."""
    kind = draw(st.sampled_from(["bar", "barh", "grouped_bar", "stacked_bar", "line", "area", "pie", "donut",
                                 "scatter", "bar_line", "table"]))
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    number = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.sampled_from([0.0, -1.0, math.nan])
    data = [[draw(number) for _ in range(cols)] for _ in range(rows)]
    columns = [f"系列{j}" for j in range(cols)]
    secondary = draw(st.sampled_from([[], columns[-1:]]))
    return {"chart_type": kind, "title": "テスト", "unit": "億円",
            "data": {"index": [f"項目{i}" for i in range(rows)], "columns": columns, "data": data},
            "secondary_series": secondary}


@settings(max_examples=40, deadline=None)
@given(fields=arbitrary_specs())
def test_whatever_validates_can_be_drawn(fields):
    """The validators' promise: a spec either is refused with a message, or every renderer that takes it draws it."""
    import numpy as np

    from renderers import render
    from pipeline.style import sample_style
    from schemas import ChartType, PeriodFormat

    try:
        spec = ChartSpec.model_validate(fields)
    except ValidationError as error:  # refused by one of our validators, with its reason, not by a crash
        assert {e["type"] for e in error.errors()} == {"value_error"}, error.errors()
        return
    style = sample_style(np.random.default_rng(0), "ja", spec.chart_type, 1, PeriodFormat.YEAR)
    renderer = "table" if spec.chart_type is ChartType.TABLE else "matplotlib"
    out = render(spec, style, renderer, "ja")
    assert out.png.startswith(b"\x89PNG") and out.checks.missing_glyphs == 0
