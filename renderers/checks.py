"""Render checks shared by renderers that can measure their text: overlapping labels and labels off the canvas."""

from __future__ import annotations

from schemas.render import Element

MIN_OVERLAP_PX2 = 4.0


def text_box_problems(elements: list[Element], width: int, height: int) -> tuple[list[tuple[str, str]], list[str]]:
    texts = [e for e in elements if e.kind == "text" and e.bbox is not None]
    overlaps = []
    for i, a in enumerate(texts):
        ax0, ay0, ax1, ay1 = a.bbox
        for b in texts[i + 1 :]:
            bx0, by0, bx1, by1 = b.bbox
            area = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
            if area > MIN_OVERLAP_PX2:
                overlaps.append((a.text or "", b.text or ""))
    off = [e.text or "" for e in texts if e.bbox[0] < -1 or e.bbox[1] < -1 or e.bbox[2] > width + 1 or e.bbox[3] > height + 1]
    return overlaps, off
