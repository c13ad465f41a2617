"""Render checks shared by every renderer (each measures its own text boxes): overlapping text, text off the
canvas, text too small to read, glyphs the font lacks, a legend over a mark."""

from __future__ import annotations

import re
import unicodedata

from common.numbers import parse_number
from schemas.render import MARKS, MIN_TEXT_PX, Element, RenderChecks

MIN_OVERLAP_PX = 2.0  # two texts collide when their boxes interpenetrate by this much along every separating axis
MIN_COVER_PX2 = 4.0  # a legend covers a mark when their boxes share more than this area


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def covers_marks(legends: list[Element], marks: list[Element]) -> bool:
    """A legend box lies over a drawn mark (more than a sliver)."""
    return any(_overlap(legend.bbox, mark.bbox) > MIN_COVER_PX2 for legend in legends for mark in marks
               if mark.bbox is not None and mark.kind in MARKS)


def corners(e: Element) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = e.bbox
    return e.quad or [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def penetration(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """How deep two convex quadrilaterals overlap: the least overlap of their projections over every edge normal
    (separating axis theorem; ≤ 0 means apart). Rotated tick labels are tested as drawn, not as their hulls."""
    depth = float("inf")
    for poly in (a, b):
        for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]):
            nx, ny = y0 - y1, x1 - x0
            norm = (nx * nx + ny * ny) ** 0.5
            if norm == 0:
                continue
            pa = [(x * nx + y * ny) / norm for x, y in a]
            pb = [(x * nx + y * ny) / norm for x, y in b]
            depth = min(depth, min(max(pa), max(pb)) - max(min(pa), min(pb)))
    return depth


def render_checks(elements: list[Element], width: int, height: int, missing_glyphs: int) -> RenderChecks:
    texts = [e for e in elements if e.kind == "text" and e.bbox is not None]
    overlaps = []
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            apart = a.bbox[2] <= b.bbox[0] or b.bbox[2] <= a.bbox[0] or a.bbox[3] <= b.bbox[1] or b.bbox[3] <= a.bbox[1]
            if not apart and penetration(corners(a), corners(b)) > MIN_OVERLAP_PX:
                overlaps.append((a.text or "", b.text or ""))
    off = [e.text or "" for e in texts if e.bbox[0] < -1 or e.bbox[1] < -1 or e.bbox[2] > width + 1 or e.bbox[3] > height + 1]
    small = [e.text or "" for e in texts if e.size_px is not None and e.size_px < MIN_TEXT_PX]
    return RenderChecks(missing_glyphs=missing_glyphs, overlapping_text=overlaps, off_canvas_text=off, small_text=small)


_TICK_LABEL = re.compile(r"^[-−▲△]?\d[\d,]*(?:\.\d+)?[万億]?$")


def drawn_steps(steps: dict[str, float], elements: list[Element]) -> dict[str, float]:
    """The value-axis tick steps whose labels are really drawn — two measured texts one step apart — so a value is
    asked "as read against the ticks" only when the ticks can be read (a Vega axis dropped by one layer was not)."""
    values = set()
    for e in elements:
        text = unicodedata.normalize("NFKC", e.text or "").strip()
        if e.kind == "text" and _TICK_LABEL.match(text) and (parsed := parse_number(text)):
            values.add(parsed[0])

    def labelled(step: float) -> bool:
        multiples = {round(v / step) for v in values if abs(v / step - round(v / step)) < 1e-6}
        return any(k + 1 in multiples for k in multiples)

    return {column: step for column, step in steps.items() if labelled(step)}
