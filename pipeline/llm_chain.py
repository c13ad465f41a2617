"""The LLM chain: persona → topic → description → data → QA, each step's JSON validated by its schemas/ model,
sent back for repair on error, and rejected with its reason (and the raw reply) when repair fails.

Answers the model proposes are recomputed from the table: a wrong one is corrected from the table, an unanswerable
one dropped; program-written questions are mixed in. The same renderers, verifier and writer then finish the sample.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ValidationError

import prompts
from pipeline import __version__
from common.llm_client import LLMClient, LLMRequestRejected, LLMUnavailable, ResponseCache
from pipeline.passage import contradiction
from pipeline.qa import OPS, Unverifiable, evaluate, program_qa, wording, write_answer
from pipeline.style import sample_style
from pipeline.template import SCALE_WORDS, charted_measure, choose_renderer, draft_spec, sample_id, seed_ranges, seed_role
from pipeline.style import sample_period_format
from pipeline.verify import check_answer
from renderers.charts import ChartFamily, families
from schemas import QA, ChartSpec, Description, Persona, Program, Provenance, Reject, RunConfig, Sample, Topic
from schemas.llm import LLMStats, ValuesDraft, QADraft, QADrafts, pinned, qa_drafts_schema
from schemas.seeds import TemplateChoice

STEP_SEEDS = {"persona": 1, "topic": 2, "description": 3, "data": 4, "qa": 5}
TOPIC_SIMILARITY = 0.8
REPAIR_SEED = 7919  # added to a step's seed per repair attempt
LLM_QUESTIONS = 4
log = logging.getLogger("chartsynth.llm")


class StepFailed(Exception):
    def __init__(self, step: str, raw: str, error: str, reason: str | None = None):
        super().__init__(f"{step}: {error}")
        self.step, self.raw, self.error = step, raw, error
        self.reason = reason or f"llm_{step}_invalid"


def decode(text: str):
    """The reply's JSON, leniently: raw control characters inside strings (which llama.cpp's JSON grammar allows
    and strict JSON forbids) are taken as written instead of sent back for a repair the grammar cannot make."""
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg} at character {error.pos} (near {text[max(0, error.pos - 30):error.pos + 30]!r})") from error


PROSE = ("role", "text", "metric", "title", "question")  # fields a model writes in its own words


def _strings(value, fields: tuple[str, ...] | None = None) -> list[str]:
    """The strings inside a reply (model fields, lists, nested models): of the named fields only, if given — nested
    models are searched whatever their field's name; units ("%", "$") and answers are never checked as prose."""
    if isinstance(value, BaseModel):
        found = []
        for name in type(value).model_fields:
            field = getattr(value, name)
            nested = isinstance(field, BaseModel) or (isinstance(field, list) and any(
                isinstance(item, BaseModel) for item in field))
            if name not in ("unit", "answer") and (fields is None or name in fields or nested):
                found += _strings(field, fields)
        return found
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item, fields)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item, fields)]
    return []


_TEMPLATE = re.compile(r"^JSON\s*[:：].*$", re.M)  # the shape written out, for servers that do not enforce it


COPIED_WORDS = 8  # consecutive words (Latin) a text may not share with a worked example ...
COPIED_CHARS = 18  # ... or characters (Japanese)


