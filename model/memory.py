"""Per-GPU memory of a training or adaptation run from the model's config alone (a meta-device model: no weights,
seconds even for 70B), so a user knows before renting GPUs whether a run fits.

Weights, gradients and AdamW state follow from how each method holds its parameters (full: fp32 master weights,
FSDP-sharded over the GPUs when there are several, plus the 16-bit copies of the two largest units gathered at a
time; qslaw: the frozen LLM in 16 bits — sharded the same way over several GPUs — or packed, with fp32 γ per group;
qlora: NF4 + fp32 LoRA). Activations are
what backward needs kept per decoder layer and token — 8h + 2h_kv + 4I elements for a GQA attention + gated MLP
layer (hidden h, key/value width h_kv, MLP width I: the inputs of the norms and projections, q/k/v, the attention
output, the MLP's gate, up, activation and product) — or, with activation checkpointing, each layer's input (h)
plus one layer recomputed; the logits add V per token in the compute dtype and V in fp32 for the loss. Checked on
CPU against torch's own tensor-memory tracker for tiny models (tests/test_memory.py).
"""

from __future__ import annotations

import math
from typing import Literal

from torch import nn

from model.parallel import transformer_blocks
from model.ptq import estimate_bytes
from model.quant import QuantConfig, packed_storage_bytes
from schemas.reports import TrainingMemory

Method = Literal["full", "qslaw", "qslaw-packed", "qlora"]
METHODS: tuple[str, ...] = ("full", "qslaw", "qslaw-packed", "qlora")
DECODER = "model.language_model.layers."


def _layer_sizes(text_config) -> tuple[int, int, int, int, int]:
    """(hidden, key/value width, MLP width, layers, vocabulary) of the LLM."""
    h = text_config.hidden_size
    head_dim = getattr(text_config, "head_dim", None) or h // text_config.num_attention_heads
    kv = (getattr(text_config, "num_key_value_heads", None) or text_config.num_attention_heads) * head_dim
    return h, kv, text_config.intermediate_size, text_config.num_hidden_layers, text_config.vocab_size


def activation_bytes(model: nn.Module, tokens: int, checkpointing: bool, act_bytes: int, image_patches: int = 0,
                     vision_trains: bool = False) -> tuple[int, int]:
    """(what backward needs kept, one decoder layer's share of it)."""
    h, kv, inter, layers, vocab = _layer_sizes(model.config.text_config)
    per_layer = 8 * h + 2 * kv + 4 * inter
    kept = layers * h + per_layer if checkpointing else layers * per_layer
    total = tokens * kept * act_bytes + tokens * vocab * (act_bytes + 4)
    if vision_trains and image_patches:  # multi-head attention (h_kv = h) and a plain MLP (fc1 and its activation)
        vision = model.config.vision_config
        hv = vision.embed_dim
        iv = int(hv * getattr(vision, "mlp_ratio", 4))
        per_block = 10 * hv + 2 * iv
        kept_v = vision.depth * hv + per_block if checkpointing else vision.depth * per_block
        total += image_patches * kept_v * act_bytes
    return total, tokens * per_layer * act_bytes


