"""Calibration-based initialisations of the k-bit grid, block by block, beside OmniQuant's LWC (model/quant.py):
GPTQ and AWQ, written from their papers' equations (the libraries that ship them pull another transformers; see
FACTS.md). Each takes one decoder block and the inputs it receives, leaves every nn.Linear of the block with weights
the common code then quantizes by min-max (RTN) onto the group grid, and returns the Δ, z it settled on where it chose
them.

- GPTQ (Frantar et al., 2022, Alg. 1): columns quantized left to right; each column's rounding error is spread over
  the columns not yet quantized through the inverse Hessian H = 2XXᵀ of the layer's inputs (Cholesky form, 1 %
  dampening, blocks of 128 columns); a group's Δ, z are fixed from its weights as updated when its first column is
  reached. The result lies on the grid, so RTN of it returns GPTQ's codes. Without act-order (the paper's setting);
  the linears of a block are calibrated together on the block's inputs, not one after another ("true sequential").
- AWQ (Lin et al., 2024, Eq. 4–5): per group of linears sharing an input, a per-input-channel scale s = s_X^α
  (s_X the mean |x| of the channel), α from a grid of 20 in [0, 1), chosen to minimise ‖Q(W·diag(s))·(diag(s)⁻¹X) −
  WX‖² summed over the group's linears' outputs (the paper measures the enclosing module's output) on up to 4,096
  evenly spaced tokens; W·diag(s) stays in
  the linears and diag(s)⁻¹ is folded into the operation before them (the RMSNorm, or up_proj for down_proj; v_proj
  → o_proj only when their shapes allow, as the reference does). Then AWQ's clipping search: per group, the max-clip
  ratio of 20 in (0.5, 1] with the least output error. Llama/Qwen2-style decoder layers only.
"""

from __future__ import annotations

import torch
from torch import nn

from model.quant import QuantConfig, grouped, run_block, fake_quant, step_and_zero