def _runs(text: str) -> set[tuple[str, ...]]:
    """The text's runs of COPIED_WORDS words, or of COPIED_CHARS characters where it is written without spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text):
        chars = re.sub(r"\s+", "", text)
        return {tuple(chars[i:i + COPIED_CHARS]) for i in range(len(chars) - COPIED_CHARS + 1)}
    words = re.findall(r"\w+", text)
    return {tuple(words[i:i + COPIED_WORDS]) for i in range(len(words) - COPIED_WORDS + 1)}


def copied_example(value: BaseModel, examples: list[dict]) -> str | None:
    """A reply text that repeats a worked example's (trigram overlap ≥ `TOPIC_SIMILARITY`) or carries over a clause
    of one ("…, while housing loans stayed almost flat" in a passage on waste): small models copy them."""
    shown = [t for example in examples for t in _strings(example) if len(t) >= 6 and not t.replace(".", "").isdigit()]
    for text in _strings(value, PROSE):
        grams, runs = _trigrams(text), _runs(text)
        for example in shown:
            if len(text) >= 6 and _jaccard(grams, _trigrams(example)) >= TOPIC_SIMILARITY:
                return f"{text!r} copies the example {example!r}: write your own"
            if runs & _runs(example):
                return f"{text[:120]!r} carries over words of the example {example!r}: write this chart's own sentence"
    return None


_PLACEHOLDER = re.compile(r"(?i)^(?:value|series|category|item|label|name|text|系列|項目|カテゴリー?|値|名前)[\s_\-]*"
                          r"[A-Za-z0-9０-９Ａ-Ｚ]?$|^\W*$|\$\w+|人物像\(|\(at most|\d+字以内"
                          r"|(?:^|\n)\s*(?:人物|テーマ|指標|説明文|グラフ|Person|Topic|Measure|Passage|Chart)\s*[:：]|[{}]")


def placeholder_text(value: BaseModel) -> str | None:
    """Texts that are the prompt's slots rather than content: 'value_B', 'series1', '}', '人物像(60字以内)', or that
    echo the prompt's own field names ('人物: …', 'Measure: …') or JSON braces."""
    for text in _strings(value, (*PROSE, "series", "label")):
        if _PLACEHOLDER.search(text.strip()):
            return f"{text!r} is a placeholder, not content: write a real label or sentence"
    return None


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']} (got {str(e.get('input'))[:80]!r})"
                         for e in error.errors()[:5])
    return str(error)[:500]


def _content(text: str) -> set[str]:
    """What a text is about, roughly: Latin words of 4+ letters cut to 5 (deposit/deposits), acronyms (ARR, GDP), and
    character pairs of kanji/katakana runs (預金等残高 → 預金, 金等, 等残, 残高)."""
    text = unicodedata.normalize("NFKC", text)
    acronyms = {w.lower() for w in re.findall(r"(?<![A-Za-z])[A-Z]{2,}(?![A-Za-z])", text)}
    text = text.lower()
    words = acronyms | {w[:5] for w in re.findall(r"[a-z]{4,}", text) if w not in _STOPWORDS}
    runs = re.findall(r"[\u4e00-\u9fff\u30a0-\u30ff]+", text)
    return words | {run[i:i + 2] for run in runs for i in range(len(run) - 1)} | {run for run in runs if len(run) == 1}


_STOPWORDS = {"with", "from", "that", "this", "their", "they", "about", "which", "over", "each", "into", "chart"}


def unrelated(text: str, reference: str, field: str, what: str) -> str | None:
    """A text sharing no content word with what it should be about: the small model's drift (a topic about 'a man
    with a blond beard' for a deposit balance)."""
    if _content(text) & _content(reference):
        return None
    return f"{field} {text[:120]!r} does not mention {what} ({reference!r}): write about it"


def restates(text: str, role: str) -> str | None:
    """A topic that only repeats who the person is (trigram overlap ≥ TOPIC_SIMILARITY)."""
    if _jaccard(_trigrams(text), _trigrams(role)) >= TOPIC_SIMILARITY:
        return f"text {text!r} repeats the person {role!r}: say what the chart shows"
    return None


def units_text(plan: ChartSpec, ranges: dict[str, tuple[float, float]], lang: str) -> str:
    """Each series' unit and the magnitudes its measure usually has, one line per series."""
    usual = "通常" if lang == "ja" else "usually"
    return "\n".join(f"- {c}: {plan.series_unit[c] or '-'} ({usual} {ranges[c][0]:g}–{ranges[c][1]:g})"
                     for c in plan.data.columns)


PLAUSIBLE_FACTOR = 10  # values may stray this far beyond the seed's usual range before they read as absurd


