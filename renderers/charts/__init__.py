"""The chart-family registry: one module per family in this folder, each declaring one `ChartFamily` named FAMILY —
what the family is (round or on axes, colours it needs, the data it fits, its data-shape rules) and how each renderer
draws it. Everything that asks "what kind of chart is this?" asks here; this registry is the only list of families.

A new family: a module here + its value in schemas.chart.ChartType + its phrasings + a test.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from renderers.charts.family import ChartFamily
from schemas.chart import ChartType

__all__ = ["ChartFamily", "families", "family"]


@cache
def families() -> dict[ChartType, ChartFamily]:
    """Every family, in ChartType order (the template generator draws from this order)."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name != "family":
            declared: ChartFamily = importlib.import_module(f"{__name__}.{module.name}").FAMILY
            found[declared.chart_type] = declared
    missing = [t.value for t in ChartType if t not in found]
    if missing:
        raise RuntimeError(f"chart types {missing} have no family module in renderers/charts/")
    return {t: found[t] for t in ChartType}


def family(chart_type: ChartType | str) -> ChartFamily:
    return families()[ChartType(chart_type)]
