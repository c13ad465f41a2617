"""Run this first on a new GPU machine: a small model of real shape (Qwen2-VL tower + a Qwen2-0.5B-shaped LLM, or
`--size tiny`) goes through every model path on this hardware — stage-2 training (bf16 autocast, activation
checkpointing; FSDP2 when launched by torchrun on several GPUs), QSLAW adaptation (FSDP too) and QLoRA (DDP), eval
of a checkpoint —
and each step prints PASS or FAIL with its time and peak memory. It runs on CPU too (the tests run it tiny).

    python benchmarks/gpu_smoke.py --dataset out/demo
    torchrun --nproc_per_node 8 benchmarks/gpu_smoke.py --dataset out/demo    # sharded / data-parallel on 8 GPUs

Without --dataset it generates 48 template samples first. Exit status 1 if any step failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.adapt import AdaptConfig, adapt, peak_memory_bytes  # noqa: E402
from model.build import ModelConfig  # noqa: E402
from model.evaluate import evaluate  # noqa: E402
from model.quant import QuantConfig  # noqa: E402
from model.recipe import barrier, distributed, rank_device  # noqa: E402
from model.train import TrainConfig, train  # noqa: E402

SIZES = {  # "small": Qwen2-0.5B's LLM shape cut to 4 layers, a 4-block Qwen2-VL tower
    "small": {"vision_tower": "qwen2_vl", "max_pixels": 448 * 448,
              "vision": {"hidden_size": 640, "layers": 4, "heads": 10},
              "text": {"hidden_size": 896, "layers": 4, "heads": 14, "kv_heads": 2}},
    "tiny": {"vision_tower": "qwen2_vl", "max_pixels": 56 * 56 * 4},
}


def step(name: str, device: torch.device, results: list[bool], work) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    try:
        detail = work()
        ok = True
    except Exception as error:  # every step reports, whatever it raised
        detail, ok = f"{type(error).__name__}: {error}", False
        traceback.print_exc()
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name:<24} {time.perf_counter() - started:7.1f} s  "
          f"peak {peak_memory_bytes(device) / 2**20:9.0f} MiB  {detail or ''}", flush=True)
    if not ok and distributed()[1] > 1:  # the other ranks wait in this step's collectives until they time out (4 h):
        sys.stderr.flush()                # end this one, and torchrun stops them
        os._exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, help="a generated dataset directory (default: generate 48 samples)")
    parser.add_argument("--out", type=Path, default=Path("runs/smoke"))
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    rank, world = distributed()
    device = rank_device()
    print(f"rank {rank}/{world} on {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda"
                                                else ""), flush=True)
    dataset = args.dataset
    if dataset is None:
        dataset = args.out / "data"
        if rank == 0 and not (dataset / "manifest.json").exists():
            from pipeline.run import generate
            from schemas import RunConfig

            generate(RunConfig(n=48, seed=0, lang="mix", shard_size=16), dataset)
        barrier()
    data = [str(dataset / "data" / "*.parquet")]
    model = ModelConfig.model_validate(SIZES[args.size])
    common = {"data": data, "model": model, "steps": args.steps, "batch_size": 2, "heldout_percent": 20,
              "checkpoint_every": args.steps, "activation_checkpointing": True}
    results: list[bool] = []
    stage2 = args.out / "stage2"
    final = str(stage2 / "final")

    def training() -> str:
        cfg = TrainConfig(out=str(stage2), stage="2", sharding="fsdp" if world > 1 else "ddp", **common)
        return f"losses {[round(x, 3) for x in train(cfg).losses]}"

    def adapting(method: str, sharding: str) -> str:
        cfg = AdaptConfig(out=str(args.out / method), method=method, init_from=final, warmup_steps=1, eval_limit=2,
                          max_new_tokens=4, quant=QuantConfig(bits=4, group_size=32), sharding=sharding,
                          **{k: v for k, v in common.items() if k != "model"})
        report = adapt(cfg)
        return f"{report.eval.n} questions scored" if report.eval else f"losses {[round(x, 3) for x in report.losses]}"

    def evaluating() -> str:
        summary = evaluate(data, str(args.out / "eval"), checkpoint=final, heldout_percent=20, limit=2,
                           max_new_tokens=4)
        return f"{summary.questions} questions"

    step("train (stage 2" + (", FSDP)" if world > 1 else ")"), device, results, training)
    for method, sharding in (("qslaw", "fsdp"), ("qlora", "ddp")):  # fsdp only applies with several processes
        shown = f", {sharding.upper()}" if world > 1 else ""
        step(f"adapt ({method}{shown})", device, results, lambda m=method, s=sharding: adapting(m, s))
    if rank == 0:  # eval runs in one process
        step("eval (checkpoint)", device, results, evaluating)
    barrier()
    if world > 1:
        torch.distributed.destroy_process_group()
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
