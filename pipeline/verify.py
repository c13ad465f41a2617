"""Answers are computed, not trusted: re-run each QA's program on the table (pipeline.qa.evaluate, plain Python, no
pandas) and compare with the answer text as written, in the unit `pipeline.qa.OPS` says it carries."""

from __future__ import annotations

import unicodedata

from pipeline.qa import OPS, Unverifiable, answer_unit, evaluate, text, unit_text
from common.numbers import parse_amount
from schemas import QA, AnswerFailure, AnswerType, ChartSpec, Element, Reject, Rendered, Sample


def check_answer(qa: QA, spec: ChartSpec, elements: list[Element], lang: str) -> AnswerFailure | None:
    """None when the answer is right; else why not."""
    try:
        truth = evaluate(qa.program, spec, elements)
    except Unverifiable as error:
        return AnswerFailure(reason=error.reason, detail=error.detail)
    answer = unicodedata.normalize("NFKC", qa.answer).strip()
    if OPS[qa.program.op].written == "yes_no":  # written in the language's words, evaluated as "yes" / "no"
        truth = text("yes_no", truth, lang) if truth in ("yes", "no") else truth
    if qa.answer_type is AnswerType.LABEL:
        if not isinstance(truth, str) or answer != unicodedata.normalize("NFKC", truth):
            return AnswerFailure(reason="answer_mismatch", detail=f"answer {qa.answer!r} but the table says {truth!r}")
        return None
    if isinstance(truth, str):
        return AnswerFailure(reason="answer_type_mismatch",
                             detail=f"numeric answer {qa.answer!r} to a question whose answer is the label {truth!r}")
    unit = answer_unit(qa.program.op, spec, qa.program.col, lang)
    if unit != "*" and qa.unit != unit:
        return AnswerFailure(reason="unit_mismatch",
                             detail=f"unit {qa.unit!r} but {qa.program.op.value} of this table is in {unit!r}")
    written_unit = unicodedata.normalize("NFKC", unit_text(qa.unit, lang))  # as answers write it
    if written_unit and not answer.endswith(written_unit):
        return AnswerFailure(reason="unit_mismatch", detail=f"answer {qa.answer!r} does not end with its unit {qa.unit!r}")
    parsed = parse_amount(answer, written_unit)  # in the unit: the 億 of 12,345億円 is not read as ×10^8
    if parsed is None:
        return AnswerFailure(reason="unparseable_answer", detail=f"no number in answer {qa.answer!r}")
    value, resolution = parsed
    # as printed (half its last digit), or as readable from the image (qa.tolerance, set by pipeline.answerable)
    tolerance = max(0.5 * resolution, qa.tolerance) + 1e-9 * max(1.0, abs(truth))
    if abs(value - truth) > tolerance:
        return AnswerFailure(reason="answer_mismatch", detail=f"answer {qa.answer!r} but the table gives {truth!r}")
    return None


def verify_sample(sample: Sample, rendered: Rendered) -> Sample | Reject:
    """Mark every QA and every fact the description states verified, or reject the whole sample naming the first
    failing one."""
    for where, asked in (("", sample.qa), ("description fact: ", sample.description_facts)):
        for qa in asked:
            failure = check_answer(qa, sample.spec, rendered.elements, sample.lang)
            if failure is not None:
                return Reject(id=sample.id, sample_index=sample.provenance.sample_index, stage="verify",
                              reason=failure.reason, detail=f"{where}{qa.question} → {qa.answer}: {failure.detail}",
                              sample=sample.model_dump(mode="json"))
    verified = lambda qas: [qa.model_copy(update={"verified": True}) for qa in qas]  # noqa: E731
    return sample.model_copy(update={"qa": verified(sample.qa), "description_facts": verified(sample.description_facts)})
