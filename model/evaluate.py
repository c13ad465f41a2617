"""Score chart QA on held-out rows: every question of every held-out row answered greedily — by a local checkpoint or
by an OpenAI-compatible vision endpoint (e.g. vLLM serving Qwen2-VL) — scored by relaxed accuracy and containment,
broken down by QA type, chart type and language; results JSON + a markdown table."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from model.data import ASSISTANT, EOS, IMAGE, ChatCollator, ShardStream
from common.numbers import parse_amount
from model.metrics import contains, normalize, relaxed_match
from model.recipe import compute_in_bf16, progress_bar, rank_device, shard_files
from schemas import EvalQuestion
from schemas.reports import EvalSummary, Scores

BREAKDOWNS = ("qa_type", "chart_type", "lang")
# General-purpose endpoints answer in sentences unless asked not to; our own checkpoints were trained on bare answers.
ANSWER_HINT = {"ja": "単語または数値だけで簡潔に答えてください。", "en": "Answer with a single word or number."}


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible chat server that takes images (`image_url` parts); the key comes from OPENAI_API_KEY."""

    base_url: str
    model: str
    max_in_flight: int = 8
    timeout_s: float = 120.0


def heldout_questions(data: list[str], heldout_percent: int, limit: int | None) -> list[EvalQuestion]:
    """One item per question of the held-out rows of `data`, in a fixed order, up to `limit`."""
    stream = ShardStream(shard_files(data), split="heldout", heldout_percent=heldout_percent,
                         columns=("id", "image", "qa", "chart_type", "lang"))
    items = []
    for row in stream:
        for i, qa in enumerate(row["qa"]):
            items.append(EvalQuestion(id=f"{row['id']}#{i}", image=row["image"], question=qa["question"],
                                      answer=qa["answer"], qa_type=qa["qa_type"], chart_type=row["chart_type"],
                                      lang=row["lang"], unit=qa.get("unit", ""),
                                      read_from=qa.get("read_from") or "label", tolerance=qa.get("tolerance") or 0.0))
            if limit and len(items) >= limit:
                return items
    return items


def question_prompt(question: str, lang: str) -> str:
    """The text sent with the chart to a general-purpose model (endpoint, lmms-eval): the question + ANSWER_HINT."""
    return f"{question}\n{ANSWER_HINT['ja' if lang == 'ja' else 'en']}"


def local_answers(model, tokenizer, items: list[EvalQuestion], max_new_tokens: int) -> list[str]:
    from model.build import ImageInputs

    model.eval()
    collator = ChatCollator(tokenizer, ImageInputs(model))
    device = next(model.parameters()).device
    autocast = compute_in_bf16(model, False)  # an adapted model in memory: fp32 trained, 16-bit frozen weights
    answers = []
    bar = progress_bar(len(items), 0, "eval", unit="question")
    for item in items:
        vision, (tokens,) = collator.image_inputs([Image.open(io.BytesIO(item.image.bytes)).convert("RGB")])
        ids, _ = collator.encode([{"from": "human", "value": f"{IMAGE}\n{item.question}"}], tokens, item.id)
        ids = ids + [collator.ids[ASSISTANT]]
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model.generate(input_ids=torch.tensor([ids], device=device),
                                 attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                                 **{k: v.to(device) for k, v in vision.items()}, max_new_tokens=max_new_tokens,
                                 do_sample=False, eos_token_id=collator.ids[EOS], pad_token_id=tokenizer.pad_token_id)
        answers.append(tokenizer.decode(out[0, len(ids):], skip_special_tokens=True).strip())
        bar.update(1)
    bar.close()
    return answers


def endpoint_messages(item: EvalQuestion) -> list[dict]:
    """The chart PNG exactly as stored in the shard, as a data URL, then the question and the answer-format hint."""
    url = "data:image/png;base64," + base64.b64encode(item.image.bytes).decode()
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                         {"type": "text", "text": question_prompt(item.question, item.lang)}]}]


def endpoint_answers(endpoint: Endpoint, items: list[EvalQuestion], max_new_tokens: int, cache_dir: Path) -> list[str]:
    """Concurrent requests with the LLM client's retries; replies are cached, so a rerun sends nothing again."""
    from common.llm_client import LLMClient, ResponseCache

    async def run() -> list[str]:
        client = LLMClient([endpoint.base_url], endpoint.model, "text", ResponseCache(cache_dir),
                           max_in_flight=endpoint.max_in_flight, timeout_s=endpoint.timeout_s)
        await client.identify()  # cached answers are keyed by the model the endpoint says it serves
        bar = progress_bar(len(items), 0, f"eval {endpoint.model}", unit="question")

        async def answer(item: EvalQuestion) -> str:
            reply = await client.chat(endpoint_messages(item), name="answer", schema=None, temperature=0.0,
                                      max_tokens=max_new_tokens, seed=0)
            bar.update(1)
            return reply.text.strip()

        try:
            return list(await asyncio.gather(*(answer(item) for item in items)))
        finally:
            bar.close()
            await client.close()

    return asyncio.run(run())


