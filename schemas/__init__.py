"""Every data shape that crosses a stage boundary, defined once. JSON Schema for the LLM and Parquet columns derive from here."""

from schemas.chart import ChartSpec, ChartType, DataTable, HeaderGroup
from schemas.qa import QA, AnswerType, CellRef, Op, Program, QAType
from schemas.render import Element, RenderChecks, Rendered
from schemas.sample import (
    Description,
    EvalQuestion,
    ImageCell,
    Manifest,
    Persona,
    Provenance,
    QARecord,
    RegenerateConfig,
    Reject,
    RunConfig,
    Sample,
    ShardEntry,
    ShardRow,
    Topic,
    Turn,
)
from schemas.style import NamedColor, NumberFormat, PeriodFormat, StyleSpec

__all__ = [
    "QA", "AnswerType", "CellRef", "ChartSpec", "ChartType", "DataTable", "Description", "Element", "EvalQuestion", "HeaderGroup",
    "ImageCell", "Manifest", "NamedColor", "NumberFormat", "Op", "PeriodFormat", "Persona", "Program", "Provenance",
    "QARecord", "QAType", "RegenerateConfig", "Reject", "RenderChecks", "Rendered", "RunConfig", "Sample", "ShardEntry", "ShardRow",
    "StyleSpec", "Topic", "Turn", "json_schema",
]


def json_schema(model: type) -> dict:
    """The JSON Schema an LLM step is asked to fill, derived from the model itself."""
    return model.model_json_schema()
