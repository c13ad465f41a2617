"""Regenerate an existing dataset into a new directory: selected rows are re-rendered (new style seed or renderer)
or, for rows made with an older prompt version, generated again; every other row is carried over unchanged.
Re-rendering with the original style gives the original bytes. One source shard is one unit of work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

import prompts
from pipeline.chain import finish_sample, make_sample
from pipeline.run import (DatasetDirError, atomic_write_bytes, intact, read_manifest, read_rejects, record_shard,
                          rejects_file, write_manifest)
from pipeline.shards import write_shard
from renderers.style import sample_style
from schemas import (QA, ChartSpec, ChartType, Description, Manifest, Persona, Program, Provenance, RegenerateConfig,
                     Reject, RunConfig, Sample, ShardEntry, ShardRow, StyleSpec, Topic)


def current_prompt_version(generator: str) -> str:
    if generator == "llm":
        return prompts.llm_version()
    return f'{prompts.load("template_text")["version"]}+{prompts.load("seeds")["version"]}'


def sample_from_row(row: dict) -> Sample:
    """The Sample a row was written from, less what rows do not keep (the persona's domain, the topic's metric);
    neither is drawn, and visual questions do not use them. Visual QA is left out: it is redone from the new boxes."""
    qa = [QA.model_validate(q | {"program": Program.model_validate_json(q["program"])})
          for q in row["qa"] if q["qa_type"] != "visual"]
    return Sample(id=row["id"], lang=row["lang"], renderer=row["renderer"],
                  persona=Persona(domain="", role=row["persona"]), topic=Topic(text=row["topic"], metric=row["topic"][:60]),
                  description=Description(text=row["description"]), spec=ChartSpec.model_validate_json(row["spec"]),
                  style=StyleSpec.model_validate_json(row["style"]), qa=qa,
                  provenance=Provenance.model_validate_json(row["provenance"]))


def restyled(sample: Sample, how: RegenerateConfig) -> Sample:
    style, provenance = sample.style, sample.provenance
    if how.style_seed is not None:
        rng = np.random.default_rng([how.style_seed, provenance.sample_index])
        spec = sample.spec
        round_chart = spec.chart_type in (ChartType.PIE, ChartType.DONUT)
        fresh = sample_style(rng, sample.lang, spec.chart_type, len(spec.data.index if round_chart else spec.data.columns),
                             style.period_format, bare_units=False)
        style = fresh.model_copy(update={k: getattr(style, k) for k in ("number_format", "full_width_digits", "period_format")})
        provenance = provenance.model_copy(update={"style_seed": how.style_seed})
    renderer = how.renderer if how.renderer and sample.spec.chart_type is not ChartType.TABLE else sample.renderer
    return sample.model_copy(update={"style": style, "renderer": renderer, "provenance": provenance})


def regenerate_shard(source: Path, out: Path, entry: ShardEntry, config: RunConfig, how: RegenerateConfig) -> ShardEntry:
    rows = pq.read_table(source / entry.file).to_pylist()
    stale = current_prompt_version(config.generator)
    kept: list[ShardRow | None] = []
    redo: list[dict] = []
    for row in rows:
        chosen = how.selects(row) and (not how.stale_prompts or json.loads(row["provenance"])["prompt_version"] != stale)
        kept.append(None if chosen else ShardRow.model_validate(row))
        if chosen:
            redo.append(row)
    if how.stale_prompts:
        indices = [json.loads(r["provenance"])["sample_index"] for r in redo]
        if config.generator == "llm":
            from pipeline.llm_chain import TopicDeduper, llm_drafts

            drafts, _ = llm_drafts(config, indices, source / "cache" / "llm", TopicDeduper())
            results = [finish_sample(d) if isinstance(d, Sample) else d for d in drafts]
        else:
            results = [make_sample(config, i) for i in indices]
    else:
        results = [finish_sample(restyled(sample_from_row(r), how)) for r in redo]
    redone = iter(results)
    new_rows, rejects = [], list(read_rejects(source, entry))
    for row in kept:
        result = row if row is not None else next(redone)
        (rejects if isinstance(result, Reject) else new_rows).append(result)
    atomic_write_bytes(out / rejects_file(entry.index), "".join(r.model_dump_json() + "\n" for r in rejects).encode())
    sha = write_shard(out / entry.file, new_rows)
    return entry.model_copy(update={"rows": len(new_rows), "rejects": len(rejects), "sha256": sha})


def prepare_regeneration(source: Path, out: Path, how: RegenerateConfig) -> tuple[Manifest, Manifest, list[ShardEntry]]:
    """(source manifest, output manifest so far, source shards still to do). Reruns into `out` resume."""
    src = read_manifest(source)
    if src is None:
        raise DatasetDirError(f"{source} has no manifest.json: not a chartsynth dataset")
    if source.resolve() == out.resolve():
        raise DatasetDirError("regenerate writes a new directory: --out must differ from the source")
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "rejects").mkdir(exist_ok=True)
    mine = read_manifest(out)
    if mine is not None and (mine.regeneration != how or mine.regenerated_from != str(source.resolve())):
        raise DatasetDirError(f"{out} holds another regeneration; use a new --out")
    mine = mine or Manifest(package_version=src.package_version, config=src.config,
                            regenerated_from=str(source.resolve()), regeneration=how)
    done = {e.index for e in mine.shards if intact(out, e)}
    mine = mine.model_copy(update={"shards": [e for e in mine.shards if e.index in done]})
    write_manifest(out, mine)
    return src, mine, [e for e in src.shards if e.index not in done]


def regenerate(source: Path, out: Path, how: RegenerateConfig) -> Manifest:
    src, manifest, todo = prepare_regeneration(source, out, how)
    for entry in todo:
        manifest = record_shard(out, manifest, regenerate_shard(source, out, entry, src.config, how))
    return manifest
