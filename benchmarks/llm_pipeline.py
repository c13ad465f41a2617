"""Does the LLM server idle between shards? A multi-shard LLM run against a local server that answers every request
after a fixed delay (tests/fake_openai.py, in this process), rendering on 2 worker processes. The server is idle
when no request is in flight; reported as a share of the run's LLM wall time (first request to last answer), with
the wall time of the whole run.

- sequential (before): each shard drafted, then rendered, then the next drafted (the runner before pipelining);
- pipelined, ahead 1 / ahead 2: the next shard (or two) drafted on a thread while a shard renders, all of them
  sharing the run's requests-in-flight budget (`LocalRunner`, default ahead 2).

Writes benchmarks/results/llm_pipeline.{json,md}. Run: PYTHONPATH=. .venv/bin/python benchmarks/llm_pipeline.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import report
from pipeline.run import GenerateJob, LocalRunner, run_job
from schemas import RunConfig
from tests.fake_openai import FakeServer

DELAYS_S = (0.5, 2.0)  # 2 s is closer to a real generation
N, SHARD, IN_FLIGHT, WORKERS = 128, 32, 16, 2


class SequentialRunner(LocalRunner):
    """The runner as it was: a shard's draft runs to its end in the caller before anything else happens."""

    ahead = 1

    def draft(self, job, shard, out):
        return self._done(job.draft, shard, out)


def idle_gaps(arrivals: list[float], delay_s: float) -> tuple[list[tuple[float, float]], float]:
    """The stretches (start offset, length in s) within [first arrival, last answer] with no request in flight, and
    that span in seconds."""
    spans = sorted((t, t + delay_s) for t in arrivals)
    start, end = spans[0][0], max(b for _, b in spans)
    gaps, reach = [], start
    for a, b in spans:
        if a > reach:
            gaps.append((round(reach - start, 2), round(a - reach, 3)))
        reach = max(reach, b)
    return gaps, end - start


def measure(name: str, runner: LocalRunner, delay_s: float) -> dict:
    server = FakeServer(delay_s=delay_s).start()
    config = RunConfig(n=N, seed=5, lang="mix", generator="llm", base_url=[server.url], model="fake",
                       llm_mode="json_schema", shard_size=SHARD, max_in_flight=IN_FLIGHT, renderer="matplotlib")
    try:
        with tempfile.TemporaryDirectory() as out, runner:
            started = time.perf_counter()
            _, summary = run_job(GenerateJob(config=config), Path(out), runner)
            wall = time.perf_counter() - started
    finally:
        server.stop()
    gaps, span = idle_gaps(server.times, delay_s)
    idle = sum(length for _, length in gaps) / span
    return {"gaps": gaps, "runner": name, "delay_s": delay_s, "samples": N, "shards": N // SHARD, "requests": server.requests, "wall_s": round(wall, 1),
            "llm_span_s": round(span, 1), "server_idle_share": round(idle, 4), "rows": summary.rows}


class OneAhead(LocalRunner):
    ahead = 1


def main() -> None:
    rows = [measure(name, runner(WORKERS), delay) for delay in DELAYS_S for name, runner in (
        ("sequential (before)", SequentialRunner), ("pipelined, ahead 1", OneAhead),
        ("pipelined, ahead 2 (default)", LocalRunner))]
    report.write("llm_pipeline", rows, [
        f"{N} LLM samples in shards of {SHARD}, {IN_FLIGHT} requests in flight, rendering on {WORKERS} processes; "
        "the server answers every request after a fixed delay.", ""] + report.table(
        ["runner", "server delay", "requests", "wall (s)", "LLM span (s)", "server idle", "longest idle stretch (s)"],
        [[r["runner"], f"{r['delay_s']} s", r["requests"], r["wall_s"], r["llm_span_s"], f"{r['server_idle_share']:.1%}",
          max((length for _, length in r["gaps"]), default=0)] for r in rows]))


if __name__ == "__main__":
    main()