def checked_values(chart: ChartFamily, spec: ChartSpec, ranges: dict[str, tuple[float, float]], description: str
                   ) -> ChartSpec:
    """`spec` if its values have magnitudes the measure can have, move (a series of one repeated value is filler,
    unless it is a steady share of a 帯グラフ), mean what the family needs (ChartFamily.meaning) and do not
    contradict the passage; else the first problem, for repair."""
    for column in spec.data.columns:
        values, (low, high) = spec.data.column(column), ranges[column]
        floor = low * PLAUSIBLE_FACTOR if low < 0 else low / PLAUSIBLE_FACTOR  # signed measures (changes) stray both ways
        odd = [v for v in values if not floor <= v <= high * PLAUSIBLE_FACTOR]
        if odd:
            raise ValueError(f"{column}: {odd[0]:g} is not a plausible value in {spec.series_unit[column] or 'its unit'} "
                             f"(usually {low:g}–{high:g})")
        if len(values) >= 3 and len(set(values)) == 1 and not chart.shares_per_category:
            raise ValueError(f"{column}: every value is {values[0]:g}; write the real movement")
    problem = chart.meaning(spec) or contradiction(description, spec)
    if problem:
        raise ValueError(problem)
    return spec


def table_text(spec: ChartSpec) -> str:
    header = " | ".join(["", *spec.data.columns])
    lines = [" | ".join([label, *(f"{v:.{spec.decimals_of(c)}f}" for v, c in zip(row, spec.data.columns))])
             for label, row in zip(spec.data.index, spec.data.data)]
    return "\n".join([header, *lines])


def _trigrams(text: str) -> set[str]:
    normal = re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())
    return {normal[i : i + 3] for i in range(max(1, len(normal) - 2))}


@lru_cache(maxsize=256)
def json_schema(model: type[BaseModel]) -> dict:
    """A model's JSON Schema, made once per model (the same dict object, so the client's derived forms are reused)."""
    return model.model_json_schema()


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


_HASH_SEEDS = np.random.default_rng(20240613).integers(1, 2**63, size=(2, 128), dtype=np.uint64)


