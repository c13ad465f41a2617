"""Table renderer: a grid drawn from patches, with merged header cells (結合セル) above the column headers, the unit
line above and 出典/注 below (renderers.furniture)."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from renderers import furniture
from renderers.fonts import text_width
from renderers.mpl import draw_figure, pixel_box, text_elements
from renderers.numbers import format_number
from schemas.chart import ChartSpec
from schemas.render import Element, Rendered
from schemas.style import StyleSpec

STRIPE = "#f2f2f2"


def render_table(spec: ChartSpec, style: StyleSpec, lang: str) -> Rendered:
    table = spec.data
    header_rows = 2 if spec.header_groups else 1
    n_rows = header_rows + len(table.index)
    first_width = 1.6  # the label column is wider than a number column
    unit_width = 1.0 / (first_width + len(table.columns))
    xs = [0.0, first_width * unit_width] + [(first_width + j + 1) * unit_width for j in range(len(table.columns))]
    row_h = 1.0 / n_rows
    header_color = style.palette[0].hex

    def paint(fig: Figure) -> tuple[list[Element], dict[str, float]]:
        titled = style.title_loc != "none"
        notes = furniture.below(spec, style, lang)  # 出典, 注: one line each under the table
        line = style.font_size * furniture.SIZE * furniture.TABLE_LINE * style.dpi / 72 / style.height_px
        bottom = 0.03 + line * len(notes)
        title, above = furniture.title(spec, style, lang) if titled else "", furniture.above(spec, style, lang)
        px = style.dpi / 72
        left = style.title_loc == "left"
        title_px = text_width(title, style.font_family, style.font_size * furniture.TITLE_EM * px) if titled else 0.0
        title_end = (0.03 * style.width_px + title_px) if left else (style.width_px + title_px) / 2
        unit_start = 0.97 * style.width_px - max((text_width(text, style.font_family, style.font_size * furniture.SIZE
                                                             * px) for text in above), default=0.0)
        # the unit line beside the title, or on a row of its own under it when the two would meet
        own_row = titled and above and title_end + 12 > unit_start
        row = style.font_size * furniture.TITLE_EM * 1.5 * px / style.height_px if own_row else 0.0
        ax = fig.add_axes((0.03, bottom, 0.94, (0.87 - row if titled else 0.955) - bottom))
        ax.set_axis_off()
        if titled:
            fig.text(0.03 if left else 0.5, 0.93, title, fontsize=style.font_size * furniture.TITLE_EM,
                     ha="left" if left else "center", va="center")
        for text in above:  # a table shows its unit once, as Japanese reports do
            fig.text(0.97, (0.93 - row if titled else 0.985), text, fontsize=style.font_size * furniture.SIZE,
                     ha="right", va="center")
        for i, text in enumerate(notes):
            fig.text(0.03, bottom - (i + 0.5) * line - 0.005, text, fontsize=style.font_size * furniture.SIZE,
                     ha="left", va="center")
        cells: list[tuple[Rectangle, str, str]] = []

        def cell(col0: int, col1: int, row: int, text: str, fill: str, header: bool) -> Rectangle:
            y = 1.0 - (row + 1) * row_h
            rect = Rectangle((xs[col0], y), xs[col1] - xs[col0], row_h, facecolor=fill, edgecolor="#808080",
                             linewidth=0.6, transform=ax.transAxes, clip_on=False)
            ax.add_patch(rect)
            align = "center" if header or col0 == 0 else "right"
            x = {"center": (xs[col0] + xs[col1]) / 2, "right": xs[col1] - 0.01}[align]
            if col0 == 0 and not header:
                x, align = xs[0] + 0.01, "left"
            ax.text(x, y + row_h / 2, text, ha=align, va="center", transform=ax.transAxes,
                    color="white" if header else "black", fontsize=style.font_size)
            return rect

        if spec.header_groups:
            cell(0, 1, 0, "", header_color, header=True)
            start = 1
            for group in spec.header_groups:
                cell(start, start + group.span, 0, group.label, header_color, header=True)
                start += group.span
        cell(0, 1, header_rows - 1, spec.x_title or "", header_color, header=True)
        for j, col in enumerate(table.columns):
            cell(j + 1, j + 2, header_rows - 1, col, header_color, header=True)
        for i, (label, values) in enumerate(zip(table.index, table.data)):
            fill = STRIPE if i % 2 else "white"
            cell(0, 1, header_rows + i, label, fill, header=False)
            for j, (col, value) in enumerate(zip(table.columns, values)):
                rect = cell(j + 1, j + 2, header_rows + i, format_number(value, spec.decimals_of(col), style, lang), fill, False)
                cells.append((rect, label, col))
        fig.canvas.draw()
        height = fig.canvas.get_width_height()[1]
        renderer = fig.canvas.get_renderer()
        marks = [Element(kind="cell", bbox=pixel_box(r.get_window_extent(renderer), height), row=row, col=col)
                 for r, row, col in cells]
        return marks + text_elements(fig, renderer, height), {}, []

    return draw_figure(style, paint)
