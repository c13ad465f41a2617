"""Regenerate an existing dataset into a new directory: selected rows are re-rendered (new style seed or renderer)
or, for rows made with an older prompt version, generated again; every other row is carried over unchanged.
Re-rendering with the original style gives the original bytes. One source shard is one unit of work, run by
`pipeline.run.run_job` like any other job."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

import prompts
from pipeline.run import (DatasetDirError, LocalRunner, MapFn, OnSamples, admitted_topics, intact, llm_cache_dir,
                          make_dirs, read_manifest, read_rejects, run_job, write_manifest, write_shard_files)
from pipeline.answerable import VISUAL_SUFFIX
from pipeline.sample import finish_sample, make_sample
from pipeline.style import sample_style
from pipeline.template import template_prompt_version
from renderers.charts import family
from schemas import (QA, ChartSpec, Description, Manifest, Persona, Program, Provenance, RegenerateConfig, Reject,
                     RunConfig, Sample, ShardEntry, ShardRow, StyleSpec, Topic)
from schemas.run import RunReport, ShardDrafts, ShardPlan


def current_prompt_version(generator: str) -> str:
    return prompts.llm_version() if generator == "llm" else template_prompt_version()


def sample_from_row(row: dict) -> Sample:
    """The Sample a row was written from, less what rows do not keep (the persona's domain: not drawn, not asked
    about). Visual QA is left out (and so are its not-asked counts): it is redone from the new boxes, and so is a
    template description."""
    qa = [QA.model_validate(q | {"program": Program.model_validate_json(q["program"])})
          for q in row["qa"] if q["qa_type"] != "visual"]
    metric = row.get("metric") or row["topic"][:60]  # rows written before the metric column
    return Sample(id=row["id"], lang=row["lang"], renderer=row["renderer"],
                  persona=Persona(domain="", role=row["persona"]), topic=Topic(text=row["topic"], metric=metric),
                  description=Description(text=row["description"]), spec=ChartSpec.model_validate_json(row["spec"]),
                  style=StyleSpec.model_validate_json(row["style"]), qa=qa,
                  provenance=drawing_counts_dropped(Provenance.model_validate_json(row["provenance"])))


def drawing_counts_dropped(provenance: Provenance) -> Provenance:
    """The provenance less what the last drawing counted of its visual questions: they are redone from the new one."""
    kept = {k: v for k, v in provenance.not_asked.items() if not k.endswith(VISUAL_SUFFIX)}
    return provenance.model_copy(update={"not_asked": kept})


def restyled(sample: Sample, how: RegenerateConfig) -> Sample:
    style, provenance = sample.style, sample.provenance
    chart = family(sample.spec.chart_type)
    if how.style_seed is not None:
        rng = np.random.default_rng([how.style_seed, provenance.sample_index])
        fresh = sample_style(rng, sample.lang, chart.chart_type, chart.n_colors(sample.spec), style.period_format,
                             bare_units=False)
        style = fresh.model_copy(update={k: getattr(style, k) for k in ("number_format", "full_width_digits", "period_format",
                                                                           "minus")})
        provenance = provenance.model_copy(update={"style_seed": how.style_seed})
    renderer = how.renderer if how.renderer in chart.draw else sample.renderer
    return sample.model_copy(update={"style": style, "renderer": renderer, "provenance": provenance})


class RegenerateJob(BaseModel):
    """Redo the rows of `source` that `how` selects into a new directory; carry the others over."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    how: RegenerateConfig
    config: RunConfig | None = None  # the source's run config, read by `resolve`

    @property
    def source_dir(self) -> Path:
        return Path(self.source)

    def source_manifest(self) -> Manifest:
        manifest = read_manifest(self.source_dir)
        if manifest is None:
            raise DatasetDirError(f"{self.source} has no manifest.json: not a chartsynth dataset")
        return manifest

    def resolve(self, out: Path) -> RegenerateJob:
        return self.model_copy(update={"config": self.source_manifest().config})

    def generates_llm(self) -> bool:
        return self.how.stale_prompts and self.config.generator == "llm"

    def known_topics(self, out: Path, manifest: Manifest) -> list[tuple[int, str]] | None:
        """The topics of rows this regeneration already drafted again (finished shards in `out`)."""
        if not self.generates_llm():
            return None
        known = []
        for entry in manifest.shards:
            rows = self._rows(ShardPlan(index=entry.index, start=entry.start, stop=entry.stop))
            redone = {row["id"] for row, chosen in zip(rows, self._selected(rows)) if chosen}
            known += admitted_topics(out, entry, redone)
        return known

    def prepare(self, out: Path) -> tuple[Manifest, list[ShardPlan]]:
        """Reruns into `out` resume; `out` must be new or hold this same regeneration."""
        src = self.source_manifest()
        if self.source_dir.resolve() == out.resolve():
            raise DatasetDirError("regenerate writes a new directory: --out must differ from the source")
        if self.count_selected()[0] == 0:
            raise DatasetDirError(f"no row of {self.source} matches the selection ({self.how.described()}): nothing "
                                  "to regenerate")
        make_dirs(out)
        mine = read_manifest(out)
        origin = str(self.source_dir.resolve())
        if mine is not None and (mine.regeneration != self.how or mine.regenerated_from != origin):
            raise DatasetDirError(f"{out} holds another regeneration; use a new --out")
        mine = mine or Manifest(package_version=src.package_version, config=src.config, regenerated_from=origin,
                                regeneration=self.how)
        done = {e.index for e in mine.shards if intact(out, e)}
        mine = mine.model_copy(update={"shards": [e for e in mine.shards if e.index in done]})
        write_manifest(out, mine)
        return mine, [ShardPlan(index=e.index, start=e.start, stop=e.stop) for e in src.shards if e.index not in done]

    def _selected(self, rows: list[dict]) -> list[bool]:
        stale = current_prompt_version(self.config.generator)
        return [self.how.selects(row) and (not self.how.stale_prompts
                                           or json.loads(row["provenance"])["prompt_version"] != stale)
                for row in rows]

    def count_selected(self) -> tuple[int, int]:
        """(rows selected, rows in all) over the source's shards, reading only the columns a selection looks at."""
        selected = total = 0
        for entry in self.source_manifest().shards:
            rows = pq.read_table(self.source_dir / entry.file,
                                 columns=["id", "chart_type", "lang", "renderer", "provenance"]).to_pylist()
            selected += sum(self._selected(rows))
            total += len(rows)
        return selected, total

    def _rows(self, shard: ShardPlan) -> list[dict]:
        return pq.read_table(self.source_dir / shard.file).to_pylist()

    def draft(self, shard: ShardPlan, out: Path) -> ShardDrafts:
        """Stale LLM rows are drafted again here (replies cached in the source's cache); the rest where finished."""
        if not self.generates_llm():
            return ShardDrafts()
        from pipeline.llm_chain import llm_drafts

        rows = self._rows(shard)
        indices = [json.loads(r["provenance"])["sample_index"] for r, chosen in zip(rows, self._selected(rows)) if chosen]
        drafts, llm = llm_drafts(self.config, indices, llm_cache_dir(self.source_dir))
        return ShardDrafts(drafts=drafts, llm=llm)

    def finish(self, shard: ShardPlan, out: Path, drafts: ShardDrafts, map_fn: MapFn = map,
               on_samples: OnSamples | None = None) -> ShardEntry:
        rows = self._rows(shard)
        chosen = self._selected(rows)
        redo = [r for r, c in zip(rows, chosen) if c]
        if drafts.drafts is not None:
            results = [finish_sample(d) if isinstance(d, Sample) else d for d in drafts.drafts]
        elif self.how.stale_prompts:
            results = list(map_fn(partial(make_sample, self.config), [json.loads(r["provenance"])["sample_index"] for r in redo]))
        else:
            results = list(map_fn(finish_sample, [restyled(sample_from_row(r), self.how) for r in redo]))
        redone = iter(results)
        source_entry = next(e for e in self.source_manifest().shards if e.index == shard.index)
        new_rows, rejects = [], read_rejects(self.source_dir, source_entry)
        for row, c in zip(rows, chosen):
            result = next(redone) if c else ShardRow.model_validate(row)
            (rejects if isinstance(result, Reject) else new_rows).append(result)
            if on_samples:
                on_samples(1)
        return write_shard_files(out, shard, new_rows, rejects, source_entry.llm)


def regenerate(source: Path, out: Path, how: RegenerateConfig, workers: int = 1) -> tuple[Manifest, RunReport]:
    with LocalRunner(workers) as runner:
        return run_job(RegenerateJob(source=str(source), how=how), out, runner)
