"""One sample end to end: draft → render → add visual QA → verify → shard row, or a Reject with its reason."""

from __future__ import annotations

import json

from pydantic import ValidationError

from pipeline.answerable import answerable
from pipeline.describe import chart_table, describe
from pipeline.qa import add_visual_qa
from pipeline.template import draft_sample, sample_id
from pipeline.verify import verify_sample
from renderers import render
from schemas import QA, QARecord, Reject, Rendered, RunConfig, Sample, ShardRow, Turn
from schemas.render import MIN_TEXT_PX, RenderChecks


def _record(qa: QA) -> QARecord:
    return QARecord(**qa.model_dump(exclude={"program"}), program=qa.program.model_dump_json())


def to_row(sample: Sample, rendered: Rendered) -> ShardRow:
    turns: list[Turn] = []
    for i, qa in enumerate(sample.qa):
        turns += [Turn(from_="human", value=("<image>\n" if i == 0 else "") + qa.question), Turn(from_="gpt", value=qa.answer)]
    return ShardRow(
        id=sample.id,
        image={"bytes": rendered.png, "path": f"{sample.id}.png"},
        lang=sample.lang,
        chart_type=sample.spec.chart_type.value,
        renderer=sample.renderer,
        persona=sample.persona.role,
        topic=sample.topic.text,
        metric=sample.topic.metric,
        description=sample.description.text,
        description_facts=[_record(qa) for qa in sample.description_facts],
        table=chart_table(sample, rendered),
        spec=sample.spec.model_dump_json(),
        style=sample.style.model_dump_json(),
        qa=[_record(qa) for qa in sample.qa],
        conversations=turns,
        elements=json.dumps([e.model_dump() for e in rendered.elements], ensure_ascii=False),
        render_checks=rendered.checks.model_dump_json(),
        provenance=sample.provenance.model_dump_json(),
    )


def make_sample(config: RunConfig, index: int) -> ShardRow | Reject:
    """The template path: draft and finish in one worker call."""
    try:
        sample = draft_sample(config, index)
    except ValidationError as error:
        return Reject(id=sample_id(config.seed, index), sample_index=index, stage="validate", reason="invalid_spec",
                      detail=str(error))
    return finish_sample(sample)


def _text_problems(checks: RenderChecks) -> int:
    return len(checks.overlapping_text) + len(checks.small_text) + len(checks.off_canvas_text)


def draw(sample: Sample) -> tuple[Sample, Rendered]:
    """Render; if text collides, is too small or leaves the canvas while value labels are on, redraw without them
    and keep that when it is better. The row records the style it was drawn with — also when the renderer left the
    labels off up front — so it redraws byte for byte."""
    rendered = render(sample.spec, sample.style, sample.renderer, sample.lang)
    if rendered.value_labels != sample.style.value_labels:
        sample = sample.model_copy(update={"style": sample.style.model_copy(update={"value_labels": rendered.value_labels})})
    if _text_problems(rendered.checks) and sample.style.value_labels:
        unlabelled = sample.model_copy(update={"style": sample.style.model_copy(update={"value_labels": False})})
        again = render(unlabelled.spec, unlabelled.style, unlabelled.renderer, unlabelled.lang)
        if _text_problems(again.checks) < _text_problems(rendered.checks):
            return unlabelled, again
    return sample, rendered


def render_problem(checks: RenderChecks, font: str) -> tuple[str, str] | None:
    """The first check a drawing fails, as (reason, detail): a reader could not read all of its text."""
    if checks.missing_glyphs:
        return "missing_glyphs", f"{checks.missing_glyphs} glyphs missing in font {font!r}"
    if checks.overlapping_text:
        return "overlapping_text", "; ".join(f"{a!r} over {b!r}" for a, b in checks.overlapping_text[:5])
    if checks.small_text:
        return "small_text", f"drawn below {MIN_TEXT_PX:g} px: " + ", ".join(map(repr, checks.small_text[:5]))
    if checks.off_canvas_text:
        return "off_canvas_text", "outside the image: " + ", ".join(map(repr, checks.off_canvas_text[:5]))
    return None


def finish_sample(sample: Sample) -> ShardRow | Reject:
    """Render, add visual QA from the element boxes, describe the drawn chart (template samples: an LLM's passage
    is its own), verify every answer and stated fact; the same for every generator."""
    index = sample.provenance.sample_index
    sample, rendered = draw(sample)
    problem = render_problem(rendered.checks, sample.style.font_family)
    if problem:
        return Reject(id=sample.id, sample_index=index, stage="render", reason=problem[0], detail=problem[1],
                      sample=sample.model_dump(mode="json"))
    asked = answerable(add_visual_qa(sample, rendered), rendered)
    if not asked.qa:
        return Reject(id=sample.id, sample_index=index, stage="verify", reason="unanswerable_from_image",
                      detail="no question could be settled from the image", sample=sample.model_dump(mode="json"))
    if asked.provenance.generator == "template":
        asked = describe(asked, rendered)
    checked = verify_sample(asked, rendered)
    return checked if isinstance(checked, Reject) else to_row(checked, rendered)
