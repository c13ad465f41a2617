"""The training recipe, LLaVA-OneVision style, as one readable loop driven by a config file per stage.

Stage 1: projector only, on description targets (lr 1e-3). Stage 1.5: all parameters, descriptions (LLM and
projector 1e-5, vision 2e-6). Stage 2: all parameters, the instruction QA. Cosine schedule with warmup, gradient
accumulation, bf16 autocast and gradient checkpointing on GPU, checkpoints that resume exactly (model, optimizer,
scheduler, data position, RNG), and DDP under torchrun (each rank reads its own slice of the shards).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Literal
from pathlib import Path

import torch
from pydantic import Field

from common.shards import atomic_write_bytes
from model.build import ImageInputs, build_lmm, load_lmm
from model.data import ChatCollator, ShardStream
from model.parallel import load_sharded, save_consolidated, sharded_model
from model.recipe import (RecipeConfig, Stage, barrier, collate_stage, compute_in_bf16, cosine_with_warmup, distributed,
                          enable_activation_checkpointing, load_tokenizer, master_weights_fp32, progress_bar,
                          rank_device, rng_state, save_checkpoint, seed_everything, set_rng_state, shard_files)
from schemas.reports import TrainReport

FINISHED = "finished.json"  # written last into final/: the run is complete
Part = Literal["vision", "projector", "llm"]
# LLaVA-OneVision's stages: 1 aligns the projector alone; 1.5 and 2 train everything, the vision tower 5× slower
STAGE_LR: dict[str, dict[Part, float]] = {"1": {"projector": 1e-3},
                                          "1.5": {"vision": 2e-6, "projector": 1e-5, "llm": 1e-5},
                                          "2": {"vision": 2e-6, "projector": 1e-5, "llm": 1e-5}}


class TrainConfig(RecipeConfig):
    stage: Stage = "2"
    grad_accum: int = Field(default=1, ge=1)
    trainable: list[Part] | None = Field(default=None, min_length=1, description="the parts trained (any of vision, "
                                         "projector, llm), each at its own lr; default per stage (1: projector)")
    projector_lr: float | None = Field(default=None, description="default: `lr` if given (it sets the LLM's), else per "
                                       "stage")
    vision_lr: float | None = Field(default=None, description="vision tower; default per stage")
    weight_decay: float = 0.0
    num_workers: int = 0

    def part_lrs(self) -> dict[Part, float]:
        """Each trained part's learning rate: the config's, else the stage's (else stage 2's, for a part the stage
        does not train by default)."""
        defaults = STAGE_LR[self.stage]
        parts = self.trainable or list(defaults)
        given = {"vision": self.vision_lr, "llm": self.lr,
                 "projector": self.projector_lr if self.projector_lr is not None else self.lr}
        return {part: given[part] if given[part] is not None else defaults.get(part, STAGE_LR["2"][part])
                for part in dict.fromkeys(parts)}


def model_parts(model) -> dict[Part, list]:
    """The parameters of each part: the vision tower, the projector, the LLM (everything else, output head too)."""
    inner = model.model
    vision = list(inner.vision_tower.parameters())
    projector = list(inner.multi_modal_projector.parameters())
    taken = {id(p) for p in vision + projector}
    return {"vision": vision, "projector": projector, "llm": [p for p in model.parameters() if id(p) not in taken]}


def set_trainable(model, lrs: dict[Part, float]) -> list[dict]:
    """Train exactly the parts named in `lrs`, freeze the rest; the optimizer's groups, one per trained part."""
    parts = model_parts(model)
    for part, params in parts.items():
        for p in params:
            p.requires_grad = part in lrs
    return [{"params": parts[part], "lr": lr, "name": part} for part, lr in lrs.items() if parts[part]]


