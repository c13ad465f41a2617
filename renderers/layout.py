"""Layout decisions both renderers make the same way, from text measured in the chart's own font."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class LabelFit:
    """How category labels are written along the bottom: turned `rotation` degrees, every `stride`-th of them;
    `texts` as the axis writes them (blank where left off, long ones on two lines, "\\n")."""

    labels: tuple[str, ...]
    rotation: int
    stride: int = 1
    texts: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.texts:
            object.__setattr__(self, "texts", tuple("" if i % self.stride else label
                                                    for i, label in enumerate(self.labels)))

    @property
    def lines(self) -> int:
        return max(text.count("\n") + 1 for text in self.texts)

    @property
    def unlabelled(self) -> list[str]:
        """The labels the axis leaves off (Rendered.unlabelled)."""
        return [label for i, label in enumerate(self.labels) if i % self.stride and label]


# Japanese breaks after these (the ideographic space: after a 図表番号) or before a full-width bracket, or between any
# two characters but before small kana and marks; English at the most even space
BREAK_AFTER = "・、)）/\u3000"
BREAK_BEFORE = "（"
NO_BREAK_BEFORE = "ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶー・、。)）]」』%％"


def wrap(label: str) -> str:
    """`label` on two lines, broken where its longer line is shortest: at a space (English), else between two
    Japanese characters (after ・ or 、 or before （ where there is one, never before small kana or closing marks);
    as it is if it has no such place."""
    if " " in label:
        words = label.split(" ")
        splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    elif not any(c.isdigit() for c in label):  # between two Japanese characters, two at least on each line (a
        # label with digits is a date or a code: kept whole, 2018年度 and FY2018 alike)
        splits = [(label[:i], label[i:]) for i in range(2, len(label) - 1)
                  if label[i] not in NO_BREAK_BEFORE and not (label[i - 1].isascii() or label[i].isascii())]
    else:
        splits = [(label[:i + 1], label[i + 1:]) for i, c in enumerate(label[:-1])
                  if c in BREAK_AFTER or label[i + 1] in BREAK_BEFORE]
    if not splits:
        return label
    preferred = [(a, b) for a, b in splits if a[-1] in BREAK_AFTER or b[0] in BREAK_BEFORE] or splits
    a, b = min(preferred, key=lambda parts: max(len(parts[0]), len(parts[1])))
    return f"{a}\n{b}"


def two_lines_if_longer(text: str, length_px: float, family: str, size_px: float) -> str:
    """`text` on two lines when one is longer than `length_px`: an axis title longer than its axis (a long English
    metric with its unit beside a short plot ran past the plot into the chart's title), a chart title wider than
    the plot it is centred over (it ran off the image)."""
    return wrap(text) if text and text_width(text, family, size_px) > length_px else text


SLICE_NAME_WIDTH = 0.2  # of the image: a longer slice name, set beside the rim of a small slice, ran off the image


def slice_name(name: str, family: str, size_px: float, width_px: int) -> str:
    """A pie's slice name as written: on two lines when wider than SLICE_NAME_WIDTH of the image."""
    return two_lines_if_longer(name, width_px * SLICE_NAME_WIDTH, family, size_px)


def _wrapped_within(labels: tuple[str, ...], slot_px: float, family: str, size_px: float) -> tuple[str, ...] | None:
    """Each label as written in `slot_px`: on one line where it fits, else on two; None if one fits neither way."""
    def fits(text: str) -> bool:
        return max(text_width(line, family, size_px) for line in text.split("\n")) + LABEL_GAP_PX <= slot_px

    written = tuple(label if fits(label) else wrap(label) for label in labels)
    return written if all(fits(text) for text in written) else None


def fit_labels(labels: list[str], slot_px: float, family: str, size_px: float, wanted: int) -> LabelFit:
    """How category labels are written: the style's rotation, or the next steeper one at which neighbours do not
    touch — level labels need their width inside a category's slot (long ones may wrap onto two lines, as reports
    write them), slanted ones a line height across it (slot · sin θ); when not even upright labels fit (a long
    series), every stride-th is written, from the first."""
    labels = tuple(labels)
    for stride in STRIDES:
        rotation = _fitting_rotation(list(labels[::stride]), slot_px * stride, family, size_px, wanted)
        wrapped = _wrapped_within(labels, slot_px, family, size_px) if wanted == 0 and stride == 1 and rotation != 0 \
            else None
        if wrapped:
            return LabelFit(labels, 0, 1, wrapped)
        if rotation is not None:
            return LabelFit(labels, rotation, stride)
    return LabelFit(labels, 90, STRIDES[-1])


Box = tuple[float, float, float, float]
CORNERS = ((1, -1), (-1, -1), (1, 1), (-1, 1))  # (x side, y side) in image pixels: right-up, left-up, right-down, …


def _overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def place_point_labels(points: list[tuple[float, float]], labels: list[str], family: str, size_px: float,
                       bounds: Box, offset_px: float = 5.0, radii: list[float] | None = None) -> list[tuple[int, int]]:
    """For each point (in image pixels; bubbles of `radii`) the corner its name goes to, beside its mark, so that
    names clear each other, every mark and the plot's edges where they can (greedy, inward side first); the drawing
    is measured afterwards anyway."""
    ascent, descent = pil_font(family, size_px).getmetrics()
    height = ascent + descent
    radii = radii or [4.0] * len(points)
    dots = [(x - r, y - r, x + r, y + r) for (x, y), r in zip(points, radii)]
    placed: list[Box] = []
    sides = []
    middle = (bounds[0] + bounds[2]) / 2
    for (x, y), label, r in zip(points, labels, radii):
        width = text_width(label, family, size_px)
        reach = offset_px + r - 4.0  # from the point's centre to its name: past the mark's edge
        inward = CORNERS if x <= middle else (CORNERS[1], CORNERS[0], CORNERS[3], CORNERS[2])

        def box(side: tuple[int, int]) -> Box:
            sx, sy = side
            x0 = x + reach if sx > 0 else x - reach - width
            y0 = y - reach - height if sy < 0 else y + reach
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