GPTQ_DAMPENING = 0.01
GPTQ_BLOCK = 128
AWQ_GRID = 20
AWQ_CLIP_RATIOS = [1 - k / AWQ_GRID for k in range(AWQ_GRID // 2)]  # 1.0 … 0.55
AWQ_CLIP_TOKENS = 512  # tokens the clipping search scores on (the reference: 512 per sample)
AWQ_SEARCH_TOKENS = 4096  # tokens the scale search scores on; its statistic mean|x| uses them all


def _feed_linear_inputs(block: nn.Module, inputs: list, take) -> None:
    """Run `block` on `inputs`, calling take(name, rows [tokens, in]) with what each nn.Linear receives."""
    hooks = [module.register_forward_pre_hook(
        lambda m, args, name=name: take(name, args[0].detach().reshape(-1, args[0].shape[-1]).float()))
        for name, module in block.named_modules() if isinstance(module, nn.Linear)]
    try:
        with torch.no_grad():
            run_block(block, inputs)
    finally:
        for hook in hooks:
            hook.remove()


def linear_inputs(block: nn.Module, inputs: list) -> dict[str, torch.Tensor]:
    """Every token row each nn.Linear of `block` receives while `block` runs on `inputs`: name → [tokens, in]."""
    seen: dict[str, list[torch.Tensor]] = {}
    _feed_linear_inputs(block, inputs, lambda name, x: seen.setdefault(name, []).append(x))
    return {name: torch.cat(rows) for name, rows in seen.items()}


def linear_hessians(block: nn.Module, inputs: list) -> dict[str, torch.Tensor]:
    """GPTQ's H = 2XXᵀ/n of each nn.Linear's inputs while `block` runs on `inputs`, summed batch by batch: [in, in]
    per linear, whatever the number of calibration tokens (their rows would be 15 GB for an 8B down_proj over 262k)."""
    sums: dict[str, list] = {}

    def add(name: str, x: torch.Tensor) -> None:
        total = sums.setdefault(name, [torch.zeros(x.shape[1], x.shape[1], device=x.device), 0])
        total[0] += 2 * x.T @ x
        total[1] += x.shape[0]

    _feed_linear_inputs(block, inputs, add)
    return {name: h / n for name, (h, n) in sums.items()}


def gptq(weight: torch.Tensor, hessian: torch.Tensor, bits: int, group_size: int
         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GPTQ of one weight [out, in] given H = 2XXᵀ/n of its inputs: (Ŵ on the grid, Δ, z) per group [out, groups]."""
    w = weight.detach().float().clone()
    out_f, in_f = w.shape
    h = hessian.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += GPTQ_DAMPENING * torch.mean(torch.diag(h)) * torch.eye(in_f, device=h.device)
    h_inv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    groups = -(-in_f // group_size)
    deltas, zeros = torch.zeros(out_f, groups, device=w.device), torch.zeros(out_f, groups, device=w.device)
    quantized = torch.zeros_like(w)
    qmax = 2**bits - 1
    for start in range(0, in_f, GPTQ_BLOCK):
        end = min(start + GPTQ_BLOCK, in_f)
        block, errors = w[:, start:end].clone(), torch.zeros(out_f, end - start, device=w.device)
        for j in range(end - start):
            column = start + j
            if column % group_size == 0:
                g = column // group_size
                stop = min(column + group_size, in_f)
                current = block[:, j:j + stop - column]
                if stop > end:  # the group runs past this batch: its later columns with the batch's pending updates
                    later = w[:, end:stop] - errors[:, :j] @ h_inv[start:column, end:stop]
                    current = torch.cat([current, later], dim=1)
                delta, zero = step_and_zero(current, bits, group_size)
                deltas[:, g], zeros[:, g] = delta[:, 0], zero[:, 0]
            g = column // group_size
            codes = (torch.round(block[:, j] / deltas[:, g]) + zeros[:, g]).clamp(0, qmax)
            q = (codes - zeros[:, g]) * deltas[:, g]
            quantized[:, column] = q
            error = (block[:, j] - q) / h_inv[column, column]
            block[:, j:] -= error[:, None] * h_inv[column, column:end][None]
            errors[:, j] = error
        w[:, end:] -= errors @ h_inv[start:end, end:]
    return quantized.to(weight.dtype), deltas, zeros


def gptq_block(block: nn.Module, inputs: list, cfg: QuantConfig) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """GPTQ every linear of `block` in place; Δ, z per linear."""
    hessians = linear_hessians(block, inputs)
    steps = {}
    for name, module in block.named_modules():
        if isinstance(module, nn.Linear):
            quantized, delta, zero = gptq(module.weight, hessians[name], cfg.bits, cfg.group_for(module.in_features))
            module.weight.data.copy_(quantized)
            steps[name] = (delta, zero)
    return steps


# (operation before, the linears it feeds) in a Llama/Qwen2 decoder layer; v_proj → o_proj only when shapes allow
AWQ_GROUPS = [("input_layernorm", ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]),
              ("post_attention_layernorm", ["mlp.gate_proj", "mlp.up_proj"]),
              ("self_attn.v_proj", ["self_attn.o_proj"]),
              ("mlp.up_proj", ["mlp.down_proj"])]


def awq_scale(linears: list[nn.Linear], x: torch.Tensor, cfg: QuantConfig) -> torch.Tensor:
    """AWQ's grid search for s = mean|x|^α over the linears that share input x [tokens, in]."""
    magnitude = x.abs().mean(0)
    x = x[torch.linspace(0, x.shape[0] - 1, min(AWQ_SEARCH_TOKENS, x.shape[0])).long()]
    target = [x @ m.weight.float().T for m in linears]
    best, best_scale = float("inf"), torch.ones_like(magnitude)
    group = cfg.group_for(x.shape[1])
    for k in range(AWQ_GRID):
        s = magnitude.pow(k / AWQ_GRID).clamp(min=1e-4)
        s = s / (s.max() * s.min()).sqrt()
        error = 0.0
        for m, t in zip(linears, target):
            scaled = m.weight.float() * s
            delta, zero = step_and_zero(scaled, cfg.bits, group)
            error += ((x / s) @ fake_quant(scaled, delta, zero, cfg.bits, group).T - t).pow(2).mean().item()
        if error < best:
            best, best_scale = error, s
    return best_scale


def awq_clip(linear: nn.Linear, x: torch.Tensor, cfg: QuantConfig) -> None:
    """AWQ's clipping search: per output row and group, the max-clip ratio whose quantized group output is closest."""
    w = linear.weight.detach().float()
    sample = x[torch.linspace(0, x.shape[0] - 1, min(AWQ_CLIP_TOKENS, x.shape[0])).long()]
    group = cfg.group_for(w.shape[1])
    groups = grouped(w, group)  # [out, groups, size]
    xs = grouped(sample, group)  # [tokens, groups, size]
    reference = torch.einsum("ogs,tgs->otg", groups, xs)
    best_error = torch.full(groups.shape[:2], float("inf"), device=groups.device)
    best = groups.clone()
    qmax = 2**cfg.bits - 1
    for ratio in AWQ_CLIP_RATIOS:
        high, low = groups.amax(-1, keepdim=True) * ratio, groups.amin(-1, keepdim=True) * ratio
        clipped = groups.clamp(low, high)
        delta = ((high - low) / qmax).clamp(min=1e-5)
        zero = (-low / delta).round()
        q = ((torch.round(clipped / delta) + zero).clamp(0, qmax) - zero) * delta
        error = (torch.einsum("ogs,tgs->otg", q, xs) - reference).pow(2).mean(1)
        better = error < best_error
        best_error = torch.where(better, error, best_error)
        best = torch.where(better[..., None], clipped, best)
    linear.weight.data.copy_(best.view(w.shape[0], -1)[:, : w.shape[1]].to(linear.weight.dtype))


def awq_block(block: nn.Module, inputs: list, cfg: QuantConfig) -> dict:
    """AWQ on `block` in place: scales searched and folded, then clipping searched; RTN follows in the common code."""
    names = dict(block.named_modules())
    missing = [n for before, group in AWQ_GROUPS for n in (before, *group) if n not in names]
    if missing:
        raise ValueError(f"quant.init = 'awq' knows Llama/Qwen2-style decoder layers; {type(block).__name__} has no "
                         f"{missing[0]}")
    with torch.no_grad():
        reference = run_block(block, inputs)
    # one capture serves every group: a fold leaves the block's function unchanged, so it changes no other group's input
    seen = linear_inputs(block, inputs)
    for before, group in AWQ_GROUPS:
        previous, linears = names[before], [names[n] for n in group]
        if isinstance(previous, nn.Linear) and previous.out_features != linears[0].in_features:
            continue  # grouped-query attention: v_proj's outputs are repeated into o_proj's inputs
        s = awq_scale(linears, seen[group[0]], cfg)
        with torch.no_grad():
            for m in linears:
                m.weight.mul_(s.to(m.weight.dtype))
            if isinstance(previous, nn.Linear):
                previous.weight.div_(s[:, None].to(previous.weight.dtype))
                if previous.bias is not None:
                    previous.bias.div_(s.to(previous.bias.dtype))
            else:
                previous.weight.div_(s.to(previous.weight.dtype))
    with torch.no_grad():
        folded = run_block(block, inputs)
    drift = max(((a - b).float().norm() / b.float().norm()).item() for a, b in zip(folded, reference))
    # rounding the scaled weights moves a bf16 block's output ~3e-3; a fold into a norm that is not w·x/rms (Gemma's
    # multiply by 1 + w) moves it by orders of magnitude more
    if drift > max(1e-3, 4 * torch.finfo(reference[0].dtype).eps):
        raise ValueError(f"quant.init = 'awq': folding the scales into {type(block).__name__} changed its output by "
                         f"{drift:.1e} (relative); its norms are not w·x/rms")
    seen = linear_inputs(block, inputs)  # the scaled linears' own inputs, x/s
    for name, module in block.named_modules():
        if isinstance(module, nn.Linear) and not name.endswith(("q_proj", "k_proj")):  # the reference skips q, k
            awq_clip(module, seen[name], cfg)
    return {}
