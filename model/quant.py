"""k-bit group quantization of the LLM's linear layers and QSLAW's learnable group-wise scales.

Per output row, the input dimension is cut into groups of `group_size`; each group has a step Δ and a zero point z
(asymmetric min-max, optionally with OmniQuant's learnable weight clipping, calibrated block by block). QSLAW then
learns one scale γ per group (init 1), in one of two modes:

- faithful — as xjjxmu/QSLAW's quantizer: the full-precision weight stays, γ sits inside the rounding,
  Ŵ = (clamp(round(W / (Δ·γ)) + z, 0, 2^k−1) − z)·Δ, rounding with a straight-through estimator.
- packed — integer codes q packed into bytes, Δ and z frozen, γ scales the step: Ŵ = Δ·γ·(q − z). A custom autograd
  function rebuilds Ŵ inside forward and backward, so no full-precision weight is ever stored.

Only the LLM's decoder layers are quantized; the vision tower, projector, embeddings and lm_head stay as they are.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

# the stored dtypes, also used by the memory estimator
STEP_DTYPE, GAMMA_DTYPE = torch.float16, torch.float32


class QuantConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bits: Literal[2, 3, 4, 8] = 4
    group_size: int = Field(default=128, ge=0, description="weights per group along the input dimension; 0 = per "
                                                           "output channel (one group per row)")
    start_layer: int = Field(default=-1, ge=-1, description="as the public code (`i > start_layer`): γ is learned in "
                                                           "the decoder layers after this index, the ones up to it stay "
                                                           "RTN/LWC; -1 = every layer (the public code uses 5)")
    init: Literal["rtn", "omniquant", "gptq", "awq"] = Field(
        default="rtn", description="how Δ, z (and for gptq/awq the weights) are set before γ: min-max rounding, "
                                   "OmniQuant's learnable clipping, GPTQ, AWQ (model/calibration.py)")
    mode: Literal["faithful", "packed"] = "faithful"
    lwc_epochs: int = Field(default=20, ge=1, description="OmniQuant: passes over the calibration set per block")
    lwc_lr: float = Field(default=1e-2, description="OmniQuant's, for 128 samples × 20 epochs; raise it for fewer steps "
                                                 "(σ(4) moves slowly: 60 steps at 1e-2 barely leave the init)")

    @field_validator("group_size")
    @classmethod
    def _whole_groups(cls, value: int) -> int:
        if 0 < value < 8:
            raise ValueError(f"quant.group_size = {value}: use 8 or more weights per group, or 0 for per-channel")
        return value

    def group_for(self, in_features: int) -> int:
        """The group a layer with `in_features` inputs is cut into (its whole row when per-channel)."""
        return self.group_size or in_features


def container_bits(bits: int) -> int:
    """Codes are stored 4 per byte (2-bit), 2 per byte (3- and 4-bit) or 1 per byte (8-bit)."""
    return 2 if bits <= 2 else 4 if bits <= 4 else 8


def pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """uint8 codes [out, n] (n a multiple of the codes per byte) → bytes [out, n·c/8]."""
    c = container_bits(bits)
    per_byte = 8 // c
    codes = codes.to(torch.uint8).view(codes.shape[0], -1, per_byte)
    packed = torch.zeros(codes.shape[:2], dtype=torch.uint8, device=codes.device)
    for i in range(per_byte):
        packed |= codes[..., i] << (c * i)
    return packed


def unpack(packed: torch.Tensor, bits: int) -> torch.Tensor:
    c = container_bits(bits)
    per_byte, mask = 8 // c, (1 << c) - 1
    return torch.stack([(packed >> (c * i)) & mask for i in range(per_byte)], dim=-1).view(packed.shape[0], -1)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (x.round() - x).detach()


def grouped(weight: torch.Tensor, group_size: int) -> torch.Tensor:
    """[out, in] → [out, groups, group_size], zero-padding the last group."""
    out, n = weight.shape
    groups = math.ceil(n / group_size)
    return F.pad(weight, (0, groups * group_size - n)).view(out, groups, group_size)


def step_and_zero(weight: torch.Tensor, bits: int, group_size: int, up: torch.Tensor | None = None,
                  low: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Δ and z per group [out, groups]: min-max (RTN), or with OmniQuant's clipping factors σ(up), σ(low)."""
    g = grouped(weight, group_size)
    xmax, xmin = g.amax(-1), g.amin(-1)
    if up is not None:
        xmax, xmin = torch.sigmoid(up) * xmax, torch.sigmoid(low) * xmin
    qmax = 2**bits - 1
    delta = ((xmax - xmin) / qmax).clamp(min=1e-5)
    # z as OmniQuant computes it (a plain round: the clipping learns through Δ only), clamped to the code range
    # because packed checkpoints store it as an unsigned code, as GPTQ/AWQ formats do
    zero = (-xmin / delta).round().clamp(0, qmax)
    return delta, zero


