"""What every recipe (train.py's stages, adapt.py's methods) shares, so recipes stay plain loops: the config fields
they all read, shard listing, the process group, RNG state, the LR schedule, chat collation per stage, the tokenizer,
and atomic checkpoint writes."""

from __future__ import annotations

import glob
import math
import os
import random
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from model.build import ModelConfig, add_chat_tokens, local_dir, train_tokenizer
from model.data import IMAGE, ChatCollator, ShardStream

Stage = Literal["1", "1.5", "2"]
COLLECTIVE_TIMEOUT = timedelta(hours=4)
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
    sharding: Literal["ddp", "fsdp"] = Field(default="ddp", description="with several processes: replicate the model "
                                             "(DDP, small models) or shard it (FSDP2: 8B full fine-tuning, 70B; "
                                             "adapt: the full and faithful-qslaw methods)")
    final_file_gb: float = Field(default=5.0, gt=0, description="fsdp: largest safetensors file of final/; rank 0's host "
                                 "holds one file's worth while writing")
    activation_checkpointing: bool | None = Field(default=None, description="recompute each decoder layer's "
                                                  "activations in backward instead of storing them; default: on a GPU")


def shard_files(patterns: list[str]) -> list[str]:
    files = sorted({f for p in patterns for f in (glob.glob(p) or [p])})
    missing = [f for f in files if not Path(f).exists()]
    if missing or not files:
        raise FileNotFoundError(f"no shard files at {missing or patterns}")
    return files


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def rank_device() -> torch.device:
    """This process's GPU (torchrun's LOCAL_RANK), or the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when launched by torchrun. The rank's GPU is made current first:
    otherwise NCCL and every collective (all_gather_object too) would use cuda:0 on all ranks."""
    if "RANK" not in os.environ:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(rank_device())
        # the other ranks wait at the first collective while rank 0 reads (and, adapting, calibrates and quantizes)
        # the whole model: at 70B far longer than the 10-minute default
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=COLLECTIVE_TIMEOUT)
    return dist.get_rank(), dist.get_world_size()


def enable_activation_checkpointing(model, cfg: RecipeConfig, device: torch.device) -> None:
    """Per decoder layer, when asked (default: on a GPU). transformers recomputes only in training mode: the
    recipe puts the model in train() before its loop (a loaded checkpoint comes back in eval())."""
    if cfg.activation_checkpointing if cfg.activation_checkpointing is not None else device.type == "cuda":
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})


def master_weights_fp32(model) -> None:
    """Trainable weights in fp32, whatever the checkpoint was saved in: a bf16 weight keeps 8 bits of mantissa, so
    an update below half its spacing (lr 1e-5 × Adam's ~unit step on a weight of 0.01 or more) is rounded away. Frozen
    weights keep their dtype (memory); bf16 speed comes from autocast, as in torchtune and LLaVA."""
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()


def compute_in_bf16(model, gpu_bf16: bool) -> bool:
    """bf16 autocast where the GPU has it, and wherever weights stayed in a half type (a frozen 16-bit part meets
    fp32 trained ones: without autocast their matmuls fail on dtype)."""
    return gpu_bf16 or any(p.is_floating_point() and p.dtype != torch.float32 for p in model.parameters())


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def cosine_with_warmup(optimizer, steps: int, warmup_ratio: float):
    warmup = max(1, int(steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def stage_conversations(row: dict, stage: Stage) -> list[dict]:
    """Stages 1 and 1.5 learn to describe the chart; stage 2 learns the QA."""
    if stage == "2":
        return row["conversations"]
    prompt = DESCRIBE["ja" if row.get("lang") == "ja" else "en"]
    return [{"from": "human", "value": f"{IMAGE}\n{prompt}"}, {"from": "gpt", "value": row["description"]}]


def collate_stage(collator: ChatCollator, stage: Stage, rows: list[dict]) -> dict:
    """A batch of chart rows trained on what `stage` teaches (descriptions or QA)."""
    return collator([r | {"conversations": stage_conversations(r, stage)} for r in rows])


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
    barrier()
    return AutoTokenizer.from_pretrained(path)


def save_atomically(state: dict, path: Path) -> None:
    """torch.save to a temporary name, then rename: a crash never leaves half a checkpoint under `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def save_checkpoint(file: Path, step: int, model, optimizer, mine: dict, replicated: Callable[[], dict],
                    fsdp: bool, frozen: bool = False) -> None:
    """Every rank contributes `mine` (its data position, RNG) and, sharded, its part of the weights and optimizer state
    (`sharded-<step>/` beside `file`; frozen weights too when `frozen`, see model.parallel.save_sharded); rank 0 writes
    `file` atomically — last, so it only ever names a complete checkpoint — with what `replicated()` returns
    (schedule, step; the weights and optimizer state unless sharded) and every rank's `mine` under "ranks"."""
    from model.parallel import drop_older_shards, save_sharded

    rank, world = distributed()
    ranks = [mine]
    if world > 1:
        import torch.distributed as dist

        ranks = [None] * world
        dist.all_gather_object(ranks, mine)
    sharded = save_sharded(file.parent, step, model, optimizer, frozen) if fsdp else None
    barrier()
    if rank == 0:
        written = {"sharded": sharded} if fsdp else {}
        save_atomically(replicated() | written | {"ranks": ranks}, file)
        if fsdp:
            drop_older_shards(file.parent, sharded)
    barrier()


def progress_bar(total: int, initial: int, desc: str, rank: int = 0, unit: str = "step"):
    """Progress on stderr with whatever the loop reports (loss, lr, samples/s); rank 0 only, so 8 ranks print one
    bar."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=rank != 0, file=sys.stderr,
                dynamic_ncols=True, mininterval=1.0)
