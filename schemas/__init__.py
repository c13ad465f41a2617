"""Every data shape that crosses a stage boundary, defined once. JSON Schema for the LLM and Parquet columns derive from here."""

from schemas.chart import ChartSpec, ChartType, DataTable, HeaderGroup
from schemas.qa import QA, AnswerFailure, AnswerType, CellRef, Op, Program, QAType
from schemas.render import Element, RenderChecks, Rendered
from schemas.reports import AdaptReport, EvalSummary, Scores, TrainingMemory, TrainReport
from schemas.run import DatasetSummary, RunReport, ShardDrafts, ShardPlan
from schemas.sample import (
    ChartRenderer,
    Description,
    EvalQuestion,
    ImageCell,
    Lang,
    Manifest,
    Persona,
    Provenance,
    QARecord,
    RegenerateConfig,
    Reject,
    RendererName,
    RunConfig,
    Sample,
    ShardEntry,
    ShardRow,
    Topic,
    Turn,
)
from schemas.seeds import Seeds, SeedTopic, TemplateChoice
from schemas.style import NamedColor, NumberFormat, PeriodFormat, StyleSpec

__all__ = [
    "QA", "AdaptReport", "AnswerFailure", "AnswerType", "CellRef", "ChartRenderer", "ChartSpec", "ChartType", "DataTable",
    "DatasetSummary", "Description", "Element", "EvalQuestion", "EvalSummary", "HeaderGroup", "ImageCell", "Lang", "Manifest",
    "NamedColor", "NumberFormat", "Op", "PeriodFormat", "Persona", "Program", "Provenance", "QARecord", "QAType",
    "RegenerateConfig", "Reject", "RenderChecks", "Rendered", "RendererName", "RunConfig", "RunReport", "Sample", "Scores",
    "SeedTopic", "Seeds", "ShardDrafts", "ShardEntry", "ShardPlan", "ShardRow", "StyleSpec", "TemplateChoice", "Topic",
    "TrainingMemory", "TrainReport",
    "Turn", "json_schema",
]


def json_schema(model: type) -> dict:
    """The JSON Schema an LLM step is asked to fill, derived from the model itself."""
    return model.model_json_schema()
