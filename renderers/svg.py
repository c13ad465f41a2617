"""Text boxes measured from a renderer's SVG: where each text was placed (its element's transforms, anchor and font
size, as the browser laid it out) and how wide it is (the font's own advance widths, via FreeType). So text checks
are real for renderers that lay out in a browser, and the SVG is rasterised to the PNG the row ships."""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET

from PIL import Image

from renderers.fonts import pil_font
from schemas.render import Element

SVG = "{http://www.w3.org/2000/svg}"
Matrix = tuple[float, float, float, float, float, float]  # SVG's (a, b, c, d, e, f)
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_FUNCTION = re.compile(r"(matrix|translate|scale|rotate)\s*\(([^)]*)\)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
LINE_HEIGHT_EM = 1.3  # plotly's multi-line text (tspan dy="1.3em")


def _times(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2, a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def parse_transform(text: str | None) -> Matrix:
    """An SVG transform attribute as one matrix (functions applied right to left, as SVG does)."""
    m = IDENTITY
    for name, args in _FUNCTION.findall(text or ""):
        v = [float(x) for x in _NUMBER.findall(args)]
        if name == "matrix":
            step = tuple(v)
        elif name == "translate":
            step = (1.0, 0.0, 0.0, 1.0, v[0], v[1] if len(v) > 1 else 0.0)
        elif name == "scale":
            step = (v[0], 0.0, 0.0, v[1] if len(v) > 1 else v[0], 0.0, 0.0)
        else:
            t = math.radians(v[0])
            cx, cy = (v[1], v[2]) if len(v) > 2 else (0.0, 0.0)
            step = _times(_times((1.0, 0.0, 0.0, 1.0, cx, cy), (math.cos(t), math.sin(t), -math.sin(t), math.cos(t), 0, 0)),
                          (1.0, 0.0, 0.0, 1.0, -cx, -cy))
        m = _times(m, step)
    return m


def _style(node: ET.Element) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in (node.get("style") or "").split(";") if ":" in item)
    return {k.strip(): v.strip() for k, v in pairs} | {k: v for k, v in node.attrib.items() if k != "style"}


def _em(value: str | None, size: float) -> float:
    if not value:
        return 0.0
    number = float(_NUMBER.match(value.strip()).group())
    return number * size if value.strip().endswith("em") else number


def _corners(matrix: Matrix, x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    a, b, c, d, e, f = matrix
    return [(a * x + c * y + e, b * x + d * y + f) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]


def text_elements(svg: str, family: str) -> list[Element]:
    """Each visible line of text in `svg` with its pixel box and drawn size (font size × the transform's scale)."""
    elements = []

    def walk(node: ET.Element, matrix: Matrix, hidden: bool) -> None:
        style = _style(node)
        hidden = hidden or style.get("display") == "none" or style.get("visibility") == "hidden" or \
            style.get("opacity", "1") in ("0", "0.0")
        matrix = _times(matrix, parse_transform(node.get("transform")))
        if node.tag == f"{SVG}text":
            if not hidden:
                elements.extend(_lines(node, matrix, style, family))
            return
        for child in node:
            walk(child, matrix, hidden)

    walk(ET.fromstring(svg), IDENTITY, False)
    return elements


def legend_box(svg: str) -> Element | None:
    """The legend's box as laid out, if one is drawn: plotly's `g.legend` and its background rect, or Vega's
    `g.role-legend` and its background path (M0,0h{w}v{h}…)."""
    def box(matrix: Matrix, x: float, y: float, w: float, h: float) -> Element:
        corners = _corners(matrix, x, y, x + w, y + h)
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        return Element(kind="legend", bbox=(min(xs), min(ys), max(xs), max(ys)))

    def walk(node: ET.Element, matrix: Matrix) -> Element | None:
        matrix = _times(matrix, parse_transform(node.get("transform")))
        classes = (node.get("class") or "").split()
        if node.tag == f"{SVG}g" and "legend" in classes:
            background = next((r for r in node if r.tag == f"{SVG}rect" and r.get("class") == "bg"), None)
            if background is None:
                return None
            return box(matrix, float(background.get("x", 0)), float(background.get("y", 0)),
                       float(background.get("width")), float(background.get("height")))
        if node.tag == f"{SVG}g" and "role-legend" in classes:
            placed = next((g for g in node if g.tag == f"{SVG}g"), None)
            background = None if placed is None else next(
                (p for p in placed if p.tag == f"{SVG}path" and p.get("class") == "background"), None)
            if background is None:
                return None
            w, h = (float(v) for v in re.findall(r"[hv](-?[\d.]+)", background.get("d"))[:2])
            return box(_times(matrix, parse_transform(placed.get("transform"))), 0.0, 0.0, w, h)
        return next((found for child in node if (found := walk(child, matrix)) is not None), None)

    return walk(ET.fromstring(svg), IDENTITY)


def _lines(node: ET.Element, matrix: Matrix, style: dict[str, str], family: str) -> list[Element]:
    size = float(_NUMBER.match(style.get("font-size", "12")).group())
    anchor = style.get("text-anchor", "start")
    x, y = float(node.get("x", 0)), float(node.get("y", 0)) + _em(node.get("dy"), size)
    spans = [t for t in node if t.tag == f"{SVG}tspan"]
    lines, offset = [], 0.0
    for span in spans or [node]:
        if span is not node:  # a line placed at its own y (plotly's lines restart there), else below the last
            restart = span.get("y")
            offset = (float(restart) - y if restart is not None else offset) + _em(span.get("dy"), size)
        content = "".join(span.itertext()) if span is not node else (node.text or "")
        if content.strip():
            lines.append((content, offset))
    font = pil_font(family, size)
    ascent, descent = font.getmetrics()
    scale = math.sqrt(abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]))
    rotated = abs(matrix[1]) > 1e-6 or abs(matrix[2]) > 1e-6
    out = []
    for content, dy in lines:
        width = font.getlength(content)
        left = x - {"start": 0.0, "middle": width / 2, "end": width}.get(anchor, 0.0)
        corners = _corners(matrix, left, y + dy - ascent, left + width, y + dy + descent)
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        out.append(Element(kind="text", bbox=(min(xs), min(ys), max(xs), max(ys)), text=content,
                           size_px=round(size * scale, 2), quad=corners if rotated else None))
    return out


def rasterise(svg: str) -> bytes:
    """The SVG as an RGB PNG without metadata (resvg through vl-convert: deterministic, no browser)."""
    import vl_convert

    drawn = Image.open(io.BytesIO(vl_convert.svg_to_png(svg, scale=1))).convert("RGBA")
    image = Image.alpha_composite(Image.new("RGBA", drawn.size, "white"), drawn).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()
