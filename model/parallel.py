"""FSDP2 for models one GPU cannot hold (8B full fine-tuning, 70B): every transformer block (LLM decoder layers and
vision blocks) is its own `fully_shard` unit, fp32 shards with bf16 compute and fp32 gradient reduction on a GPU.
Weights are read once, on rank 0; the other ranks build the model with its parameters on the meta device (no
memory) and receive their shards by broadcast. Checkpoints for resuming are sharded (torch.distributed.checkpoint:
each rank writes its own shard); `final/` is gathered a tensor at a time and written by rank 0 in safetensors files
of bounded size that `from_pretrained` loads.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn


@contextmanager
def parameters_on_meta():
    """Modules built inside get their parameters on the meta device (no storage, no init cost) and keep real
    buffers (rotary frequencies and other non-persistent buffers are computed in __init__, not loaded)."""
    register = nn.Module.register_parameter

    def on_meta(module, name, param):
        register(module, name, param)
        if param is not None and param.device.type != "meta":
            module._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)

    nn.Module.register_parameter = on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


def transformer_blocks(model: nn.Module) -> list[nn.Module]:
    """The units to shard: every block transformers can checkpoint (decoder layers, vision blocks)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def sharded_model(load: Callable[[], nn.Module], device: torch.device, bf16: bool, rank: int,
                  skeleton: Callable[[nn.Module], None] | None = None) -> nn.Module:
    """The model `load()` makes (called on rank 0 only), sharded over all ranks on `device`. `skeleton(model)` turns
    a model built from the config into the structure `load()` returns (e.g. quantized layers; it runs on the meta
    device) and freezes what will not train: a frozen parameter keeps the dtype rank 0 loaded it in (a 16-bit weight
    stays 16-bit), a trainable one becomes an fp32 shard — the optimizer's master weights."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    from transformers import AutoModelForImageTextToText

    full = load() if rank == 0 else None
    shared = [(full.config, {name: p.dtype for name, p in full.named_parameters()}) if full is not None else None]
    dist.broadcast_object_list(shared, src=0)
    config, dtypes = shared[0]
    with parameters_on_meta():
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
    # buffers computed in __init__ (rotary frequencies, position ids) are kept, before the skeleton moves anything
    # to meta; the ones it makes (a quantizer's steps) come from rank 0 with the weights
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    if skeleton is not None:
        skeleton(model)
    for name, p in list(model.named_parameters()):
        if not p.requires_grad and p.dtype != dtypes[name]:
            owner, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(owner), leaf, nn.Parameter(p.to(dtypes[name]), requires_grad=False))
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
    for block in transformer_blocks(model):
        fully_shard(block, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    model.to_empty(device=device)
    with torch.no_grad():
        for name, value in buffers.items():
            model.get_buffer(name).copy_(value)
    state = full.state_dict() if full is not None else {}
    del full
    set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    return model


def gathered_state(model, rank: int) -> dict:
    """The whole state on rank 0's host (empty elsewhere): for exports that need every weight of the model at once."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return state if rank == 0 else {}


def save_sharded(directory: Path, step: int, model, optimizer, frozen: bool = False) -> str:
    """Every rank writes its shard into `sharded-<step>/`: trainable parameters, buffers and optimizer state, and the
    frozen parameters only when `frozen` (the run changed them: GPTQ or AWQ moved weights a resume cannot rebuild).
    Otherwise a resumed run loads them again from where it first did — at 70B the 16-bit weights a QSLAW run keeps
    frozen are ~140 GB, written at every checkpoint. Returns the directory's name."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    name = f"sharded-{step}"
    model_state, optim_state = get_state_dict(model, optimizer,
                                              options=StateDictOptions(ignore_frozen_params=not frozen))
    dcp.save({"model": model_state, "optim": optim_state}, checkpoint_id=str(directory / name))
    return name


def load_sharded(directory: Path, name: str, model, optimizer) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import DefaultLoadPlanner
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    model_state, optim_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optim": optim_state}
    # what the checkpoint lacks keeps its value: frozen weights it left out (save_sharded), and the blank optimizer
    # state of a trainable parameter that never had a gradient (the vision tower's unused post-norm; AdamW never
    # applies it)
    dcp.load(state, checkpoint_id=str(directory / name), planner=DefaultLoadPlanner(allow_partial_load=True))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])


def drop_older_shards(directory: Path, keep: str) -> None:
    """Once trainer.pt names the newest sharded checkpoint, the older ones go (rank 0)."""
    for old in directory.glob("sharded-*"):
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def save_consolidated(model, directory: Path, rank: int, max_file_bytes: int) -> list[str]:
    """`final/` from the shards, one tensor at a time: every rank takes part in gathering each tensor in turn (a
    collective), rank 0 keeps at most one file's worth on its host and writes it — safetensors files of at most
    `max_file_bytes` and their index, as `from_pretrained` reads them. Gathering the whole state first would hold the
    fp32 model on rank 0's host (280 GB at 70B). Returns the files written (rank 0), in order."""
    from safetensors.torch import save_file
    from torch.distributed.tensor import DTensor

    state = model.state_dict()  # sharded DTensors: nothing gathered yet
    names, seen = [], set()
    for name, tensor in state.items():
        if id(tensor) not in seen:  # a tied weight once (from_pretrained ties it again)
            seen.add(id(tensor))
            names.append(name)
    groups: list[list[str]] = [[]]
    size = 0
    for name in names:
        nbytes = state[name].numel() * state[name].element_size()  # a DTensor's numel is the full tensor's
        if groups[-1] and size + nbytes > max_file_bytes:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += nbytes
    files = ["model.safetensors"] if len(groups) == 1 else \
        [f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors" for i in range(len(groups))]
    if rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in [*directory.glob("*.safetensors"), *directory.glob("model.safetensors.index.json")]:
            stale.unlink()  # an interrupted earlier write's files, which its index might still name
        model.config.save_pretrained(directory)
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(directory)
    for file, group in zip(files, groups):
        part = {}
        for name in group:
            tensor = state[name]
            full = tensor.full_tensor() if isinstance(tensor, DTensor) else tensor
            if rank == 0:
                part[name] = full.detach().to("cpu").contiguous()
            del full
        if rank == 0:
            save_file(part, str(directory / file), metadata={"format": "pt"})
        del part
    if rank == 0 and len(files) > 1:
        index = {"metadata": {"total_size": sum(state[n].numel() * state[n].element_size() for n in names)},
                 "weight_map": {name: file for file, group in zip(files, groups) for name in group}}
        (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return files if rank == 0 else []