def fake_quant(weight: torch.Tensor, delta: torch.Tensor, zero: torch.Tensor, bits: int, group_size: int,
               gamma: torch.Tensor | None = None) -> torch.Tensor:
    """The public QSLAW formula: codes = clamp(round(W/(Δ·γ)) + z, 0, 2^k−1), Ŵ = (codes − z)·Δ."""
    g = grouped(weight, group_size)
    scale = delta if gamma is None else delta * gamma
    codes = (round_ste(g / scale[..., None]) + zero[..., None]).clamp(0, 2**bits - 1)
    return ((codes - zero[..., None]) * delta[..., None]).view(weight.shape[0], -1)[:, : weight.shape[1]]


def integer_codes(weight: torch.Tensor, delta: torch.Tensor, zero: torch.Tensor, bits: int, group_size: int,
                  gamma: torch.Tensor | None = None) -> torch.Tensor:
    """The codes fake_quant rounds to, as uint8 [out, groups·group_size]."""
    g = grouped(weight, group_size)
    scale = delta if gamma is None else delta * gamma
    codes = (torch.round(g / scale[..., None]) + zero[..., None]).clamp(0, 2**bits - 1)
    return codes.view(weight.shape[0], -1).to(torch.uint8)


class FaithfulQSLAWLinear(nn.Module):
    """QSLAW as published: the full-precision weight is kept (frozen) and re-quantized with γ on every forward."""

    def __init__(self, linear: nn.Linear, delta: torch.Tensor, zero: torch.Tensor, bits: int, group_size: int):
        super().__init__()
        self.bits, self.group_size = bits, group_size
        self.in_features, self.out_features = linear.in_features, linear.out_features
        # a frozen parameter, not a buffer: FSDP shards parameters only, and this is the layer's largest tensor
        self.weight = nn.Parameter(linear.weight.detach().clone(), requires_grad=False)
        self.register_buffer("delta", delta.detach().clone())
        self.register_buffer("zero", zero.detach().clone())
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        self.gamma = nn.Parameter(torch.ones_like(delta, dtype=GAMMA_DTYPE))

    def dequantized(self) -> torch.Tensor:
        return fake_quant(self.weight, self.delta, self.zero, self.bits, self.group_size, self.gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _FaithfulMatmul.apply(x, self.weight, self.delta, self.zero, self.gamma, self.bits, self.group_size)
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def to_packed(self) -> PackedQSLAWLinear:
        """Bake γ: the codes it selects, with Δ and z unchanged (as the public formula dequantizes)."""
        codes = integer_codes(self.weight, self.delta, self.zero, self.bits, self.group_size, self.gamma.detach())
        return PackedQSLAWLinear.from_codes(codes, self.delta, self.zero, self.bits, self.group_size,
                                            self.in_features, self.bias)


class _FaithfulMatmul(torch.autograd.Function):
    """y = x·Ŵᵀ with the paper's Ŵ (fake_quant) rebuilt from the frozen weight in forward and again in backward. Plain
    autograd would keep three weight-sized tensors per layer until backward (the padded weight, the clamp's input,
    the levels) — at 70B several times the weights themselves; this keeps the input and the per-group tensors."""

    @staticmethod
    def forward(ctx, x, weight, delta, zero, gamma, bits, group_size):
        ctx.save_for_backward(x, weight, delta, zero, gamma)
        ctx.shape = (bits, group_size)
        return x @ fake_quant(weight, delta, zero, bits, group_size, gamma).to(x.dtype).t()

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, delta, zero, gamma = ctx.saved_tensors
        bits, group_size = ctx.shape
        with torch.enable_grad():  # the STE gradient of Ŵ with respect to γ, exactly as plain autograd takes it
            scale = gamma.detach().requires_grad_(ctx.needs_input_grad[4])
            w_hat = fake_quant(weight, delta, zero, bits, group_size, scale)
        grad_x = grad_gamma = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad_out @ w_hat.detach().to(grad_out.dtype)).to(x.dtype)
        if ctx.needs_input_grad[4]:
            out, n = w_hat.shape
            grad_w = grad_out.reshape(-1, out).float().t() @ x.reshape(-1, n).float()
            (grad_gamma,) = torch.autograd.grad(w_hat, scale, grad_w.to(w_hat.dtype))
        return grad_x, None, None, None, grad_gamma, None, None


