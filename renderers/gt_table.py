"""The second table style: a table built with great_tables (the Python port of R's gt), laid out as HTML by the
installed Chromium (renderers/browser.py). Japanese report conventions: 罫線 (horizontal rules only, or every cell
ruled when the style has a grid), 結合セル as column spanners, the （単位：…） line right-aligned above the table,
出典/注 as source notes below it. Numbers are printed by renderers.numbers (the verifier's formats), not by gt."""

from __future__ import annotations

import html
import io
import math
from functools import cache

from renderers import browser, furniture
from renderers.checks import render_checks
from renderers.colour import ink
from renderers.errors import SetupError
from renderers.fonts import missing_glyphs
from renderers.numbers import format_number
from schemas.chart import ChartSpec
from schemas.render import Element, Rendered
from schemas.style import StyleSpec

INSTALL_HINT = ("the great_tables table style needs great-tables (`pip install great-tables`) and a Chromium "
                "(`apt-get install chromium`, or set BROWSER_PATH)")
MARGIN_PX = 12
LINE = 1.25  # a text line's height, in its font sizes
WIDTH_PER_COLUMN = 20  # % of the page per data column (the label column takes two): narrow tables stay narrow
CELL_PAD_PX = (2.0, 14.0)  # vertical cell padding: at least the first, at most the second
RULE = "#404040"
STUB = "label"  # the data frame's column holding the row labels


@cache
def _great_tables():
    try:
        import great_tables
    except ImportError as error:
        raise SetupError(INSTALL_HINT) from error
    return great_tables


def _vertical_padding(style: StyleSpec, lines: int, font_px: float) -> float:
    """Padding that fits `lines` rows of cells (headers, body, notes) in the canvas, so a long table is tighter
    rather than cut off."""
    room = (style.height_px - 2 * MARGIN_PX) / lines - LINE * font_px
    return max(CELL_PAD_PX[0], min(CELL_PAD_PX[1], room / 2 - 1))


def table_html(spec: ChartSpec, style: StyleSpec, lang: str) -> str:
    """The page: gt's table (id fixed, so equal specs give equal pages) in a white body of the canvas's size."""
    import pandas as pd

    gt = _great_tables()
    data, font_px = spec.data, style.font_size * style.dpi / 72
    columns = [f"c{j}" for j in range(len(data.columns))]
    frame = pd.DataFrame({STUB: data.index, **{name: [format_number(v, spec.decimals_of(col), style, lang)
                                                       for v in data.column(col)]
                                                for name, col in zip(columns, data.columns)}})
    table = gt.GT(frame, rowname_col=STUB, id="chart").cols_label(**dict(zip(columns, data.columns)))
    table = table.cols_align("right", columns=columns).tab_stubhead(spec.x_title or "")
    start = 0
    for group in spec.header_groups:
        table = table.tab_spanner(label=group.label, columns=columns[start:start + group.span], id=f"g{start}")
        start += group.span
    heading = furniture.title(spec, style, lang) if style.title_loc != "none" else None
    unit = furniture.above(spec, style, lang)
    if heading:
        table = table.tab_header(title=heading, subtitle=unit[0] if unit else None)
    elif unit:
        table = table.tab_header(title=unit[0])
    notes = furniture.below(spec, style, lang)
    for line in notes:
        table = table.tab_source_note(line)
    rows = len(data.index) + 1 + bool(spec.header_groups) + (2 if heading and unit else 1 if heading or unit else 0)
    pad = _vertical_padding(style, rows + len(notes), font_px)
    header = style.palette[0].hex
    ruled = "solid" if style.grid else "none"
    table = table.tab_options(
        table_width=f"{min(100, WIDTH_PER_COLUMN * (len(columns) + 2))}%", table_margin_left="0",
        table_font_names=[style.font_family], table_font_size=f"{font_px:.1f}px",
        heading_title_font_size=f"{font_px * 1.2:.1f}px", heading_subtitle_font_size=f"{font_px * 0.9:.1f}px",
        heading_align="left" if style.title_loc == "left" else "center",
        source_notes_font_size=f"{font_px * 0.85:.1f}px", data_row_padding=f"{pad:.1f}px",
        column_labels_padding=f"{pad:.1f}px", heading_padding=f"{pad / 2:.1f}px",
        source_notes_padding=f"{pad / 2:.1f}px",
        column_labels_background_color=header, column_labels_font_weight="bold",
        table_border_top_color=RULE, table_border_bottom_color=RULE, column_labels_border_bottom_color=RULE,
        table_body_hlines_color="#c8c8c8", table_body_vlines_style=ruled, table_body_vlines_color="#c8c8c8",
        stub_border_style=ruled, row_striping_include_table_body=not style.grid, row_striping_include_stub=not style.grid,
    )
    # after gt's own rules, which set the heading's alignment for title and subtitle alike
    css = (f"body {{ margin: 0; background: white; width: {style.width_px}px; height: {style.height_px}px; "
           f"overflow: hidden; }} #page {{ padding: {MARGIN_PX}px; }} "
           f"#chart .gt_col_heading, #chart .gt_column_spanner, #chart .gt_col_headings th {{ color: {ink(header)}; }} "
           "#chart .gt_subtitle { text-align: right !important; }" + (
               "" if heading or not unit else
               f" #chart .gt_title {{ text-align: right !important; font-size: {font_px * 0.9:.1f}px !important; }}"))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(spec.title)}</title>"
            f"<style>{css}</style></head><body><div id='page'>{table.as_raw_html()}</div></body></html>")


def render_gt_table(spec: ChartSpec, style: StyleSpec, lang: str) -> Rendered:
    page = table_html(spec, style, lang)
    png, measured = browser.shoot(page, style.width_px, style.height_px, ["#chart tbody tr td", "#chart table"],
                                  INSTALL_HINT)
    texts = [Element(kind="text", bbox=tuple(box), text=text, size_px=size) for text, box, size in measured["texts"]]
    cells = iter(measured["picked"]["#chart tbody tr td"])
    marks = [Element(kind="cell", bbox=tuple(next(cells)), row=row, col=col)
             for row in spec.data.index for col in spec.data.columns]
    # the page cut to the table and its margin: a short, narrow table left most of the canvas blank (boxes are
    # measured from the top-left corner, which stays)
    right, bottom = measured["picked"]["#chart table"][0][2:]
    width = min(style.width_px, math.ceil(right) + MARGIN_PX)
    height = min(style.height_px, math.ceil(bottom) + MARGIN_PX)
    missing = len(missing_glyphs([t.text for t in texts], style.font_family))
    checks = render_checks(marks + texts, width, height, missing)
    return Rendered(png=_cropped(png, width, height), width=width, height=height, elements=marks + texts,
                    checks=checks, value_labels=False)


def _cropped(png: bytes, width: int, height: int) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    if image.size == (width, height):
        return png
    out = io.BytesIO()
    image.crop((0, 0, width, height)).save(out, format="PNG", compress_level=6)
    return out.getvalue()
