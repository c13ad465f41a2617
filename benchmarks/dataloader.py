"""Dataloader samples/s from shards (decode + image processor + chat collation) at 1 and 2 workers, next to the
samples/s one tiny training step consumes on this CPU. Writes benchmarks/results/dataloader.{json,md}.
Run: .venv/bin/python benchmarks/dataloader.py DATASET_DIR (e.g. out/demo after README command 1)."""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import torch

import report
from model.build import ImageInputs, ModelConfig, build_lmm, train_tokenizer
from model.data import ChatCollator, ShardStream
from model.recipe import collate_stage
from model.train import set_trainable

BATCH = 8


def loader_rate(files, collate, workers: int) -> float:
    stream = ShardStream(files, heldout_percent=0, columns=("id", "image", "conversations", "description", "lang"))
    loader = torch.utils.data.DataLoader(stream, batch_size=BATCH, collate_fn=collate, num_workers=workers,
                                         multiprocessing_context="spawn" if workers else None)
    iterator = iter(loader)
    next(iterator)  # start-up (worker spawn, imports) is not throughput
    started, samples = time.perf_counter(), 0
    for batch in iterator:
        samples += len(batch["ids"])
    return samples / (time.perf_counter() - started)


def main() -> None:
    files = sorted(str(p) for p in (Path(sys.argv[1]) / "data").glob("*.parquet"))
    rows = list(ShardStream(files, heldout_percent=0, columns=("id", "conversations")))
    tokenizer = train_tokenizer((t["value"] for r in rows for t in r["conversations"]), 512)
    model = build_lmm(ModelConfig(), tokenizer)
    collate = partial(collate_stage, ChatCollator(tokenizer, ImageInputs(model)), "2")
    rates = {w: loader_rate(files, collate, w) for w in (0, 1, 2)}
    optimizer = torch.optim.AdamW(set_trainable(model, {"vision": 1e-5, "projector": 1e-4, "llm": 1e-4}))
    batch = next(iter(torch.utils.data.DataLoader(ShardStream(files, heldout_percent=0, columns=(
        "id", "image", "conversations", "description", "lang")), batch_size=BATCH, collate_fn=collate)))
    inputs = {k: v for k, v in batch.items() if k != "ids"}
    started, steps = time.perf_counter(), 10
    for _ in range(steps):
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    step_rate = steps * BATCH / (time.perf_counter() - started)
    data = {"rows": len(rows), "batch_size": BATCH, "loader_samples_per_s": {str(k): round(v, 1) for k, v in rates.items()},
            "tiny_train_step_samples_per_s": round(step_rate, 1)}
    report.write("dataloader", data, report.table(
        ["what", "samples/s"],
        [["loader, in-process", data["loader_samples_per_s"]["0"]], ["loader, 1 worker", data["loader_samples_per_s"]["1"]],
         ["loader, 2 workers", data["loader_samples_per_s"]["2"]],
         [f"tiny LLaVA train step (batch {BATCH}, CPU)", data["tiny_train_step_samples_per_s"]]]))


if __name__ == "__main__":
    main()