class _PackedMatmul(torch.autograd.Function):
    """y = x·Ŵᵀ with Ŵ = Δ·γ·(q − z) rebuilt from the packed codes in forward and again in backward."""

    @staticmethod
    def forward(ctx, x, packed, delta, zero, gamma, bits, group_size, in_features):
        ctx.save_for_backward(x, packed, delta, zero, gamma)
        ctx.shape = (bits, group_size, in_features)
        return x @ _dequantize(packed, delta, zero, gamma, bits, group_size, in_features).to(x.dtype).t()

    @staticmethod
    def backward(ctx, grad_out):
        x, packed, delta, zero, gamma = ctx.saved_tensors
        bits, group_size, in_features = ctx.shape
        levels = _levels(packed, zero, bits, group_size)  # (q − z) [out, groups, group]
        out = levels.shape[0]
        grad_x = grad_gamma = None
        if ctx.needs_input_grad[0]:
            weight = (levels * (delta * gamma)[..., None].float()).view(out, -1)[:, :in_features]
            grad_x = (grad_out @ weight.to(grad_out.dtype)).to(x.dtype)
        if ctx.needs_input_grad[4]:
            grad_w = grad_out.reshape(-1, out).float().t() @ x.reshape(-1, in_features).float()
            grad_w = grouped(grad_w, group_size)
            grad_gamma = ((grad_w * levels).sum(-1) * delta.float()).to(gamma.dtype)
        return grad_x, None, None, None, grad_gamma, None, None, None


def _levels(packed, zero, bits, group_size) -> torch.Tensor:
    codes = unpack(packed, bits).float()
    out = codes.shape[0]
    return codes.view(out, -1, group_size) - zero.float()[..., None]


def _dequantize(packed, delta, zero, gamma, bits, group_size, in_features) -> torch.Tensor:
    levels = _levels(packed, zero, bits, group_size)
    return (levels * (delta.float() * gamma.float())[..., None]).view(levels.shape[0], -1)[:, :in_features]