def training_memory(model: nn.Module, method: Method, gpus: int = 1, micro_batch: int = 1, seq_len: int = 2048,
                    image_patches: int = 0, checkpointing: bool = True, act_bytes: int = 2, frozen_bytes: int = 2,
                    lora_rank: int = 64, quant: QuantConfig | None = None) -> TrainingMemory:
    """`model` on the meta device (model.ptq.meta_model); `image_patches` per sample (the vision tower's tokens,
    0 for text-only); `act_bytes` 2 for bf16 compute, 4 for fp32 (CPU); `frozen_bytes` of a weight not trained
    (2: loaded in bf16)."""
    if method not in ("full", "qslaw") and gpus != 1:
        raise ValueError(f"method {method!r} adapts on one GPU (gpus=1; FSDP does not shard it, DDP replicates it), "
                         f"got gpus={gpus}")
    quant = quant or QuantConfig()
    params = {name: p for name, p in model.named_parameters()}
    total = sum(p.numel() for p in params.values())
    projector = sum(p.numel() for n, p in params.items() if n.startswith("model.multi_modal_projector."))
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.startswith(DECODER)]
    tokens = micro_batch * seq_len
    units = [sum(p.numel() for p in block.parameters()) for block in transformer_blocks(model)]
    gathered = 2 * 2 * max(units, default=0) if gpus > 1 else 0  # 16-bit: the unit computing and the one prefetched
    if method == "full":
        weights, trainable = 4 * total // gpus + gathered, total // gpus
    else:
        linear_weights = sum(m.weight.numel() for _, m in linears)
        groups = sum(m.out_features * math.ceil(m.in_features / quant.group_for(m.in_features)) for _, m in linears)
        rest = frozen_bytes * (total - linear_weights - projector) + 4 * projector  # frozen; fp32 projector
        if method == "qslaw":  # the weight kept as loaded, γ (fp32) per group — sharded over the GPUs with FSDP —
            # and Δ (fp16), z (fp32) per group, buffers every GPU holds whole
            weights = (rest + frozen_bytes * linear_weights + 4 * groups) // gpus + gathered + (2 + 4) * groups
            trainable = (groups + projector) // gpus
        elif method == "qslaw-packed":
            packed = sum(packed_storage_bytes(m.out_features, m.in_features, quant.bits, quant.group_for(m.in_features))
                         for _, m in linears)
            weights, trainable = rest + packed, groups + projector
        else:  # qlora: NF4 decoder linears (estimate_bytes' nf4-llm), LoRA A and B per linear in fp32
            lora = sum(lora_rank * (m.in_features + m.out_features) for _, m in linears)
            weights = estimate_bytes(model, "nf4-llm") + 2 * projector + 4 * lora  # estimate_bytes: 16-bit rest
            trainable = lora + projector
    activations, one_layer = activation_bytes(model, tokens, checkpointing, act_bytes, micro_batch * image_patches,
                                              vision_trains=method == "full")
    gradients, optimizer = 4 * trainable, 8 * trainable
    # gradients fill in as backward frees activations: the peak is at its start (every activation) or at its end
    # (every gradient, and the last layer's activations — recomputed, with checkpointing)
    peak = weights + optimizer + max(activations, gradients + one_layer)
    return TrainingMemory(method=method, gpus=gpus, micro_batch=micro_batch, seq_len=seq_len,
                          activation_checkpointing=checkpointing, weights_bytes=weights, gradients_bytes=gradients,
                          optimizer_bytes=optimizer, activations_bytes=activations, peak_bytes=peak)



def plan(preset: str, gpus: int, micro_batch: int, seq_len: int) -> list[TrainingMemory]:
    """Every method for a memory preset (model/configs/memory_*.json), with and without activation checkpointing:
    full fine-tuning over `gpus` GPUs (sharded when more than one), the adaptation methods on one, and faithful QSLAW
    also sharded over `gpus`; each sample with one image at the model's max_pixels."""
    import json
    from pathlib import Path

    from model.ptq import lmm_config, meta_model

    spec = json.loads(Path(preset).read_text())
    model = meta_model(lmm_config(spec["vision_config"], spec["text_config"]))
    patches = model.config.max_pixels // model.config.vision_config.patch_size**2  # the tower's tokens per image
    runs = [("full", gpus), ("qslaw", 1), *([("qslaw", gpus)] if gpus > 1 else []), ("qslaw-packed", 1), ("qlora", 1)]
    return [training_memory(model, method, n, micro_batch, seq_len, patches, ckpt)
            for method, n in runs for ckpt in (True, False)]


def plan_markdown(name: str, rows: list[TrainingMemory]) -> str:
    gib = 2**30
    lines = [f"{name}", "", "| method | GPUs | checkpointing | weights | gradients | optimizer | activations | peak per GPU "
             "(GiB) |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.method} | {r.gpus} | {'yes' if r.activation_checkpointing else 'no'} | {r.weights_bytes / gib:.1f} | "
              f"{r.gradients_bytes / gib:.1f} | {r.optimizer_bytes / gib:.1f} | {r.activations_bytes / gib:.1f} | "
              f"**{r.peak_bytes / gib:.1f}** |" for r in rows]
    return "\n".join(lines) + "\n"
