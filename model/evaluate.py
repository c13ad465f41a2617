"""Score a checkpoint on held-out chart QA: greedy answers to every question of the held-out rows, scored by
relaxed accuracy and containment, broken down by QA type, chart type and language; results JSON + a markdown table."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import torch

from model.build import image_processor_for, image_tokens_for
from model.data import ASSISTANT, EOS, IMAGE, ChatCollator, ShardStream
from model.metrics import contains, relaxed_match
from model.train import shard_files

BREAKDOWNS = ("qa_type", "chart_type", "lang")


def answer(model, collator, row: dict, question: str, max_new_tokens: int) -> str:
    ids, _ = collator.encode([{"from": "human", "value": f"{IMAGE}\n{question}"}])
    ids = ids + [collator.ids[ASSISTANT]]
    pixels = collator.image_processor(images=[row["pil"]], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             pixel_values=pixels, max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=collator.ids[EOS], pad_token_id=collator.tokenizer.pad_token_id)
    return collator.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True).strip()


def evaluate(checkpoint: str, data: list[str], out: str, heldout_percent: int = 5, limit: int | None = None,
             max_new_tokens: int = 32) -> dict:
    from transformers import AutoTokenizer, LlavaForConditionalGeneration

    from model.data import decode_image

    model = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    collator = ChatCollator(tokenizer, image_processor_for(model), image_tokens_for(model))
    stream = ShardStream(shard_files(data), split="heldout", heldout_percent=heldout_percent,
                         columns=("id", "image", "qa", "chart_type", "lang"))
    records = []
    for row in stream:
        row["pil"] = decode_image(row)
        for qa in row["qa"]:
            prediction = answer(model, collator, row, qa["question"], max_new_tokens)
            records.append({"id": row["id"], "question": qa["question"], "gold": qa["answer"], "prediction": prediction,
                            "qa_type": qa["qa_type"], "chart_type": row["chart_type"], "lang": row["lang"],
                            "relaxed": relaxed_match(prediction, qa["answer"]), "contains": contains(prediction, qa["answer"])})
            if limit and len(records) >= limit:
                break
        if limit and len(records) >= limit:
            break
    summary = {"checkpoint": checkpoint, "questions": len(records), "overall": _scores(records)}
    for key in BREAKDOWNS:
        groups = defaultdict(list)
        for r in records:
            groups[r[key]].append(r)
        summary[f"by_{key}"] = {k: _scores(v) for k, v in sorted(groups.items())}
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    (target / "results.json").write_text(json.dumps({"summary": summary, "records": records}, ensure_ascii=False, indent=1))
    (target / "results.md").write_text(markdown(summary), encoding="utf-8")
    return summary


def _scores(records: list[dict]) -> dict:
    n = len(records)
    return {"n": n, "relaxed_accuracy": round(sum(r["relaxed"] for r in records) / n, 4) if n else 0.0,
            "containment": round(sum(r["contains"] for r in records) / n, 4) if n else 0.0}


def markdown(summary: dict) -> str:
    lines = [f"# {summary['checkpoint']}: {summary['questions']} questions", "",
             "| group | value | n | relaxed accuracy | containment |", "|---|---|---|---|---|"]
    o = summary["overall"]
    lines.append(f"| overall | | {o['n']} | {o['relaxed_accuracy']:.3f} | {o['containment']:.3f} |")
    for key in BREAKDOWNS:
        for value, s in summary[f"by_{key}"].items():
            lines.append(f"| {key} | {value} | {s['n']} | {s['relaxed_accuracy']:.3f} | {s['containment']:.3f} |")
    return "\n".join(lines) + "\n"