def evaluate(data: list[str], out: str, checkpoint: str | None = None, endpoint: Endpoint | None = None,
             heldout_percent: int = 5, limit: int | None = None, max_new_tokens: int = 32,
             attention_samples: int = 0) -> EvalSummary:
    """Score a saved checkpoint or an endpoint (exactly one of them); for a checkpoint, also draw where it looks for
    `attention_samples` answers."""
    if (checkpoint is None) == (endpoint is None):
        raise ValueError("evaluate: give exactly one of a checkpoint or an endpoint")
    if endpoint and attention_samples:
        raise ValueError("attention maps need the model's weights: give a checkpoint, not an endpoint")
    items = heldout_questions(data, heldout_percent, limit)
    if checkpoint:
        from transformers import AutoTokenizer

        from model.build import load_lmm

        model, tokenizer = load_lmm(checkpoint).to(rank_device()), AutoTokenizer.from_pretrained(checkpoint)
        predictions = local_answers(model, tokenizer, items, max_new_tokens)
        looks = attention_maps(model, tokenizer, items, predictions, Path(out), attention_samples)
        return write_results(items, predictions, checkpoint, out, looks)
    predictions = endpoint_answers(endpoint, items, max_new_tokens, Path(out) / "cache")
    return write_results(items, predictions, f"{endpoint.model} @ {endpoint.base_url}", out)


def evaluate_model(model, tokenizer, name: str, data: list[str], out: str, heldout_percent: int = 5,
                   limit: int | None = None, max_new_tokens: int = 32) -> EvalSummary:
    """Score a model already in memory (e.g. at the end of an adaptation run)."""
    items = heldout_questions(data, heldout_percent, limit)
    return write_results(items, local_answers(model, tokenizer, items, max_new_tokens), name, out)


def attention_maps(model, tokenizer, items: list[EvalQuestion], predictions: list[str], out: Path,
                   samples: int) -> list[dict]:
    """Maps for `samples` answers spread evenly over the items, drawn over their charts into out/attention/."""
    if not samples or not items:
        return []
    from model.attention import answer_attention, overlay
    from model.build import ImageInputs

    collator = ChatCollator(tokenizer, ImageInputs(model))
    (out / "attention").mkdir(parents=True, exist_ok=True)
    picked = sorted({round(k * (len(items) - 1) / max(samples - 1, 1)) for k in range(min(samples, len(items)))})
    records = []
    for k in picked:
        item, prediction = items[k], predictions[k]
        image = Image.open(io.BytesIO(item.image.bytes)).convert("RGB")
        found = answer_attention(model, collator, image, item.question,
                                 tokenizer.encode(prediction, add_special_tokens=False))
        name = f"attention/{k:05d}.png"
        overlay(image, found.grid).save(out / name)
        records.append({"id": item.id, "question": item.question, "answer": item.answer, "prediction": prediction,
                        "grid": list(found.grid.shape), "image_share": round(found.image_share, 4), "file": name})
    return records


def write_results(items: list[EvalQuestion], predictions: list[str], source: str, out: str,
                  attention: list[dict] | None = None) -> EvalSummary:
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    records = [item.model_dump(exclude={"image"})
               | {"prediction": p, "relaxed": relaxed_match(p, item.answer), "contains": contains(p, item.answer),
                  "within_tolerance": within_tolerance(p, item)}
               for item, p in zip(items, predictions)]
    breakdowns = {}
    for key in BREAKDOWNS:
        groups = defaultdict(list)
        for r in records:
            groups[r[key]].append(r)
        breakdowns[f"by_{key}"] = {k: _scores(v) for k, v in sorted(groups.items())}
    summary = EvalSummary(model=source, questions=len(records), overall=_scores(records), **breakdowns)
    (target / "results.json").write_text(json.dumps({"summary": summary.model_dump(), "records": records}
                                                    | ({"attention": attention} if attention else {}),
                                                    ensure_ascii=False, indent=1))
    (target / "results.md").write_text(markdown(summary) + attention_markdown(attention or []), encoding="utf-8")
    return summary


def _scores(records: list[dict]) -> Scores:
    n = len(records)
    share = lambda key: round(sum(r[key] for r in records) / n, 4) if n else 0.0  # noqa: E731
    return Scores(n=n, relaxed_accuracy=share("relaxed"), containment=share("contains"),
                  within_tolerance=share("within_tolerance"))


def within_tolerance(prediction: str, item: EvalQuestion) -> bool:
    """Right to the precision the chart shows: a number within the question's recorded tolerance (half the last
    printed digit at least), else the same label."""
    gold = parse_amount(item.answer, item.unit)
    if gold is None:
        return normalize(prediction) == normalize(item.answer)
    predicted = parse_amount(prediction, item.unit)
    if predicted is None:
        return False
    (value, resolution), (guess, _) = gold, predicted
    return abs(guess - value) <= max(item.tolerance, 0.5 * resolution) + 1e-9 * max(1.0, abs(value))


def attention_markdown(records: list[dict]) -> str:
    if not records:
        return ""
    from model.attention import METHOD

    lines = ["", "## Where the model looks", "", f"Each map: the {METHOD}; brighter cells drew more of it.", "",
             "| map | question | answer | prediction | attention on the image | token grid |", "|---|---|---|---|---|---|"]
    for r in records:
        cells = [f"![{r['id']}]({r['file']})", r["question"], r["answer"], r["prediction"], f"{r['image_share']:.1%}",
                 "×".join(map(str, r["grid"]))]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(summary: EvalSummary) -> str:
    lines = [f"# {summary.model}: {summary.questions} questions", "",
             "| group | value | n | relaxed accuracy | containment | within tolerance |", "|---|---|---|---|---|---|"]
    o = summary.overall
    lines.append(f"| overall | | {o.n} | {o.relaxed_accuracy:.3f} | {o.containment:.3f} | {o.within_tolerance:.3f} |")
    for key in BREAKDOWNS:
        for value, s in getattr(summary, f"by_{key}").items():
            lines.append(f"| {key} | {value} | {s.n} | {s.relaxed_accuracy:.3f} | {s.containment:.3f} | "
                         f"{s.within_tolerance:.3f} |")
    return "\n".join(lines) + "\n"
