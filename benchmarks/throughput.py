"""Images/s per renderer and chart family at 1 and 2 workers, and template end-to-end samples/s to Parquet.

Writes benchmarks/results/throughput.json and .md (the README table is copied from the .md); with --renderers, only
those renderers, into throughput-<names>.json and .md.
Run: .venv/bin/python benchmarks/throughput.py [--quick] [--renderers table great_tables]
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import get_args

import report
from pipeline.run import generate
from pipeline.template import draft_sample
from renderers import render
from renderers.charts import family
from schemas import ChartType, RunConfig
from schemas.sample import ChartRenderer, RendererName

RENDERERS = get_args(RendererName)
CHART_RENDERERS = get_args(ChartRenderer)


def specs_by_family(per_family: int) -> dict[ChartType, list]:
    """Real generated samples, grouped by chart type, so the benchmark draws what the pipeline draws."""
    found: dict[ChartType, list] = {t: [] for t in ChartType}
    config = RunConfig(n=1, seed=123, lang="ja")
    index = 0
    while any(len(v) < per_family for v in found.values()):
        sample = draft_sample(config, index)
        index += 1
        if len(found[sample.spec.chart_type]) < per_family:
            found[sample.spec.chart_type].append((sample.spec, sample.style))
    return found


def _render_all(job) -> int:
    items, renderer = job
    for spec, style in items:
        render(spec, style, renderer, "ja")
    return len(items)


def images_per_second(items: list, renderer: str, workers: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        list(pool.map(_render_all, [(items[:1], renderer)] * workers))  # warm-up: imports, fonts, Chromium
        chunks = [(items[i::workers], renderer) for i in range(workers)]
        started = time.perf_counter()
        done = sum(pool.map(_render_all, chunks))
        return done / (time.perf_counter() - started)


def end_to_end(n: int, workers: int, renderer: str) -> float:
    out = Path(tempfile.mkdtemp(prefix="chartsynth-bench-"))
    try:
        _, stats = generate(RunConfig(n=n, seed=1, lang="mix", renderer=renderer, shard_size=n), out, workers)
        return stats.samples_per_second
    finally:
        shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer images, for a smoke run")
    parser.add_argument("--renderers", nargs="+", choices=RENDERERS, default=list(RENDERERS))
    args = parser.parse_args()
    per_family = 8 if args.quick else 16
    families = specs_by_family(per_family)
    rows = []
    for renderer in args.renderers:
        for kind, items in families.items():
            if (kind is ChartType.TABLE) != (renderer in family(ChartType.TABLE).draw):
                continue
            items = items if renderer != "plotly" else items[: per_family // 2]
            one, two = images_per_second(items, renderer, 1), images_per_second(items, renderer, 2)
            rows.append({"renderer": renderer, "chart_type": kind.value, "images_per_s_1w": round(one, 1),
                         "images_per_s_2w": round(two, 1), "parallel_efficiency": round(two / (2 * one), 2)})
            print(rows[-1], flush=True)
    n = 120 if args.quick else 400
    e2e = []
    for renderer in [r for r in args.renderers if r in CHART_RENDERERS]:
        size = n // 4 if renderer == "plotly" else n
        one, two = end_to_end(size, 1, renderer), end_to_end(size, 2, renderer)
        e2e.append({"renderer": renderer, "samples": size, "samples_per_s_1w": round(one, 1),
                    "samples_per_s_2w": round(two, 1), "parallel_efficiency": round(two / (2 * one), 2)})
        print(e2e[-1], flush=True)
    result = {"machine": {"cpus": multiprocessing.cpu_count(), "python": platform.python_version()},
              "quick": args.quick, "render": rows, "end_to_end": e2e}
    per_worker = ["images/s 1 worker", "images/s 2 workers", "efficiency"]
    lines = report.table(["renderer", "chart type", *per_worker], [
        [r["renderer"], r["chart_type"], r["images_per_s_1w"], r["images_per_s_2w"], f"{r['parallel_efficiency']:.0%}"]
        for r in rows])
    lines += [] if not e2e else [""] + report.table(["end to end (template → Parquet)", "samples", *per_worker], [
        [r["renderer"], r["samples"], r["samples_per_s_1w"], r["samples_per_s_2w"], f"{r['parallel_efficiency']:.0%}"]
        for r in e2e])
    subset = args.renderers != list(RENDERERS)
    report.write("throughput" + ("-" + "-".join(args.renderers) if subset else ""), result, lines)


if __name__ == "__main__":
    main()