class PackedQSLAWLinear(nn.Module):
    """Packed integer codes + per-group Δ (fp16) and z (uint8) frozen, γ (fp32) learnable: the memory saving is real."""

    def __init__(self, out_features: int, in_features: int, bits: int, group_size: int, bias: bool):
        super().__init__()
        self.bits, self.group_size = bits, group_size
        self.in_features, self.out_features = in_features, out_features
        groups = math.ceil(in_features / group_size)
        per_byte = 8 // container_bits(bits)
        self.register_buffer("packed", torch.zeros(out_features, groups * group_size // per_byte, dtype=torch.uint8))
        self.register_buffer("delta", torch.ones(out_features, groups, dtype=STEP_DTYPE))
        self.register_buffer("zero", torch.zeros(out_features, groups, dtype=torch.uint8))
        self.gamma = nn.Parameter(torch.ones(out_features, groups, dtype=GAMMA_DTYPE))
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None

    @classmethod
    def from_codes(cls, codes, delta, zero, bits, group_size, in_features, bias) -> PackedQSLAWLinear:
        layer = cls(codes.shape[0], in_features, bits, group_size, bias is not None)
        layer.packed.copy_(pack(codes, bits))
        layer.delta.copy_(delta.detach())
        layer.zero.copy_(zero.detach().round())
        if bias is not None:
            layer.bias.data.copy_(bias.detach())
        return layer.to(codes.device)

    @classmethod
    def from_linear(cls, linear: nn.Linear, delta, zero, bits, group_size) -> PackedQSLAWLinear:
        codes = integer_codes(linear.weight.detach(), delta, zero, bits, group_size)
        return cls.from_codes(codes, delta, zero, bits, group_size, linear.in_features, linear.bias)

    def dequantized(self) -> torch.Tensor:
        return _dequantize(self.packed, self.delta, self.zero, self.gamma, self.bits, self.group_size,
                           self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _PackedMatmul.apply(x, self.packed, self.delta, self.zero, self.gamma, self.bits, self.group_size,
                                self.in_features)
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def bake(self) -> None:
        """Fold γ into Δ (Δ ← Δ·γ, γ ← 1): the exported checkpoint then needs no γ at all."""
        self.delta.copy_((self.delta.float() * self.gamma.detach().float()).to(STEP_DTYPE))
        self.gamma.data.fill_(1.0)

    def storage_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.packed, self.delta, self.zero, self.gamma)) + (
            0 if self.bias is None else self.bias.numel() * 2)


def packed_storage_bytes(out_features: int, in_features: int, bits: int, group_size: int) -> int:
    """Codes + Δ (fp16) + z (uint8) + γ (fp32) of one packed layer, bias excluded."""
    groups = math.ceil(in_features / group_size)
    codes = out_features * groups * group_size * container_bits(bits) // 8
    return codes + out_features * groups * (2 + 1 + 4)


QSLAW_LAYERS = (FaithfulQSLAWLinear, PackedQSLAWLinear)


def _decoder(model) -> nn.Module:
    """The module holding the LLM's decoder layers: an LMM's language model, or a causal LM's own body."""
    return getattr(model.model, "language_model", model.model)


def decoder_layers(model) -> nn.ModuleList:
    return _decoder(model).layers


def decoder_linears(lmm) -> list[tuple[int, str, nn.Linear]]:
    """(layer index, name inside the layer, module) for every nn.Linear of the LLM's decoder layers."""
    return [(i, name, module) for i, layer in enumerate(decoder_layers(lmm))
            for name, module in layer.named_modules() if isinstance(module, nn.Linear)]


def replace_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


class _ClippedLinear(nn.Module):
    """OmniQuant's learnable weight clipping during calibration: fake-quantized weight with σ(up), σ(low) clipping."""

    def __init__(self, linear: nn.Linear, bits: int, group_size: int):
        super().__init__()
        self.linear, self.bits, self.group_size = linear, bits, group_size
        groups = math.ceil(linear.in_features / group_size)
        self.up = nn.Parameter(torch.full((linear.out_features, groups), 4.0))
        self.low = nn.Parameter(torch.full((linear.out_features, groups), 4.0))
        self.clip = True

    def step_and_zero(self):
        w = self.linear.weight.detach()
        return step_and_zero(w, self.bits, self.group_size, *((self.up, self.low) if self.clip else (None, None)))

    def forward(self, x):
        delta, zero = self.step_and_zero()
        w = fake_quant(self.linear.weight.detach(), delta, zero, self.bits, self.group_size)
        return F.linear(x, w.to(x.dtype), self.linear.bias)


class _Captured(Exception):
    pass


def _block_inputs(lmm, batches: list[dict]) -> list[tuple[tuple, dict]]:
    """What the first decoder layer receives for each calibration batch (text or multimodal alike)."""
    captured = []

    def hook(module, args, kwargs):
        captured.append((tuple(a.detach() if torch.is_tensor(a) else a for a in args), dict(kwargs)))
        raise _Captured

    handle = decoder_layers(lmm)[0].register_forward_pre_hook(hook, with_kwargs=True)
    device = next(lmm.parameters()).device
    try:
        with torch.no_grad():
            for batch in batches:
                try:
                    lmm(**{k: v.to(device) for k, v in batch.items() if k not in ("ids", "labels")}, use_cache=False)
                except _Captured:
                    pass
    finally:
        handle.remove()
    return captured


def _hidden(output):
    return output[0] if isinstance(output, tuple) else output


def run_block(block, inputs):
    """The block's output hidden states for each captured (args, kwargs) input."""
    return [_hidden(block(*args, **kwargs)) for args, kwargs in inputs]


def _with_hidden(args, kwargs, hidden):
    if args:
        return (hidden, *args[1:]), kwargs
    return args, kwargs | {"hidden_states": hidden}


def _calibrate_block(block: nn.Module, inputs: list, fp_inputs: list, cfg: QuantConfig):
    """OmniQuant LWC on one block, as its default: fit σ(up), σ(low) of every linear so the fake-quantized block,
    fed the quantized model's stream, outputs what the full-precision model does at that block (MSE). Returns Δ, z
    per linear (by name inside the block), the block's MSE for RTN and for LWC against the full-precision stream,
    and both streams moved on past the block."""
    with torch.no_grad():
        targets = run_block(block, fp_inputs)
    clipped = {}
    for name, module in list(block.named_modules()):
        if isinstance(module, nn.Linear):
            clipped[name] = _ClippedLinear(module, cfg.bits, cfg.group_for(module.in_features))
            replace_module(block, name, clipped[name])

    def block_mse() -> float:
        with torch.no_grad():
            outs = run_block(block, inputs)
        return sum(F.mse_loss(o, t).item() for o, t in zip(outs, targets)) / len(targets)

    for c in clipped.values():
        c.clip = False
    rtn_mse = block_mse()
    for c in clipped.values():
        c.clip = True
    optimizer = torch.optim.AdamW([p for c in clipped.values() for p in (c.up, c.low)], lr=cfg.lwc_lr, weight_decay=0.0)
    with torch.enable_grad():
        for _ in range(cfg.lwc_epochs):
            for (args, kwargs), target in zip(inputs, targets):
                loss = F.mse_loss(_hidden(block(*args, **kwargs)).float(), target.float())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    lwc_mse = block_mse()
    with torch.no_grad():
        outs = run_block(block, inputs)  # the next block sees what this quantized block produces
        steps = {name: tuple(t.detach() for t in c.step_and_zero()) for name, c in clipped.items()}
    for name, c in clipped.items():
        replace_module(block, name, c.linear)
    moved = [_with_hidden(args, kwargs, out) for (args, kwargs), out in zip(inputs, outs)]
    fp_moved = [_with_hidden(args, kwargs, out) for (args, kwargs), out in zip(fp_inputs, targets)]
    return steps, {"rtn_mse": rtn_mse, "lwc_mse": lwc_mse}, moved, fp_moved


def _place_all_but_decoder_layers(lmm, device: torch.device) -> None:
    """Vision tower, projector, embeddings, head onto `device` (or a causal LM's embeddings and head); the decoder
    layers stay where they are."""
    holder = _decoder(lmm)
    layers, holder.layers = holder.layers, nn.ModuleList()
    lmm.to(device)
    holder.layers = layers


def quantize_llm(lmm, cfg: QuantConfig, calibration: list[dict] | None = None,
                 device: torch.device | None = None, keep_on: torch.device | None = None) -> dict:
    """Replace every decoder-layer nn.Linear by a QSLAW layer (cfg.mode) initialised by RTN or OmniQuant LWC, and
    place the model on `device` (default: where it is) — quantize, then place: one unquantized decoder layer at a
    time is moved there, calibrated and quantized, so a model too big for the device in 16 bits can be adapted on it
    in k bits. γ is trainable only after cfg.start_layer. `keep_on`: where each quantized decoder layer goes once
    done (default: `device`) — the host, when the model is sharded afterwards. Returns the initialisation report
    (block MSE per layer)."""
    report: dict = {"init": cfg.init, "mode": cfg.mode, "bits": cfg.bits, "group_size": cfg.group_size}
    if cfg.init != "rtn" and not calibration:
        raise ValueError(f"quant.init = {cfg.init!r} needs calibration batches")
    device = device or next(lmm.parameters()).device
    _place_all_but_decoder_layers(lmm, device)
    trainable = {p: p.requires_grad for p in lmm.parameters()}
    if cfg.init != "rtn":
        for p in lmm.parameters():  # the model's own weights do not learn while calibrating
            p.requires_grad_(False)
        inputs = fp_inputs = _block_inputs(lmm, calibration)
        report["blocks"] = []
    for i, block in enumerate(decoder_layers(lmm)):
        block.to(device)
        steps = {}
        if cfg.init == "omniquant":
            steps, mse, inputs, fp_inputs = _calibrate_block(block, inputs, fp_inputs, cfg)
            report["blocks"].append({"layer": i} | mse)
        elif cfg.init in ("gptq", "awq"):
            from model.calibration import awq_block, gptq_block

            steps = (gptq_block if cfg.init == "gptq" else awq_block)(block, inputs, cfg)
            with torch.no_grad():  # GPTQ: the next block sees the quantized block; AWQ: the scaled, clipped one
                inputs = [_with_hidden(args, kwargs, out) for (args, kwargs), out in zip(inputs, run_block(block, inputs))]
        for name, linear in [(n, m) for n, m in block.named_modules() if isinstance(m, nn.Linear)]:
            group = cfg.group_for(linear.in_features)
            delta, zero = steps.get(name) or step_and_zero(linear.weight.detach(), cfg.bits, group)
            if cfg.mode == "faithful":
                layer = FaithfulQSLAWLinear(linear, delta, zero, cfg.bits, group)
            else:
                layer = PackedQSLAWLinear.from_linear(linear, delta.to(STEP_DTYPE), zero, cfg.bits, group)
            layer.gamma.requires_grad = i > cfg.start_layer
            replace_module(block, name, layer)
        if keep_on is not None:
            block.to(keep_on)
    for p, flag in trainable.items():
        p.requires_grad_(flag)
    report["quantized_layers"] = len(qslaw_layer_names(lmm))
    return report


def qslaw_layer_names(lmm) -> list[str]:
    return [name for name, m in lmm.named_modules() if isinstance(m, QSLAW_LAYERS)]


def to_packed(lmm) -> None:
    """Export form: faithful layers become packed, and γ is folded into Δ everywhere."""
    for name, module in list(lmm.named_modules()):
        if isinstance(module, FaithfulQSLAWLinear):
            module = module.to_packed()
            replace_module(lmm, name, module)
        if isinstance(module, PackedQSLAWLinear):
            module.bake()


def packed_skeleton(lmm, names: list[str], cfg: QuantConfig) -> None:
    """Empty packed layers at `names` (shapes from the nn.Linear there), for loading an exported checkpoint."""
    for name in names:
        linear = lmm.get_submodule(name)
        replace_module(lmm, name, PackedQSLAWLinear(linear.out_features, linear.in_features, cfg.bits,
                                              cfg.group_for(linear.in_features),
                                              linear.bias is not None))


QUANT_FILE = "quant.json"
WEIGHTS_FILE = "model.safetensors"


def save_packed(lmm, directory, cfg: QuantConfig) -> None:
    """A quantized checkpoint: γ baked in, packed codes + Δ + z, the LMM's config and `quant.json` naming the layers.
    model.build.load_lmm reads it back for inference and eval."""
    import json
    from pathlib import Path

    from safetensors.torch import save_model

    to_packed(lmm)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lmm.config.save_pretrained(directory)
    save_model(lmm, str(directory / WEIGHTS_FILE))  # handles tied embeddings
    (directory / QUANT_FILE).write_text(json.dumps({"quant": cfg.model_dump(), "layers": qslaw_layer_names(lmm)},
                                                   indent=1))


def load_packed(directory):
    import json
    from pathlib import Path

    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForImageTextToText

    from model.parallel import parameters_on_meta

    directory = Path(directory)
    spec = json.loads((directory / QUANT_FILE).read_text())
    with parameters_on_meta():  # no full-precision model is built first: the packed layers replace meta ones
        lmm = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(directory))
    packed_skeleton(lmm, spec["layers"], QuantConfig.model_validate(spec["quant"]))
    missing = set(lmm.load_state_dict(load_file(directory / WEIGHTS_FILE), strict=False, assign=True).missing_keys)
    lmm.tie_weights()  # save_model wrote a tied head once
    left = [name for name, p in lmm.named_parameters() if p.is_meta]
    if left:
        raise ValueError(f"{directory / WEIGHTS_FILE}: no weights for {left[:3]} (of {len(missing)} missing)")
    return lmm.eval()
