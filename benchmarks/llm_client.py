"""Client overhead: throughput with 64 and 256 requests in flight against a local server that answers after a fixed
delay, vs the ideal (in_flight / delay), and the client's own CPU time per request (process time: stable on a shared
machine, unlike the ratio). The server runs in its own process (tests/fake_openai.py).

Writes benchmarks/results/llm_client.json and .md. Run: .venv/bin/python benchmarks/llm_client.py
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import report
from common.llm_client import LLMClient, ResponseCache

DELAYS_S = (0.5, 2.0)  # 2 s is closer to a real generation; 0.5 s shows where the client's CPU becomes the limit
ROUNDS = 4
SERVER = ("import sys, time; from tests.fake_openai import FakeServer; s = FakeServer(delay_s=float(sys.argv[1])).start();"
          " print(s.port, flush=True); time.sleep(3600)")


def qa_schema() -> dict:
    """A real request's schema: the QA step's for an 8-row, 3-column table (what strict mode and the cache key walk)."""
    from pipeline.qa import OPS
    from schemas.llm import qa_drafts_schema

    reply, _ = qa_drafts_schema({op: r.args for op, r in OPS.items() if r.by_llm}, [f"{2016 + i}年" for i in range(8)],
                                ["法人", "個人", "公金"], 4)
    return reply.model_json_schema()


async def measure(url: str, in_flight: int, delay_s: float, cache_dir: Path) -> dict:
    """As a run asks: the QA step's schema (strict), answers kept in the SQLite cache."""
    cache = ResponseCache(cache_dir / f"{in_flight}-{delay_s}")
    client = LLMClient([url], "fake", "json_schema", cache=cache, max_in_flight=in_flight, timeout_s=60)
    schema = qa_schema()

    async def one(i: int):
        await client.chat([{"role": "user", "content": f"request {i}"}], name="probe", schema=schema,
                          temperature=0, max_tokens=16, seed=i)

    await asyncio.gather(*(one(i) for i in range(in_flight)))  # warm-up: open the connections
    total = in_flight * ROUNDS
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(in_flight + i) for i in range(total)))  # not the warm-up's: no cache hits
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await client.close()
    cache.close()
    ideal = in_flight / delay_s
    measured = total / elapsed
    return {"in_flight": in_flight, "requests": total, "delay_s": delay_s, "requests_per_s": round(measured, 1),
            "ideal_per_s": round(ideal, 1), "overhead": round(1 - measured / ideal, 4),
            "client_cpu_ms_per_request": round(cpu / total * 1000, 3)}


def main() -> None:
    rows = []
    for delay in DELAYS_S:
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(delay)], stdout=subprocess.PIPE, text=True)
        try:
            url = f"http://127.0.0.1:{server.stdout.readline().strip()}/v1"
            with tempfile.TemporaryDirectory() as cache_dir:
                rows += [asyncio.run(measure(url, k, delay, Path(cache_dir))) for k in (64, 256)]
        finally:
            server.kill()
    for row in rows:
        print(row)
    report.write("llm_client", rows, report.table(
        ["in flight", "requests", "server delay", "requests/s", "ideal", "overhead", "client CPU ms / request"],
        [[r["in_flight"], r["requests"], f"{r['delay_s']} s", r["requests_per_s"], r["ideal_per_s"], f"{r['overhead']:.1%}",
          r["client_cpu_ms_per_request"]] for r in rows]))


if __name__ == "__main__":
    main()
