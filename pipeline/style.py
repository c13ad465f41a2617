"""Seeded style variation: the same generator state gives the same StyleSpec."""

from __future__ import annotations

import numpy as np

from renderers.charts import family
from renderers.palettes import PALETTES
from schemas.chart import ChartType
from schemas.style import NumberFormat, PeriodFormat, StyleSpec

SIZES = [(640, 480), (800, 500), (720, 540), (960, 540), (600, 600), (800, 600)]
DPIS = [72, 100, 100, 120]


def _pick(rng: np.random.Generator, options: list):
    return options[int(rng.integers(len(options)))]


def sample_period_format(rng: np.random.Generator, lang: str) -> PeriodFormat:
    if lang == "ja":
        return _pick(rng, list(PeriodFormat))
    return _pick(rng, [PeriodFormat.FY, PeriodFormat.YEAR, PeriodFormat.YEAR_MONTH])


def sample_style(
    rng: np.random.Generator, lang: str, chart_type: ChartType, n_colors: int, period_format: PeriodFormat,
    bare_units: bool = False,
) -> StyleSpec:
    """`bare_units`: every unit is unscaled (人, t, 円), so Japanese 万/億 number formatting may be chosen."""
    round_chart = family(chart_type).round
    width, height = _pick(rng, SIZES[4:5] if round_chart else SIZES)
    dpi = _pick(rng, DPIS)
    palettes = [name for name, colors in PALETTES.items() if len(colors) >= n_colors]
    palette_name = _pick(rng, palettes)
    legend = "none" if round_chart else _pick(rng, ["right", "top", "bottom", "upper left"])
    return StyleSpec(
        width_px=width,
        height_px=height,
        dpi=dpi,
        font_size=float(_pick(rng, [9, 10, 11, 12, 13])) * 100 / dpi,
        font_family="IPAexGothic" if lang == "ja" else _pick(rng, ["IPAexGothic", "DejaVu Sans"]),
        palette_name=palette_name,
        palette=PALETTES[palette_name],
        legend=legend,
        grid=bool(rng.random() < 0.6),
        value_labels=bool(rng.random() < 0.5),
        label_rotation=_pick(rng, [0, 0, 30, 45, 90]),
        number_format=_pick(rng, list(NumberFormat) if lang == "ja" and bare_units else
                            [NumberFormat.PLAIN, NumberFormat.THOUSANDS]),
        full_width_digits=bool(lang == "ja" and rng.random() < 0.2),
        period_format=period_format,
        title_loc=_pick(rng, ["left", "center", "center", "none"]),
        markers=bool(rng.random() < 0.7),
        bar_width=float(_pick(rng, [0.5, 0.6, 0.7, 0.8])),
    )