def minhash(grams: set[str]) -> np.ndarray:
    """128 MinHash values of a trigram set: each trigram hashed once (blake2b), then 128 multiply-add hashes of it
    (uint64, wrapping), the minimum of each kept. Deterministic across processes and machines."""
    hashed = np.array([int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") for g in grams],
                      dtype=np.uint64)
    a, b = _HASH_SEEDS
    with np.errstate(over="ignore"):
        return (a[:, None] * hashed[None, :] + b[:, None]).min(axis=1)


class TopicDeduper:
    """Refuses a topic whose character trigrams overlap an earlier one's by `TOPIC_SIMILARITY` or more (Jaccard).
    Earlier topics are found through MinHash LSH — 32 bands of 4 values; a pair at Jaccard 0.8 shares a band with
    probability 1 − (1 − 0.8⁴)³² > 0.99999 — and confirmed with the exact Jaccard, so a check costs about the same
    whether 10 or 10 million topics came before. Admission runs in sample order, so a run gives the same result
    locally and on Dask. With fan-out, the charts of one topic share it: `group_of(sample index)` names the samples
    sharing a topic, and a group's topic is admitted for each of its samples."""

    BANDS, ROWS = 32, 4

    def __init__(self, earlier: list[tuple[int, str]] = (), group_of=lambda index: index):
        self.seen: list[set[str]] = []
        self.buckets: dict[tuple[int, bytes], list[int]] = {}
        self.compared = 0  # exact comparisons made: what the index saves
        self.group_of, self._group_topic = group_of, {}
        for index, text in earlier:
            self.admit(text, index)

    def admit(self, text: str, index: int | None = None) -> bool:
        """Whether sample `index`'s topic `text` is new (or its group's, already admitted)."""
        group = None if index is None else self.group_of(index)
        if group is not None and self._group_topic.get(group) == text:
            return True
        grams = _trigrams(text)
        signature = minhash(grams)
        keys = [(band, signature[band * self.ROWS:(band + 1) * self.ROWS].tobytes()) for band in range(self.BANDS)]
        candidates = sorted({i for key in keys for i in self.buckets.get(key, ())})
        self.compared += len(candidates)
        if any(_jaccard(grams, self.seen[i]) >= TOPIC_SIMILARITY for i in candidates):
            return False
        for key in keys:
            self.buckets.setdefault(key, []).append(len(self.seen))
        self.seen.append(grams)
        if group is not None:
            self._group_topic[group] = text
        return True


class TopicGate:
    """Topic dedup inside a shard *before* a sample's later steps (description, data, QA): no tokens are spent on a
    duplicate. Samples are admitted in index order — each waits for the decisions of the shard's samples before it,
    whatever order their replies come in — so a shard drafts the same everywhere (locally, on Dask). Duplicates
    across shards are found afterwards, by admit_topics over the whole run."""

    def __init__(self, indices: Sequence[int], group_of):
        self.deduper = TopicDeduper(group_of=group_of)
        loop = asyncio.get_running_loop()
        self.decided = {i: loop.create_future() for i in indices}
        self.before = dict(zip(indices[1:], indices[:-1]))

    async def admit(self, index: int, text: str) -> bool:
        if index in self.before:
            await self.decided[self.before[index]]
        try:
            return self.deduper.admit(text, index)
        finally:
            self.passed(index)

    def passed(self, index: int) -> None:
        """Sample `index` has no (more) topic to decide: admitted, refused, or ended before its topic."""
        if not self.decided[index].done():
            self.decided[index].set_result(None)


class LLMChain:
    def __init__(self, config: RunConfig, client: LLMClient, gate: TopicGate | None = None):
        self.config, self.client, self.gate = config, client, gate
        self.stats = LLMStats()

    async def step(self, step: str, lang: str, model: type[BaseModel], prompt: str, seed: int, convert=None,
                   check=None, schema_model: type[BaseModel] | None = None):
        """Ask (for `schema_model`'s JSON Schema, by default `model`'s), validate (`model`'s shape, then `check`'s
        meaning), send the problem back for repair — each repair with a new seed, so a model that repeats itself
        gets another draw; raise StepFailed when attempts run out."""
        def asked(text: str) -> str:  # where the decoder enforces the shape, the shape written out is noise
            return text if self.config.llm_mode == "text" else re.sub(r"\n{3,}", "\n\n", _TEMPLATE.sub("", text)).strip()

        shots = prompts.llm_shots(step, lang)
        messages = [{"role": "system", "content": prompts.llm_prompt("system", lang)}]
        for shot_prompt, shot_reply in shots:  # worked examples as earlier turns: shown, not described
            messages += [{"role": "user", "content": asked(shot_prompt)}, {"role": "assistant", "content": shot_reply}]
        messages.append({"role": "user", "content": asked(prompt)})
        examples = [json.loads(reply) for _, reply in shots]
        schema = json_schema(schema_model or model)
        for attempt in range(self.config.repair_attempts + 1):
            temperature, max_tokens = self.config.sampling(step)
            try:
                reply = await self.client.chat(messages, name=step, schema=schema, temperature=temperature,
                                               max_tokens=max_tokens, seed=seed + REPAIR_SEED * attempt)
            except LLMRequestRejected as refused:
                raise StepFailed(step, "", str(refused), reason=f"llm_{step}_refused") from refused
            self.stats.usage.add(step, reply.prompt_tokens, reply.completion_tokens, reply.cached)
            try:
                value = model.model_validate(decode(reply.text))
                problem = (check(value) if check else None) or copied_example(value, examples) or placeholder_text(value)
                if problem is None:
                    return convert(value) if convert else value
            except (ValidationError, ValueError) as error:
                problem = _error_text(error)
            messages = messages + [{"role": "assistant", "content": reply.text},
                                   {"role": "user", "content": prompts.llm_prompt("repair", lang, error=problem)}]
        raise StepFailed(step, reply.text, problem)

    def plan(self, index: int) -> tuple[str, ChartFamily, TemplateChoice]:
        """What a sample is about, drawn from the seed bank: language and persona seed (domain, organisation,
        function) from its persona group's first sample; the chart family (one the domain's topics can fill) and the
        measure (a seed topic of that domain it can draw) from its topic group's first — the group's other charts
        draw a family that can draw that measure. The model writes the persona, topic, passage, title, values and
        questions; the plan keeps its labels, series and units real."""
        config = self.config
        persona_rng = np.random.default_rng([config.seed, config.persona_group(index), 1])
        lang = config.lang if config.lang != "mix" else ("ja" if persona_rng.random() < 0.5 else "en")
        domain = prompts.seeds().domains[int(persona_rng.integers(len(prompts.seeds().domains)))]
        org = domain.orgs[int(persona_rng.integers(len(domain.orgs)))]
        function = domain.functions[int(persona_rng.integers(len(domain.functions)))]
        topic_rng = np.random.default_rng([config.seed, config.topic_group(index), 2])
        drawable = [f for f in families().values() if any(f.fits(t) for t in domain.topics)]
        chart = drawable[int(topic_rng.integers(len(drawable)))]
        fitting = [t for t in domain.topics if chart.fits(t)]
        topic = fitting[int(topic_rng.integers(len(fitting)))]
        if index != config.topic_group(index):  # fan-out: another chart of the group's topic and measure
            charts = [f for f in families().values()
                      if f.fits(topic) and f.change_on_previous == chart.change_on_previous]
            chart = charts[int(np.random.default_rng([config.seed, index, 3]).integers(len(charts)))]
        return lang, chart, TemplateChoice(domain=domain, topic=topic, org=org, function=function)

    async def draft(self, index: int) -> Sample | Reject:
        config = self.config
        rng = np.random.default_rng([config.seed, index])
        lang, chart, choice = self.plan(index)
        # a step's seed is that of the sample leading the group sharing its output: shared steps are the same request,
        # sent once (LLMClient joins identical requests in flight; the cache answers later ones)
        shared_by = {"persona": config.persona_group(index), "topic": config.topic_group(index)}
        seed = lambda step: (config.seed * 1_000_003 + shared_by.get(step, index) * 10 + STEP_SEEDS[step]) % 2**31  # noqa: E731
        ident = sample_id(config.seed, index)
        plan, fmt = draft_spec(rng, chart, choice, lang, sample_period_format(rng, lang))
        metric, seed_persona = charted_measure(chart, choice.topic, lang, fmt), seed_role(choice, lang)
        ranges = seed_ranges(choice.topic, plan)
        try:
            persona = await self.step("persona", lang, Persona, prompts.llm_prompt(
                "persona", lang, seed_role=seed_persona, domain=choice.domain.id), seed("persona"),
                schema_model=pinned(Persona, domain=choice.domain.id),
                check=lambda p: (f"domain must be {choice.domain.id!r} as given, not {p.domain!r}"
                                 if p.domain.strip().lower() != choice.domain.id
                                 else unrelated(p.role, seed_persona, "role", "the job given")))
            topic = await self.step("topic", lang, Topic, prompts.llm_prompt(
                "topic", lang, role=persona.role, metric=metric), seed("topic"),
                schema_model=pinned(Topic, naming={"text": metric}, lang=lang, metric=metric),
                check=lambda t: (f"metric must be {metric!r} as given, not {t.metric!r}" if t.metric.strip() != metric
                                 else restates(t.text, persona.role) or unrelated(t.text, metric, "text", "the measure")))
            if self.gate is not None and not await self.gate.admit(index, topic.text):
                self.stats.topics += 1
                return Reject(id=ident, sample_index=index, stage="validate", step="topic", reason="duplicate_topic",
                              detail=f"topic {topic.text!r} repeats an earlier one of this shard (description, data "
                                     "and QA not asked)")
            description = await self.step("description", lang, Description, prompts.llm_prompt(
                "description", lang, role=persona.role, topic=topic.text, metric=metric), seed("description"),
                check=lambda d: unrelated(d.text, f"{metric} {topic.text}", "text", "the measure or the topic"))
            series, labels = tuple(plan.data.columns), tuple(plan.data.index)
            whole = tuple(plan.decimals_of(c) == 0 for c in series)
            spec = await self.step("data", lang, ValuesDraft.sized(series, labels, whole, metric, lang), prompts.llm_prompt(
                "data", lang, chart_type=chart.chart_type.value, topic=topic.text, metric=metric,
                passage=description.text, series=json.dumps(list(series), ensure_ascii=False),
                labels=json.dumps(list(labels), ensure_ascii=False), units=units_text(plan, ranges, lang),
                chart_rule=prompts.chart_rule(chart.chart_type.value, lang)), seed("data"),
                convert=lambda d: checked_values(chart, d.filled(plan, chart.settle), ranges, description.text))
            reply_model, item_model = qa_drafts_schema(
                {op: rule.args for op, rule in OPS.items() if rule.by_llm}, spec.data.index, spec.data.columns,
                LLM_QUESTIONS)
            drafts = await self.step("qa", lang, QADrafts, prompts.llm_prompt(
                "qa", lang, count=LLM_QUESTIONS, unit=spec.unit or "-", table=table_text(spec)), seed("qa"),
                schema_model=reply_model)
        except StepFailed as failure:
            return Reject(id=ident, sample_index=index, stage="generate", step=failure.step,
                          reason=failure.reason, detail=failure.error, raw=failure.raw)
        finally:
            if self.gate is not None:
                self.gate.passed(index)  # ended before its topic was decided: the samples after it need not wait
        bare_units = all(u and u[0] not in SCALE_WORDS for u in spec.series_unit.values())
        style = sample_style(rng, lang, chart.chart_type, chart.n_colors(spec), fmt, bare_units)
        qa = self.checked_answers(drafts, item_model, spec, style, lang)
        qa += program_qa(spec, metric, style, lang, rng, wording(config.seed, index), k=2)
        renderer = choose_renderer(chart, config.renderer, rng)
        return Sample(id=ident, lang=lang, renderer=renderer, persona=persona, topic=topic, description=description,
                      spec=spec, style=style, qa=qa,
                      provenance=Provenance(generator="llm", model=config.model, prompt_version=prompts.llm_version(),
                                            run_seed=config.seed, sample_index=index, package_version=__version__))

    def checked_answers(self, drafts: QADrafts, item_model: type[QADraft], spec: ChartSpec, style, lang: str
                        ) -> list[QA]:
        """Keep right answers, rewrite wrong ones from the table, drop questions whose program is malformed or names
        labels the table lacks (`item_model` says which) or that the table cannot answer."""
        kept = []
        counts = self.stats.verification
        for raw in drafts.items:
            try:
                draft = item_model.model_validate(raw)
                program = Program.model_validate(draft.program.model_dump())
                truth = evaluate(program, spec, [])
            except (ValidationError, Unverifiable):
                counts.dropped += 1
                continue
            answer, unit = write_answer(program.op, truth, spec, program.col, style, lang)
            qa = QA(question=draft.question, answer=draft.answer, qa_type=draft.qa_type, unit=unit,
                    answer_type=OPS[program.op].answer_type, program=program)
            if check_answer(qa, spec, [], lang) is None:
                counts.kept += 1
            else:
                qa = qa.model_copy(update={"answer": answer})
                counts.corrected += 1
            kept.append(qa)
        return kept


class Drafter:
    """Drafts shards on one event loop in a background thread, with one client and one cache for the run: shards
    drafting at once share the requests-in-flight budget, so the next shard's requests take the slots a shard's slow
    tail frees, and the server keeps working while the caller renders."""

    def __init__(self, config: RunConfig, cache_dir: Path):
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llm-drafter", daemon=True)
        self.thread.start()
        self.cache = ResponseCache(cache_dir)

        async def open_client() -> LLMClient:  # its queues and connections belong to this loop
            client = LLMClient(config.base_url, config.model, config.llm_mode, self.cache,
                               max_in_flight=config.max_in_flight, timeout_s=config.timeout_s, outage_s=config.outage_s,
                               requests_per_minute=config.requests_per_minute,
                               tokens_per_minute=config.tokens_per_minute,
                               batch_poll_s=config.batch_poll_s if config.batch else None)
            await client.identify()
            return client

        self.client = asyncio.run_coroutine_threadsafe(open_client(), self.loop).result()

    async def _draft(self, indices: Sequence[int]) -> tuple[list[Sample | Reject], LLMStats]:
        # per call: its stats are this shard's, its topic gate this shard's samples'
        chain = LLMChain(self.config, self.client, TopicGate(list(indices), self.config.topic_group))

        async def draft_or_reject(index: int) -> Sample | Reject:
            """A fault of ours met by one sample (e.g. a reply no check foresaw) loses that sample, counted and logged
            with its traceback, not a million-sample run; a server that is down still stops the run."""
            try:
                return await chain.draft(index)
            except LLMUnavailable:
                raise
            except Exception as error:  # noqa: BLE001 - recorded as the sample's reject
                log.exception("sample %d: unexpected error while drafting; rejected as internal_error", index)
                return Reject(id=sample_id(self.config.seed, index), sample_index=index, stage="generate",
                              reason="internal_error", detail=f"{type(error).__name__}: {error}"[:500])

        drafts = await asyncio.gather(*(draft_or_reject(i) for i in indices))
        return list(drafts), chain.stats

    def draft(self, indices: Sequence[int]) -> tuple[list[Sample | Reject], LLMStats]:
        """Draft samples `indices` (callable from any thread; calls overlap)."""
        return asyncio.run_coroutine_threadsafe(self._draft(indices), self.loop).result()

    def close(self) -> None:
        """Cancel what is still drafting (its callers get CancelledError rather than waiting forever), then stop."""
        async def shutdown() -> None:
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self.client.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()
        self.cache.close()


_drafters: dict[tuple[str, Path], Drafter] = {}
_drafters_lock = threading.Lock()


def llm_drafts(config: RunConfig, indices: Sequence[int], cache_dir: Path) -> tuple[list[Sample | Reject], LLMStats]:
    """Draft samples concurrently (bounded requests in flight, shared by every shard of the run drafting in this
    process); replies are cached under `cache_dir`."""
    key = (config.model_dump_json(), cache_dir.resolve())
    with _drafters_lock:
        drafter = _drafters.get(key)
        if drafter is None:
            drafter = _drafters[key] = Drafter(config, cache_dir)
    return drafter.draft(indices)


@atexit.register
def close_drafters() -> None:
    """End the run's drafting: connections closed, cache written (run_job calls it; atexit for Dask workers)."""
    with _drafters_lock:
        while _drafters:
            _drafters.popitem()[1].close()


def admit_topics(drafts: list[Sample | Reject], stats: LLMStats, deduper: TopicDeduper) -> list[Sample | Reject]:
    """Reject drafts whose topic repeats an earlier one. Called in sample-index order over the whole run, so the
    outcome does not depend on which shard finished first."""
    out = []
    for draft in drafts:
        if isinstance(draft, Sample):
            stats.topics += 1
            distinct = len(deduper.seen)
            if not deduper.admit(draft.topic.text, draft.provenance.sample_index):
                draft = Reject(id=draft.id, sample_index=draft.provenance.sample_index, stage="validate", step="topic",
                               reason="duplicate_topic", detail=f"topic {draft.topic.text!r} repeats an earlier one")
            stats.distinct_topics += len(deduper.seen) - distinct
        out.append(draft)
    return out
