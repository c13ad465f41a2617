"""Plan a run into shards and make the missing ones. One shard is the unit of work, retry and resume.

The CLI (`generate`) and the Prefect flow (flows/) call `prepare`, `build_shard` and `record_shard`; nothing else
writes a dataset directory.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from pipeline import __version__
import pyarrow.parquet as pq

from pipeline.chain import finish_sample, make_sample
from pipeline.shards import atomic_write_bytes, sha256_file, write_shard
from schemas import Manifest, Reject, RunConfig, Sample, ShardEntry, ShardRow
from schemas.llm import LLMStats

MANIFEST = "manifest.json"
MapFn = Callable[[Callable, Iterable[int]], Iterator]


class DatasetDirError(RuntimeError):
    """The output directory cannot be used as asked; the message says why and what to do."""


def rejects_file(index: int) -> str:
    return f"rejects/shard-{index:05d}.jsonl"


@dataclass(frozen=True)
class ShardPlan:
    index: int
    start: int
    stop: int

    @property
    def file(self) -> str:
        return f"data/shard-{self.index:05d}.parquet"

    @property
    def rejects_file(self) -> str:
        return rejects_file(self.index)


@dataclass
class RunStats:
    rows: int = 0
    rejects: Counter = field(default_factory=Counter)
    kept_shards: int = 0
    built_shards: int = 0
    seconds: float = 0.0
    llm: LLMStats | None = None

    @property
    def samples_per_second(self) -> float:
        made = self.rows + sum(self.rejects.values())
        return made / self.seconds if self.seconds else 0.0


def plan(config: RunConfig) -> list[ShardPlan]:
    k = config.shard_size
    return [ShardPlan(i, start, min(start + k, config.n)) for i, start in enumerate(range(0, config.n, k))]


def read_manifest(out: Path) -> Manifest | None:
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as error:
        raise DatasetDirError(f"{path}: not a chartsynth manifest ({error.__class__.__name__}: {error})") from error


def write_manifest(out: Path, manifest: Manifest) -> None:
    atomic_write_bytes(out / MANIFEST, manifest.model_dump_json(indent=2).encode())


def build_shard(config: RunConfig, shard: ShardPlan, out: Path, map_fn: MapFn = map,
                on_samples: Callable[[int], None] | None = None, deduper=None) -> ShardEntry:
    """Generate, render and verify the shard's samples, then write rejects and rows atomically.

    Template samples are drafted and finished in the workers; LLM samples are drafted here (async I/O, bounded
    requests in flight) and finished in the workers. `deduper` carries the run's topics across shards (llm only).
    """
    rows: list[ShardRow] = []
    rejects: list[Reject] = []
    llm = None
    indices = range(shard.start, shard.stop)
    if config.generator == "llm":
        from pipeline.llm_chain import TopicDeduper, llm_drafts

        drafts, llm = llm_drafts(config, indices, out / "cache" / "llm", deduper or TopicDeduper())
        rejects += [d for d in drafts if isinstance(d, Reject)]
        if on_samples:
            on_samples(len(rejects))
        results = map_fn(finish_sample, [d for d in drafts if isinstance(d, Sample)])
    else:
        results = map_fn(partial(make_sample, config), indices)
    for result in results:
        (rejects if isinstance(result, Reject) else rows).append(result)
        if on_samples:
            on_samples(1)
    rejects.sort(key=lambda r: r.sample_index)
    lines = "".join(r.model_dump_json() + "\n" for r in rejects)
    atomic_write_bytes(out / shard.rejects_file, lines.encode())
    sha = write_shard(out / shard.file, rows)
    return ShardEntry(index=shard.index, file=shard.file, start=shard.start, stop=shard.stop, rows=len(rows),
                      rejects=len(rejects), sha256=sha, llm=llm)


def intact(out: Path, entry: ShardEntry) -> bool:
    """The shard's files are there and its Parquet file is the one the manifest fingerprinted."""
    path = out / entry.file
    return path.exists() and (out / rejects_file(entry.index)).exists() and sha256_file(path) == entry.sha256


