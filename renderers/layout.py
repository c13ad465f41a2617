"""Layout decisions both renderers make the same way, from text measured in the chart's own font."""

from __future__ import annotations

import math

from renderers.fonts import pil_font, text_width

ROTATIONS = (0, 30, 45, 90)
LABEL_GAP_PX = 4.0


STRIDES = (1, 2, 3, 4, 5, 6, 10, 12)  # every k-th category label written, when all of them cannot be


def _fitting_rotation(labels: list[str], slot_px: float, family: str, size_px: float, wanted: int) -> int | None:
    widest = max(text_width(label, family, size_px) for label in labels)
    ascent, descent = pil_font(family, size_px).getmetrics()
    for rotation in ROTATIONS[ROTATIONS.index(wanted):]:
        if rotation == 0 and widest + LABEL_GAP_PX <= slot_px:
            return 0
        if rotation and slot_px * math.sin(math.radians(rotation)) >= ascent + descent + LABEL_GAP_PX:
            return rotation
    return None


def fit_labels(labels: list[str], slot_px: float, family: str, size_px: float, wanted: int) -> tuple[int, int]:
    """(rotation, stride) of category labels: the style's rotation, or the next steeper one at which neighbours do
    not touch — level labels need their width inside a category's slot, slanted ones a line height across it
    (slot · sin θ); when not even upright labels fit (a long series), every stride-th is written, from the first."""
    for stride in STRIDES:
        rotation = _fitting_rotation(labels[::stride], slot_px * stride, family, size_px, wanted)
        if rotation is not None:
            return rotation, stride
    return 90, STRIDES[-1]


def written_labels(labels: list[str], stride: int) -> list[str]:
    """The labels as the axis writes them: every stride-th, the rest left blank."""
    return [label if i % stride == 0 else "" for i, label in enumerate(labels)]


def unwritten_labels(labels: list[str], stride: int) -> list[str]:
    """The labels the axis leaves off (Rendered.unlabelled)."""
    return [label for i, label in enumerate(labels) if i % stride]


Box = tuple[float, float, float, float]
CORNERS = ((1, -1), (-1, -1), (1, 1), (-1, 1))  # (x side, y side) in image pixels: right-up, left-up, right-down, …


def _overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def place_point_labels(points: list[tuple[float, float]], labels: list[str], family: str, size_px: float,
                       bounds: Box, offset_px: float = 5.0) -> list[tuple[int, int]]:
    """For each point (in image pixels) the corner its name goes to, so that names clear each other, every point
    and the plot's edges where they can (greedy, inward side first); the drawing is measured afterwards anyway."""
    ascent, descent = pil_font(family, size_px).getmetrics()
    height = ascent + descent
    dots = [(x - 4, y - 4, x + 4, y + 4) for x, y in points]
    placed: list[Box] = []
    sides = []
    middle = (bounds[0] + bounds[2]) / 2
    for (x, y), label in zip(points, labels):
        width = text_width(label, family, size_px)
        inward = CORNERS if x <= middle else (CORNERS[1], CORNERS[0], CORNERS[3], CORNERS[2])

        def box(side: tuple[int, int]) -> Box:
            sx, sy = side
            x0 = x + offset_px if sx > 0 else x - offset_px - width
            y0 = y - offset_px - height if sy < 0 else y + offset_px
            return (x0, y0, x0 + width, y0 + height)

        def cost(side: tuple[int, int]) -> float:
            b = box(side)
            outside = (max(0.0, bounds[0] - b[0]) + max(0.0, b[2] - bounds[2]) + max(0.0, bounds[1] - b[1])
                       + max(0.0, b[3] - bounds[3])) * height
            return sum(_overlap(b, other) for other in placed + dots) + outside

        best = min(inward, key=cost)  # min keeps the first of equals: the preferred side when all are free
        placed.append(box(best))
        sides.append(best)
    return sides
