"""Seeded style variation: the same generator state gives the same StyleSpec."""

from __future__ import annotations

import numpy as np

import prompts
from renderers.charts import family
from renderers.palettes import PALETTES
from schemas.chart import ChartType
from schemas.style import NumberFormat, PeriodFormat, StyleSpec

SIZES = [(640, 480), (800, 500), (720, 540), (960, 540), (600, 600), (800, 600)]
DPIS = [72, 100, 100, 120]


def pick(rng: np.random.Generator, options: list):
    """One of `options`, drawn from `rng`."""
    return options[int(rng.integers(len(options)))]


def sample_period_format(rng: np.random.Generator, lang: str) -> PeriodFormat:
    """How yearly labels are written. Never year/month: a year is not "2013/1" (monthly and quarterly data say
    YEAR_MONTH and QUARTER themselves)."""
    if lang == "ja":
        return pick(rng, [f for f in PeriodFormat if f not in (PeriodFormat.YEAR_MONTH, PeriodFormat.QUARTER)])
    return pick(rng, [PeriodFormat.FY, PeriodFormat.YEAR])


MINUS_STYLES = {"ja": ["-", "−", "△", "▲"], "en": ["-", "−"]}  # △/▲: Japanese reports' minus (▲5.2 = −5.2)


def sample_style(
    rng: np.random.Generator, lang: str, chart_type: ChartType, n_colors: int, period_format: PeriodFormat,
    bare_units: bool = False,
) -> StyleSpec:
    """`bare_units`: every unit is unscaled (人, t, 円), so Japanese 万/億 number formatting may be chosen."""
    round_chart = family(chart_type).round or family(chart_type).radial  # drawn in a square
    width, height = pick(rng, SIZES[4:5] if round_chart else SIZES)
    dpi = pick(rng, DPIS)
    palettes = [name for name, colors in PALETTES.items() if len(colors) >= n_colors]
    palette_name = pick(rng, palettes)
    legend = "none" if not family(chart_type).keyed else \
        pick(rng, ["right", "top", "bottom", "upper left"])
    title_loc = pick(rng, ["left", "center", "center", "none"])
    return StyleSpec(
        width_px=width,
        height_px=height,
        dpi=dpi,
        font_size=float(pick(rng, [9, 10, 11, 12, 13])) * 100 / dpi,
        font_family="IPAexGothic" if lang == "ja" else pick(rng, ["IPAexGothic", "DejaVu Sans"]),
        palette_name=palette_name,
        palette=PALETTES[palette_name],
        legend=legend,
        grid=bool(rng.random() < 0.6),
        value_labels=bool(rng.random() < 0.5),
        label_rotation=pick(rng, [0, 0, 30, 45, 90]),
        number_format=pick(rng, list(NumberFormat) if lang == "ja" and bare_units else
                            [NumberFormat.PLAIN, NumberFormat.THOUSANDS]),
        full_width_digits=bool(lang == "ja" and rng.random() < 0.2),
        period_format=period_format,
        title_loc=title_loc,
        markers=bool(rng.random() < 0.7),
        bar_width=float(pick(rng, [0.5, 0.6, 0.7, 0.8])),
        **sample_furniture(rng, lang, title_loc != "none", legend, table=family(chart_type).tabular),
        minus=pick(rng, MINUS_STYLES[lang]),
        mixed_scale=bool(lang == "ja" and rng.random() < 0.5),
    )


def sample_furniture(rng: np.random.Generator, lang: str, titled: bool, legend: str, table: bool) -> dict:
    """図表番号 (with a title), unit line, source and note, subtitle (with a title), callout, vertical axis title
    (ja), each on or off: about as often as in white papers and IR decks. The texts come from
    prompts/template_text.json. A legend outside at the bottom leaves no room for source and note (matplotlib puts
    outside legends at the figure's very edge). A table always states its unit and has no subtitle, callout or axis."""
    phrasing = prompts.load("template_text")["furniture"]
    numbers = [int(n) for n in rng.integers(1, 10, size=3)]
    figure = pick(rng, phrasing["figure_number"][lang]).format(a=numbers[0], b=numbers[1], c=numbers[2])
    unit_line, source, note = rng.random() < 0.5, rng.random() < 0.6, rng.random() < 0.3
    source_text, note_text = pick(rng, phrasing["source"][lang]), pick(rng, phrasing["note"][lang])
    subtitle, callout, vertical = rng.random() < 0.35, rng.random() < 0.5, lang == "ja" and rng.random() < 0.35
    subtitle_text, callout_text = pick(rng, phrasing["subtitle"][lang]), pick(rng, phrasing["callout"][lang])
    if table:
        unit_line, subtitle, callout, vertical = True, False, False, False
    return {"figure_number": figure if titled and rng.random() < 0.4 else None,
            "unit_line": bool(unit_line),
            "source": source_text if source and legend != "bottom" else None,
            "note": note_text if note and legend != "bottom" else None,
            "subtitle": subtitle_text if subtitle and titled else None,
            "callout": callout_text if callout else None,
            "vertical_title": bool(vertical)}
