"""Is each question answerable from the image the row ships with? Checked from the renderer's own geometry (element
boxes) and the PNG's pixels after drawing; what the eye cannot settle is not asked.

- Comparisons (OPS entries with `compares`) on charts without value labels: the answer's mark must stand out from the
  runner-up by `SEPARABLE_PX` along the value axis (pie slices: by `SEPARABLE_SHARE` of the whole).
- Visual references (pipeline.qa.QuestionWriter.visual) name only marks that are drawn (no line vertices without
  markers), painted in the colour they are named by (renderers.colour.painted_as: not covered by a legend, a label or
  another series) and distinct from every other colour painted for data (renderers.colour.distinct).
"""

from __future__ import annotations

from pipeline.qa import OPS
from renderers.charts import family
from schemas import QA, ChartSpec, Element, Op, Rendered, Sample

SEPARABLE_PX = 3.0
SEPARABLE_SHARE = 0.03  # ≈ 11° of a pie


def labelled(sample: Sample) -> bool:
    """Every value is printed: a table's cells, or value labels on the marks."""
    return "table" in family(sample.spec.chart_type).draw or sample.style.value_labels


def _magnitudes(spec: ChartSpec, col: str, elements: list[Element]) -> dict[str, float] | None:
    """How far each row's mark of `col` reaches along the value axis, in pixels; None without measured marks."""
    chart = family(spec.chart_type)
    if chart.paired and col == spec.data.columns[0]:  # the x measure of a scatter: read across
        points = [e for e in elements if e.kind == "point" and e.bbox]
        return {e.row: (e.bbox[0] + e.bbox[2]) / 2 for e in points} or None
    marks = [e for e in elements if e.col == col and e.kind in ("bar", "point", "vertex") and e.bbox]
    if not marks:
        return None
    values = dict(zip(spec.data.index, spec.data.column(col)))
    out = {}
    for e in marks:
        x0, y0, x1, y1 = e.bbox
        if e.kind == "bar":
            length = (x1 - x0) if chart.horizontal else (y1 - y0)
            out[e.row] = length if values[e.row] >= 0 else -length
        else:
            out[e.row] = -(y0 + y1) / 2  # image y grows downwards
    return out


def separable(qa: QA, sample: Sample, elements: list[Element]) -> bool:
    """A comparison the eye can make: the answer's mark differs visibly from its nearest rival."""
    op, spec = qa.program.op, sample.spec
    if not OPS[op].compares or labelled(sample) or qa.program.col not in spec.data.columns:
        return True
    col = qa.program.col
    if family(spec.chart_type).round:
        total = sum(spec.data.column(col))
        reach, threshold = {r: v / total for r, v in zip(spec.data.index, spec.data.column(col))}, SEPARABLE_SHARE
    else:
        reach, threshold = _magnitudes(spec, col, elements), SEPARABLE_PX
        if reach is None or len(reach) != len(spec.data.index):
            return False  # not every value is drawn where it can be measured
    ordered = sorted(reach.values(), reverse=True)
    if len(ordered) < 2:
        return True
    if op in (Op.ARGMAX, Op.MAX):
        gap = ordered[0] - ordered[1]
    elif op in (Op.ARGMIN, Op.MIN):
        gap = ordered[-2] - ordered[-1]
    else:  # rank: apart from both neighbours
        mine = reach[qa.program.row]
        gap = min(abs(mine - other) for row, other in reach.items() if row != qa.program.row)
    return gap >= threshold


def answerable(sample: Sample, rendered: Rendered) -> Sample:
    """The sample with the questions its image cannot settle left out."""
    kept = [qa for qa in sample.qa if separable(qa, sample, rendered.elements)]
    return sample.model_copy(update={"qa": kept})
