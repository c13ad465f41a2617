"""Post-training quantization table (seed 000, Tables 5–6): LLM.int8 and NF4 from bitsandbytes, applied to every
linear layer or to the LLM only, with memory and held-out chart-QA score per variant — and a memory estimator that
needs only configs (a meta-device model, no weights), so users can size an 8B or 70B LMM before downloading it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

import model.lmm  # noqa: F401  registers chartsynth_lmm before any Auto* lookup
from model.quant import QuantConfig, packed_storage_bytes

# bitsandbytes matches skip entries from the start of the full module name ("vision_tower" alone matches nothing)
LLM_ONLY_SKIP = ["model.vision_tower", "model.multi_modal_projector", "lm_head"]
ALL_SKIP = ["lm_head"]  # bitsandbytes never quantizes the output head by default either
VARIANTS = ("16-bit", "int8-all", "int8-llm", "nf4-all", "nf4-llm")
NF4_BLOCK = 64  # bitsandbytes' 4-bit block: one fp32 absmax per 64 weights
GIB = 1024**3


def bnb_config(variant: str, dtype: torch.dtype):
    from transformers import BitsAndBytesConfig

    if variant == "16-bit":
        return None
    kind, scope = variant.split("-")
    skip = ALL_SKIP if scope == "all" else LLM_ONLY_SKIP
    if kind == "int8":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype,
                              llm_int8_skip_modules=skip)


def half_dtype() -> torch.dtype:
    """The 16-bit type the table compares against: fp16 on a GPU (as the seed), bf16 on CPU."""
    return torch.float16 if torch.cuda.is_available() else torch.bfloat16


def load_variant(checkpoint: str, variant: str):
    from transformers import AutoModelForImageTextToText


    if variant not in VARIANTS:
        raise ValueError(f"unknown PTQ variant {variant!r}; choose from {', '.join(VARIANTS)}")
    dtype = half_dtype()
    kwargs = {"device_map": "auto"} if torch.cuda.is_available() else {}
    return AutoModelForImageTextToText.from_pretrained(checkpoint, quantization_config=bnb_config(variant, dtype),
                                                       dtype=dtype, **kwargs).eval()


def model_bytes(model: nn.Module) -> int:
    """Parameters + buffers + the quantization state bitsandbytes keeps beside them (int8 row scales, NF4 absmax);
    transformers' get_memory_footprint leaves the latter out."""
    total = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if getattr(weight, "SCB", None) is not None:
            total += weight.SCB.numel() * weight.SCB.element_size()
        state = getattr(weight, "quant_state", None)
        if state is not None:
            total += state.absmax.numel() * state.absmax.element_size() + state.code.numel() * state.code.element_size()
    return total


def is_quantized(name: str, module: nn.Module, variant: str) -> bool:
    """Whether `variant` quantizes this module: nn.Linear, not skipped by prefix."""
    if variant == "16-bit" or not isinstance(module, nn.Linear):
        return False
    skip = ALL_SKIP if variant.endswith("-all") else LLM_ONLY_SKIP
    return not any(name.startswith(prefix) for prefix in skip)


def meta_model(config):
    """The LMM's module tree with no storage behind it: built from a config in milliseconds, even for 70B."""
    from transformers import AutoModelForImageTextToText


    with torch.device("meta"):
        return AutoModelForImageTextToText.from_config(config)


def estimate_bytes(model: nn.Module, variant: str, qslaw: QuantConfig | None = None, with_state: bool = True) -> int:
    """Bytes of `model` under `variant` (or QSLAW packed, LLM decoder layers only, when `qslaw` is given), counted
    from shapes alone: what load_variant / quantize_llm would hold. `with_state=False` leaves out bitsandbytes'
    scales (int8 row scales, NF4 absmax) as transformers' get_memory_footprint does."""
    total, counted = 0, set()
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if not isinstance(module, nn.Linear):
            continue
        out_f, in_f = module.out_features, module.in_features
        if qslaw is not None and name.startswith("model.language_model.layers."):
            total += packed_storage_bytes(out_f, in_f, qslaw.bits, qslaw.group_for(in_f))
        elif is_quantized(name, module, variant):
            if variant.startswith("int8"):
                total += out_f * in_f + with_state * out_f * 4  # int8 weight + an fp32 scale per output row
            else:
                total += math.ceil(out_f * in_f / 2) + with_state * (math.ceil(out_f * in_f / NF4_BLOCK) * 4 + 16 * 4)
        else:
            continue
        counted.add(id(weight))
        if module.bias is not None:
            total += module.bias.numel() * 2
            counted.add(id(module.bias))
    rest = [t for t in (*model.parameters(), *model.buffers()) if id(t) not in counted]
    return total + sum(t.numel() * 2 for t in rest)  # everything else in 16 bits