def prepare(config: RunConfig, out: Path) -> tuple[Manifest, list[ShardPlan]]:
    """Check `out` against `config` and return the manifest to extend and the shards still to build."""
    try:
        (out / "data").mkdir(parents=True, exist_ok=True)
        (out / "rejects").mkdir(exist_ok=True)
    except OSError as error:
        raise DatasetDirError(f"cannot write to output directory {out}: {error.strerror}") from error
    manifest = read_manifest(out)
    if manifest is None:
        manifest = Manifest(package_version=__version__, config=config)
    elif manifest.config.identity() != config.identity():
        theirs, ours = manifest.config.identity(), config.identity()
        diff = ", ".join(f"{k}={theirs[k]!r} (asked {ours[k]!r})" for k in theirs if theirs[k] != ours[k])
        raise DatasetDirError(f"{out} was generated with {diff}; use another --out or the same options to resume")
    elif config.n < manifest.config.n:
        raise DatasetDirError(f"{out} holds a run of n={manifest.config.n}; resume with --n {manifest.config.n} or more")
    planned = plan(config)
    done = {e.index: e for e in manifest.shards}
    keep, todo = [], []
    for shard in planned:
        entry = done.get(shard.index)
        kept = entry is not None and (entry.start, entry.stop) == (shard.start, shard.stop) and intact(out, entry)
        (keep if kept else todo).append(entry if kept else shard)
    manifest = manifest.model_copy(update={"config": config, "shards": keep, "package_version": __version__})
    write_manifest(out, manifest)
    return manifest, todo


@contextmanager
def sample_pool(workers: int) -> Iterator[MapFn]:
    """A map over samples: in-process for one worker, else a process pool (spawned: no inherited threads)."""
    if workers <= 1:
        yield map
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield partial(pool.map, chunksize=4)


def record_shard(out: Path, manifest: Manifest, entry: ShardEntry) -> Manifest:
    """Add a finished shard to the manifest and write it (atomically): from here on the shard is kept on resume."""
    manifest = manifest.model_copy(update={"shards": sorted([*manifest.shards, entry], key=lambda e: e.index)})
    write_manifest(out, manifest)
    return manifest


def topic_deduper(config: RunConfig, out: Path, manifest: Manifest):
    """llm runs: a deduper that already knows the topics of the shards kept in `out`; None for the template."""
    if config.generator != "llm":
        return None
    from pipeline.llm_chain import TopicDeduper

    return TopicDeduper([t for e in manifest.shards
                         for t in pq.read_table(out / e.file, columns=["topic"]).column("topic").to_pylist()])


def run_stats(out: Path, manifest: Manifest, kept: int, built: int, seconds: float) -> RunStats:
    """What a run's directory now holds, for the summary the CLI prints and the flow publishes."""
    stats = RunStats(kept_shards=kept, built_shards=built, seconds=seconds,
                     llm=LLMStats() if manifest.config.generator == "llm" else None)
    for entry in manifest.shards:
        stats.rows += entry.rows
        stats.rejects.update(r.reason for r in read_rejects(out, entry))
        if stats.llm and entry.llm:
            stats.llm.merge(entry.llm)
    return stats


def generate(config: RunConfig, out: Path, workers: int = 1,
             on_samples: Callable[[int], None] | None = None) -> tuple[Manifest, RunStats]:
    """Build every missing shard of the run into `out`; finished shards are kept (resume).

    `on_samples(k)` is told as samples are finished (kept shards count at once), for a progress bar.
    """
    started = time.perf_counter()
    manifest, todo = prepare(config, out)
    kept = len(manifest.shards)
    if on_samples:
        on_samples(sum(e.stop - e.start for e in manifest.shards))
    deduper = topic_deduper(config, out, manifest)
    with sample_pool(workers) as map_fn:
        for shard in todo:
            manifest = record_shard(out, manifest, build_shard(config, shard, out, map_fn, on_samples, deduper))
    return manifest, run_stats(out, manifest, kept, len(todo), time.perf_counter() - started)


def read_rejects(out: Path, entry: ShardEntry) -> list[Reject]:
    path = out / rejects_file(entry.index)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [Reject.model_validate_json(line) for line in lines]
