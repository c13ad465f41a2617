"""Colour as people see it: sRGB → CIELAB (D65) and CIEDE2000 (Sharma, Wu & Dalal 2005), so "is this the colour the
question names, is it what the image shows there, and can it be told from the others?" is answered in ΔE00 and from
the rendered pixels, not from RGB distance or from what we meant to draw."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from schemas.render import MARKS, Element

DISTINCT_DE00 = 20.0  # a named colour vs every other colour painted for data
PAINTED_DE00 = 10.0  # the pixel at a mark's centre vs the colour the mark is said to have

Lab = tuple[float, float, float]


def hex_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def ramp(low: str, high: str, t: float) -> str:
    """The colour a fraction `t` ∈ [0, 1] of the way from `low` to `high` (linear in sRGB, as plotly's colour scales
    and Vega's "rgb" interpolation blend): a heatmap cell's fill."""
    a, b = hex_rgb(low), hex_rgb(high)
    return "#%02x%02x%02x" % tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def ink(background: str) -> str:
    """Text colour that reads on `background`: white on dark fills, near-black on light ones."""
    r, g, b = hex_rgb(background)
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else "#222222"


def rgb_lab(rgb: tuple[float, float, float]) -> Lab:
    def linear(c: float) -> float:
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e00(lab1: Lab, lab2: Lab) -> float:
    """CIEDE2000 colour difference (kL = kC = kH = 1)."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dlp, dcp = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dhp = 0.0
    elif abs(h2p - h1p) <= 180:
        dhp = h2p - h1p
    else:
        dhp = h2p - h1p - 360 if h2p > h1p else h2p - h1p + 360
    dHp = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dhp / 2))
    lp_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hp_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hp_mean = (h1p + h2p) / 2
    else:
        hp_mean = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(hp_mean - 30)) + 0.24 * math.cos(math.radians(2 * hp_mean))
         + 0.32 * math.cos(math.radians(3 * hp_mean + 6)) - 0.20 * math.cos(math.radians(4 * hp_mean - 63)))
    d_theta = 30 * math.exp(-(((hp_mean - 275) / 25) ** 2))
    rc = 2 * math.sqrt(cp_mean**7 / (cp_mean**7 + 25**7))
    sl = 1 + 0.015 * (lp_mean - 50) ** 2 / math.sqrt(20 + (lp_mean - 50) ** 2)
    sc = 1 + 0.045 * cp_mean
    sh = 1 + 0.015 * cp_mean * t
    rt = -math.sin(math.radians(2 * d_theta)) * rc
    return math.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (dHp / sh) ** 2 + rt * (dcp / sc) * (dHp / sh))


def difference(color1: str | tuple[float, float, float], color2: str | tuple[float, float, float]) -> float:
    """ΔE00 between two colours given as #rrggbb or RGB triples."""
    rgb1 = hex_rgb(color1) if isinstance(color1, str) else color1
    rgb2 = hex_rgb(color2) if isinstance(color2, str) else color2
    return delta_e00(rgb_lab(rgb1), rgb_lab(rgb2))


def pixels(png: bytes) -> np.ndarray:
    """The image as an (height, width, 3) RGB array."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def painted_as(mark: Element, image: np.ndarray) -> bool:
    """The mark shows its colour where it stands: its centre pixel (a marker), or most of five pixels spread over
    a bar (a value label may sit on part of it), match within PAINTED_DE00."""
    if mark.bbox is None or mark.color is None:
        return False
    x0, y0, x1, y1 = mark.bbox
    cx, cy, dx, dy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 4, (y1 - y0) / 4
    spots = [(cx, cy)] if mark.kind == "point" else [(cx, cy), (cx - dx, cy), (cx + dx, cy), (cx, cy - dy), (cx, cy + dy)]
    height, width = image.shape[:2]
    seen = [image[round(y), round(x)] for x, y in spots if 0 <= round(x) < width and 0 <= round(y) < height]
    matching = sum(difference(tuple(int(c) for c in rgb), mark.color) <= PAINTED_DE00 for rgb in seen)
    return matching * 2 > len(spots)


def distinct(color: str, elements: list[Element]) -> bool:
    """`color` can be told from every other colour the chart paints its data in."""
    others = {e.color for e in elements if e.kind in MARKS and e.color and e.color != color}
    return all(difference(color, other) >= DISTINCT_DE00 for other in others)
