"""The training recipe, LLaVA-OneVision style, as one readable loop driven by a config file per stage.

Stage 1: projector only, on description targets (lr 1e-3). Stage 1.5: all parameters, descriptions (LLM and
projector 1e-5, vision 2e-6). Stage 2: all parameters, the instruction QA. Cosine schedule with warmup, gradient
accumulation, bf16 autocast and gradient checkpointing on GPU, checkpoints that resume exactly (model, optimizer,
scheduler, data position, RNG), and DDP under torchrun (each rank reads its own slice of the shards).
"""

from __future__ import annotations

import glob
import json
import math
import os
import random
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from model.build import ImageInputs, ModelConfig, add_chat_tokens, build_lmm, load_lmm, local_dir, train_tokenizer
from model.data import IMAGE, ChatCollator, ShardStream

Stage = Literal["1", "1.5", "2"]
STAGE_LR = {"1": (1e-3, 0.0), "1.5": (1e-5, 2e-6), "2": (1e-5, 2e-6)}  # (LLM + projector, vision)
DESCRIBE = {"ja": "このグラフを説明してください。", "en": "Describe this chart."}


class RecipeConfig(BaseModel):
    """What every recipe (a training stage, an adaptation run) reads: data, model source, loop size, tokenizer."""

    model_config = ConfigDict(extra="forbid")

    data: list[str] = Field(description="Parquet shard files or globs")
    out: str
    model: ModelConfig = Field(default_factory=ModelConfig, description="used when init_from is not given")
    init_from: str | None = Field(default=None, description="a trained LMM directory (e.g. the previous stage's final/)")
    steps: int = Field(default=100, ge=1)
    batch_size: int = Field(default=4, ge=1)
    lr: float | None = Field(default=None, description="default per stage or method")
    warmup_ratio: float = 0.03
    max_length: int = 1024
    heldout_percent: int = 5
    seed: int = 0
    vocab_size: int = Field(default=512, description="for a tokenizer trained here when the model brings none")
    checkpoint_every: int = Field(default=50, ge=1, description="steps between checkpoints; a rerun resumes from the last")


class TrainConfig(RecipeConfig):
    stage: Stage = "2"
    grad_accum: int = Field(default=1, ge=1)
    vision_lr: float | None = Field(default=None, description="vision tower; default per stage")
    weight_decay: float = 0.0
    num_workers: int = 0


def shard_files(patterns: list[str]) -> list[str]:
    files = sorted({f for p in patterns for f in (glob.glob(p) or [p])})
    missing = [f for f in files if not Path(f).exists()]
    if missing or not files:
        raise FileNotFoundError(f"no shard files at {missing or patterns}")
    return files


def stage_conversations(row: dict, stage: Stage) -> list[dict]:
    """Stages 1 and 1.5 learn to describe the chart; stage 2 learns the QA."""
    if stage == "2":
        return row["conversations"]
    prompt = DESCRIBE["ja" if row.get("lang") == "ja" else "en"]
    return [{"from": "human", "value": f"{IMAGE}\n{prompt}"}, {"from": "gpt", "value": row["description"]}]


def set_trainable(model, stage: Stage, lr: float, vision_lr: float) -> list[dict]:
    """Freeze per stage and return the optimizer's parameter groups (only trainable parameters)."""
    inner = model.model
    for p in model.parameters():
        p.requires_grad = stage != "1"
    for p in inner.multi_modal_projector.parameters():
        p.requires_grad = True
    vision = [p for p in inner.vision_tower.parameters() if p.requires_grad]
    vision_ids = {id(p) for p in vision}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in vision_ids]
    return [g for g in ({"params": rest, "lr": lr, "name": "llm+projector"},
                        {"params": vision, "lr": vision_lr, "name": "vision"}) if g["params"]]