def lmm_config(vision: dict, text: dict):
    """A chartsynth_lmm config (Qwen2-VL tower + the given causal LM), as the memory presets describe."""
    from transformers import AutoConfig

    from model.lmm import ChartLMMConfig

    text = dict(text)
    return ChartLMMConfig(vision_config=vision, text_config=AutoConfig.for_model(text.pop("model_type"), **text))


def estimate_table(preset: str | Path) -> dict:
    """Estimated GiB per variant for a preset file (model/configs/memory_*.json), beside the seed's Table 5 row."""
    spec = json.loads(Path(preset).read_text())
    model = meta_model(lmm_config(spec["vision_config"], spec["text_config"]))
    rows = {v: estimate_bytes(model, v) / GIB for v in VARIANTS}
    rows["qslaw-w4g128-llm"] = estimate_bytes(model, "16-bit", QuantConfig(bits=4, group_size=128)) / GIB
    footprint = {v: estimate_bytes(model, v, with_state=False) / GIB for v in VARIANTS}
    return {"preset": spec["name"], "estimate_gib": rows, "footprint_gib": footprint,
            "seed_table5_gib": spec.get("seed_table5_gib", {})}


def estimate_markdown(tables: list[dict]) -> str:
    lines = ["| preset | variant | estimate (GiB) | vs 16-bit | without bnb scales (GiB) | seed Table 5 (GiB) | "
             "seed vs 16-bit |", "|---|---|---|---|---|---|---|"]
    for t in tables:
        est, foot, seed = t["estimate_gib"], t["footprint_gib"], t["seed_table5_gib"]
        for variant, gib in est.items():
            cells = [t["preset"].split(":")[0], variant, f"{gib:.2f}", f"{gib / est['16-bit']:.3f}",
                     f"{foot[variant]:.2f}" if variant in foot else "",
                     f"{seed[variant]:.2f}" if variant in seed else "",
                     f"{seed[variant] / seed['16-bit']:.3f}" if variant in seed else ""]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def quantize_report(checkpoint: str, data: list[str], out: str | Path, heldout_percent: int = 5,
                    limit: int | None = None, variants=VARIANTS, max_new_tokens: int = 16) -> list[dict]:
    """Load `checkpoint` once per variant; measured and estimated memory, and the held-out score of each."""
    from transformers import AutoConfig, AutoTokenizer

    from model.evaluate import evaluate_model

    out = Path(out)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    skeleton = meta_model(AutoConfig.from_pretrained(checkpoint))
    rows = []
    for variant in variants:
        model = load_variant(checkpoint, variant)
        scores = evaluate_model(model, tokenizer, f"{checkpoint} [{variant}]", data, str(out / variant),
                                heldout_percent, limit, max_new_tokens).overall
        rows.append({"variant": variant, "bytes": model_bytes(model), "estimated_bytes": estimate_bytes(skeleton, variant),
                     "quantized_linears": sum(type(m).__name__ in ("Linear8bitLt", "Linear4bit") for m in model.modules()),
                     **scores.model_dump()})
        del model
    base = rows[0]["bytes"] if rows and rows[0]["variant"] == "16-bit" else None
    (out / "ptq.json").write_text(json.dumps(rows, indent=1))
    (out / "ptq.md").write_text(ptq_markdown(checkpoint, rows, base), encoding="utf-8")
    return rows


def ptq_markdown(checkpoint: str, rows: list[dict], base: int | None) -> str:
    lines = [f"# PTQ: {checkpoint}", "", "| variant | memory (MiB) | vs 16-bit | estimated (MiB) | quantized linears | "
             "n | relaxed accuracy | containment |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['bytes'] / base:.2f}×" if base else ""
        lines.append(f"| {r['variant']} | {r['bytes'] / 2**20:.2f} | {ratio} | {r['estimated_bytes'] / 2**20:.2f} | "
                     f"{r['quantized_linears']} | {r['n']} | {r['relaxed_accuracy']:.3f} | {r['containment']:.3f} |")
    return "\n".join(lines) + "\n"
