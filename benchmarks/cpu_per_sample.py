"""CPU-seconds per finished sample, per renderer and for the mix: this process's CPU plus its children's (the
browsers plotly and great_tables lay out in). Unlike samples/s it does not move with the load of a shared machine,
and it bounds what any number of workers can reach: cores / CPU-seconds per sample.

Writes benchmarks/results/cpu_per_sample.json and .md.
Run: .venv/bin/python benchmarks/cpu_per_sample.py [--n 60]
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

import psutil

import report
from pipeline.sample import finish_sample
from pipeline.template import draft_sample
from schemas import RunConfig

RENDERERS = ("matplotlib", "vegalite", "plotly", "mix")
WARM_UP = 3  # first samples load fonts, start the browser or compile vl-convert's runtime
CORES = os.cpu_count() or 1


def _cpu(process: psutil.Process) -> dict[str, float]:
    """CPU-seconds so far of this process and of each child, by the child's role (a Chromium's --type=)."""
    used = {"python": sum(process.cpu_times()[:2])}
    for child in process.children(recursive=True):
        try:
            role = next((a[7:] for a in child.cmdline() if a.startswith("--type=")), "browser" if "chrom" in
                        child.name() else child.name())
            used[role] = used.get(role, 0.0) + sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return used


def measure(renderer: str, n: int) -> dict:
    config = RunConfig(n=n + WARM_UP, seed=123, lang="mix", renderer=renderer)
    for index in range(WARM_UP):
        finish_sample(draft_sample(config, index))
    process = psutil.Process()
    before = _cpu(process)  # children alive now (a browser) stay alive: their CPU is counted from here
    drawn: Counter = Counter()
    for index in range(WARM_UP, WARM_UP + n):
        sample = draft_sample(config, index)
        drawn[sample.renderer] += 1
        finish_sample(sample)
    after = _cpu(process)
    parts = {role: (after[role] - before.get(role, 0.0)) / n for role in after}
    total = sum(parts.values())
    return {"renderer": renderer, "samples": n, "cpu_s_per_sample": round(total, 4),
            "parts_ms": {k: round(v * 1000, 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v > 5e-4},
            "drawn_by": dict(drawn), "ceiling_samples_per_s": round(CORES / total, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="samples per renderer after the warm-up")
    args = parser.parse_args()
    results = [measure(renderer, args.n) for renderer in RENDERERS]
    lines = [f"{args.n} template samples per row (seed 123, ja and en mixed), drawn, checked, described and verified "
             f"in one process; CPU of the process and its browsers. Ceiling = {CORES} cores / CPU-seconds per sample "
             "(drafting included, Parquet writing not).", "",
             *report.table(["renderer", "CPU ms / sample", "where (ms)", "ceiling samples/s"],
                          [[r["renderer"], round(r["cpu_s_per_sample"] * 1000), ", ".join(
                              f"{k} {v}" for k, v in r["parts_ms"].items()), r["ceiling_samples_per_s"]]
                           for r in results])]
    report.write("cpu_per_sample", {"cores": CORES, "results": results}, lines)


if __name__ == "__main__":
    main()