def train(cfg: TrainConfig, observe: Callable[[list[str]], None] | None = None) -> TrainReport:
    """Run (or resume) one stage; returns this process's loss per optimizer step. `observe(ids)` sees each batch."""
    rank, world = distributed()
    device = rank_device()
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    files = shard_files(cfg.data)
    finished = _finished_steps(out)
    if finished is not None and finished >= cfg.steps:  # before any weights load: at 70B that takes minutes per rank
        return TrainReport(stage=cfg.stage, losses=[], rank=rank, world_size=world, resumed_from=finished)
    seed_everything(cfg.seed)

    tokenizer = load_tokenizer(cfg, files, out, rank)
    fsdp = world > 1 and cfg.sharding == "fsdp"

    def load():
        return load_lmm(cfg.init_from) if cfg.init_from else build_lmm(cfg.model, tokenizer)

    model = sharded_model(load, device, bf16, rank) if fsdp else load().to(device)
    enable_activation_checkpointing(model, cfg, device)
    groups = set_trainable(model, cfg.part_lrs())
    if not fsdp:  # FSDP's shards are fp32 already
        master_weights_fp32(model)
    autocast = compute_in_bf16(model, bf16)
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    scheduler = cosine_with_warmup(optimizer, cfg.steps, cfg.warmup_ratio)
    step, epoch, batches_done = 0, 0, 0
    checkpoint = out / "checkpoint"
    if (checkpoint / "trainer.pt").exists():  # resume exactly where the last checkpoint left off
        state = torch.load(checkpoint / "trainer.pt", weights_only=False, map_location=device)
        if fsdp:
            load_sharded(checkpoint, state["sharded"], model, optimizer)
        else:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        mine = state["ranks"][rank]
        step, epoch, batches_done = state["step"], mine["epoch"], mine["batches_done"]
        set_rng_state(mine["rng"])
    resumed_from = step
    ddp = model
    if world > 1 and not fsdp:
        from torch.nn.parallel import DistributedDataParallel

        # the vision tower's post-norm and pooling head do not feed the LLM: without this DDP waits for their grads
        ddp = DistributedDataParallel(model, find_unused_parameters=True)

    stream = ShardStream(files, split="train", heldout_percent=cfg.heldout_percent, seed=cfg.seed, rank=rank,
                         world_size=world, columns=("id", "image", "conversations", "description", "lang"))
    collator = ChatCollator(tokenizer, ImageInputs(model), cfg.max_length)
    collate = partial(collate_stage, collator, cfg.stage)
    losses: list[float] = []
    micro = 0
    samples_per_step = cfg.batch_size * cfg.grad_accum * world
    bar = progress_bar(cfg.steps, step, f"stage {cfg.stage}", rank)
    model.train()  # dropout as trained, and checkpointing only recomputes in training mode
    step_started = time.perf_counter()
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
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
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
            now = time.perf_counter()
            bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}",
                            samples_s=f"{samples_per_step / (now - step_started):.1f}", refresh=False)
            bar.update(1)
            step_started = now
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                mine = {"epoch": epoch, "batches_done": batches_done, "rng": rng_state()}
                save_checkpoint(checkpoint / "trainer.pt", step, model, optimizer, mine, lambda: {
                    "scheduler": scheduler.state_dict(), "step": step} | ({} if fsdp else {
                        "model": model.state_dict(), "optimizer": optimizer.state_dict()}), fsdp)
            if step >= cfg.steps:
                break
        else:
            epoch, batches_done = epoch + 1, 0
    bar.close()
    if fsdp:  # every rank takes part in each tensor's gathering; rank 0 writes
        save_consolidated(model, out / "final", rank, int(cfg.final_file_gb * 2**30))
    if rank == 0:
        if not fsdp:  # in fp32 as the sharded export: beside frozen 16-bit parts the config would say 16 bits and
            # from_pretrained would round the trained fp32 weights; on the host, as training is over
            model.to("cpu", torch.float32).save_pretrained(out / "final")
        tokenizer.save_pretrained(out / "final")
        atomic_write_bytes(out / "final" / FINISHED, json.dumps({"stage": cfg.stage, "steps": step}).encode())
    barrier()
    return TrainReport(stage=cfg.stage, losses=losses, rank=rank, world_size=world, resumed_from=resumed_from,
                       trainable_parameters={g["name"]: sum(p.numel() for p in g["params"]) for g in groups})


def _finished_steps(out: Path) -> int | None:
    """The steps of the run that finished in `out` (its final model written), if one did."""
    try:
        return int(json.loads((out / "final" / FINISHED).read_text())["steps"])
    except (OSError, ValueError, KeyError):
        return None
