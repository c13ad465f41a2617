"""QSLAW (the paper's formula) vs its packed variant vs QLoRA vs full precision on one tiny-but-not-trivial LMM on CPU: trainable
parameters, LLM weight bytes, peak RSS, step time and held-out score after the same number of steps, all adapting
the same base (a Qwen2-VL-tower LMM first trained for a few hundred steps on the shards). Each method runs in its own
process so peak RSS is its own. Writes benchmarks/results/adapt.{json,md}.
Run: .venv/bin/python benchmarks/adapt.py DATASET_DIR (e.g. out/demo after README command 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import report

MODEL = {"vision_tower": "qwen2_vl", "max_pixels": 56 * 56 * 16, "vision": {"hidden_size": 128, "layers": 2, "heads": 4},
         "text": {"hidden_size": 512, "layers": 4, "heads": 8, "kv_heads": 4}}
BASE_STEPS, ADAPT_STEPS, BATCH = 300, 100, 4
METHODS = {"qslaw": ("qslaw", "faithful"), "qslaw-packed": ("qslaw", "packed"), "qlora": ("qlora", None),
           "full": ("full", None)}


def run(args: list[str]) -> None:
    subprocess.run([sys.executable, *args], check=True, cwd=Path(__file__).resolve().parents[1])


def main() -> None:
    if len(sys.argv) == 3:  # child: one adaptation run, config as JSON
        from model.adapt import AdaptConfig, adapt

        adapt(AdaptConfig.model_validate_json(sys.argv[2]))
        return
    dataset, work = Path(sys.argv[1]).resolve(), Path("runs/bench-adapt").resolve()
    data = [str(dataset / "data" / "*.parquet")]
    base = work / "base"
    if not (base / "final").exists():
        from model.train import TrainConfig, train

        train(TrainConfig(data=data, out=str(base), stage="2", steps=BASE_STEPS, batch_size=BATCH, lr=2e-3,
                          heldout_percent=10, vocab_size=2000, model=MODEL, checkpoint_every=BASE_STEPS))
    from model.evaluate import evaluate

    base_eval = evaluate(data, str(work / "base-eval"), checkpoint=str(base / "final"), heldout_percent=10, limit=100,
                         max_new_tokens=16).overall.model_dump()
    results = {}
    for name, (method, mode) in METHODS.items():
        cfg = {"method": method, "data": data, "out": str(work / name), "init_from": str(base / "final"),
               "steps": ADAPT_STEPS, "batch_size": BATCH, "warmup_steps": ADAPT_STEPS // 2, "heldout_percent": 10,
               "eval_limit": 100, "quant": {"bits": 4, "group_size": 128, "mode": mode or "faithful", "init": "rtn"},
               "lora_rank": 64}
        run([__file__, "child", json.dumps(cfg)])
        results[name] = json.loads((work / name / "report.json").read_text())
    rows = [[name, f"{r['trainable_parameters']:,}", f"{r['trainable_vs_lora_r128']:.1%}",
             f"{r['llm_weight_bytes'] / 2**20:.2f}", f"{r['peak_memory_bytes'] / 2**20:.0f}",
             f"{r['mean_step_seconds'] * 1000:.0f}", f"{last_losses(r, 'multimodal'):.3f}", f"{last_losses(r, 'text'):.3f}",
             f"{r['eval']['relaxed_accuracy']:.3f}", f"{r['eval']['containment']:.3f}"] for name, r in results.items()]
    rows.append([f"base ({BASE_STEPS} steps, not adapted)", "", "", "", "", "", "", "",
                 f"{base_eval['relaxed_accuracy']:.3f}", f"{base_eval['containment']:.3f}"])
    summary = {name: {k: v for k, v in r.items() if k not in ("losses", "batch_kinds")} for name, r in results.items()}
    report.write("adapt", {"model": MODEL, "base_steps": BASE_STEPS, "adapt_steps": ADAPT_STEPS, "batch_size": BATCH,
                           "base_eval": base_eval, "runs": summary}, report.table(
        ["method", "trainable params", "vs LoRA r=128 (+projector)", "LLM weights (MiB)", "peak RSS (MiB)",
         "ms/step", "chart QA loss (last 10)", "text loss (last 10)", "relaxed acc.", "containment"], rows))


def last_losses(run: dict, kind: str, n: int = 10) -> float:
    losses = [loss for loss, k in zip(run["losses"], run["batch_kinds"]) if k == kind][-n:]
    return sum(losses) / len(losses)


if __name__ == "__main__":
    main()