def cosine_with_warmup(optimizer, steps: int, warmup_ratio: float):
    warmup = max(1, int(steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _distributed() -> tuple[int, int]:
    if "RANK" not in os.environ:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def load_tokenizer(cfg: RecipeConfig, files: list[str], out: Path, rank: int = 0):
    """The model's own tokenizer plus our chat tokens, or one trained here on the shards when the model brings none."""
    from transformers import AutoTokenizer

    source = cfg.model.tokenizer or cfg.init_from or cfg.model.pretrained or cfg.model.text_pretrained
    if source:
        local_dir(source, "init_from" if source == cfg.init_from else "model")
        return add_chat_tokens(AutoTokenizer.from_pretrained(source))
    path = out / "tokenizer"
    if rank == 0 and not path.exists():
        texts = (t["value"] for r in ShardStream(files, split="train", heldout_percent=0,
                                                  columns=("id", "conversations", "description"))
                 for t in r["conversations"] + [{"value": r["description"]}])
        train_tokenizer(texts, cfg.vocab_size).save_pretrained(path)
    _barrier()
    return AutoTokenizer.from_pretrained(path)


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def train(cfg: TrainConfig, observe: Callable[[list[str]], None] | None = None) -> dict:
    """Run (or resume) one stage; returns this process's loss per optimizer step. `observe(ids)` sees each batch."""
    rank, world = _distributed()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if torch.cuda.is_available() else torch.device("cpu")
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    files = shard_files(cfg.data)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)

    tokenizer = load_tokenizer(cfg, files, out, rank)
    model = (load_lmm(cfg.init_from) if cfg.init_from
             else build_lmm(cfg.model, tokenizer)).to(device)
    if device.type == "cuda":
        model.gradient_checkpointing_enable()
    default_lr, default_vision_lr = STAGE_LR[cfg.stage]
    groups = set_trainable(model, cfg.stage, default_lr if cfg.lr is None else cfg.lr,
                            default_vision_lr if cfg.vision_lr is None else cfg.vision_lr)
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    scheduler = cosine_with_warmup(optimizer, cfg.steps, cfg.warmup_ratio)
    step, epoch, batches_done = 0, 0, 0
    checkpoint = out / "checkpoint"
    if (checkpoint / "trainer.pt").exists():  # resume exactly where the last checkpoint left off
        state = torch.load(checkpoint / "trainer.pt", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        mine = state["ranks"][rank]
        step, epoch, batches_done = state["step"], mine["epoch"], mine["batches_done"]
        _set_rng_state(mine["rng"])
    ddp = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        # the vision tower's post-norm and pooling head do not feed the LLM: without this DDP waits for their grads
        ddp = DistributedDataParallel(model, find_unused_parameters=True)

    stream = ShardStream(files, split="train", heldout_percent=cfg.heldout_percent, seed=cfg.seed, rank=rank,
                         world_size=world, columns=("id", "image", "conversations", "description", "lang"))
    collator = ChatCollator(tokenizer, ImageInputs(model), cfg.max_length)
    collate = partial(_collate_stage, collator, cfg.stage)
    losses: list[float] = []
    micro = 0
    while step < cfg.steps:
        stream.set_epoch(epoch)
        # spawned workers: forking a process that already runs threads (Prefect, kaleido, NCCL) can kill the child
        loader = torch.utils.data.DataLoader(stream, batch_size=cfg.batch_size, collate_fn=collate,
                                             num_workers=cfg.num_workers,
                                             multiprocessing_context="spawn" if cfg.num_workers else None)
        for i, batch in enumerate(loader):
            if i < batches_done:
                continue  # already trained on before the checkpoint
            if observe:
                observe(batch["ids"])
            inputs = {k: v.to(device) for k, v in batch.items() if k != "ids"}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = ddp(**inputs).loss / cfg.grad_accum
            loss.backward()
            batches_done, micro = i + 1, micro + 1
            if micro % cfg.grad_accum:
                continue
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(loss.item() * cfg.grad_accum)
            if rank == 0 and step % 10 == 0:
                print(json.dumps({"step": step, "loss": round(losses[-1], 4), "lr": scheduler.get_last_lr()[0]}))
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                _save_checkpoint(checkpoint, model, optimizer, scheduler, step, epoch, batches_done, rank, world)
            if step >= cfg.steps:
                break
        else:
            epoch, batches_done = epoch + 1, 0
    if rank == 0:
        model.save_pretrained(out / "final")
        tokenizer.save_pretrained(out / "final")
    _barrier()
    return {"losses": losses, "rank": rank, "world_size": world}


def _collate_stage(collator: ChatCollator, stage: Stage, rows: list[dict]) -> dict:
    return collator([r | {"conversations": stage_conversations(r, stage)} for r in rows])


def _save_checkpoint(path: Path, model, optimizer, scheduler, step, epoch, batches_done, rank, world) -> None:
    """Every rank contributes its data position and RNG; rank 0 writes the file atomically."""
    mine = {"epoch": epoch, "batches_done": batches_done, "rng": _rng_state()}
    ranks = [mine]
    if world > 1:
        import torch.distributed as dist

        ranks = [None] * world
        dist.all_gather_object(ranks, mine)
    if rank == 0:
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / "trainer.pt.tmp"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "step": step, "ranks": ranks}, tmp)
        os.replace(tmp, path / "trainer.pt")
    _barrier()
