"""Every dataset directory is written by `run_job`: plan the shards still to make, run each one's two steps through a
runner, dedup topics in sample order between them, record finished shards in the manifest, report.

A job says what the shards are (`GenerateJob` here, `RegenerateJob` in pipeline/regenerate.py); a runner says where
the steps run (`LocalRunner` here: in this process with a pool of render processes; `flows.datasets.PrefectRunner`:
Prefect tasks on threads or a Dask cluster). The CLI and the Prefect flows differ only in the runner they pass.

The two steps of a shard: `draft` (LLM replies; nothing for the template generator) and `finish` (draft what is left,
render, verify, write the shard's Parquet file and rejects atomically). Between them, in sample order whatever the
runner, drafts whose topic repeats an earlier one are rejected — so parallel runs and local runs write the same bytes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Protocol

import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, ValidationError

from common.llm_client import LLMUnavailable, ResponseCache, probe_modes
from common.shards import atomic_write_bytes, sha256_file, write_shard
from pipeline import __version__
from pipeline.sample import finish_sample, make_sample
from pipeline.template import sample_index
from schemas import Manifest, Reject, RunConfig, Sample, ShardEntry, ShardRow
from schemas.llm import LLMStats
from schemas.run import RunReport, ShardDrafts, ShardPlan, rejects_file

MANIFEST = "manifest.json"
MapFn = Callable[[Callable, Iterable], Iterator]
OnSamples = Callable[[int], None]


class DatasetDirError(RuntimeError):
    """The output directory cannot be used as asked; the message says why and what to do."""


# ---------------------------------------------------------------- the manifest and shard files

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


def record_shard(out: Path, manifest: Manifest, entry: ShardEntry) -> Manifest:
    """Add a finished shard to the manifest and write it (atomically): from here on the shard is kept on resume."""
    manifest = manifest.model_copy(update={"shards": sorted([*manifest.shards, entry], key=lambda e: e.index)})
    write_manifest(out, manifest)
    return manifest


def damage(out: Path, entry: ShardEntry) -> str | None:
    """What is wrong with a finished shard's files, or None: both are there and the Parquet file is the one the
    manifest fingerprinted."""
    path = out / entry.file
    if not path.exists():
        return f"{entry.file} is missing"
    if not (out / rejects_file(entry.index)).exists():
        return f"{rejects_file(entry.index)} is missing"
    if sha256_file(path) != entry.sha256:
        return f"{entry.file}: digest mismatch (the file changed or is damaged)"
    return None


def intact(out: Path, entry: ShardEntry) -> bool:
    return damage(out, entry) is None


def read_rejects(out: Path, entry: ShardEntry) -> list[Reject]:
    path = out / rejects_file(entry.index)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [Reject.model_validate_json(line) for line in lines]


def make_dirs(out: Path) -> None:
    try:
        (out / "data").mkdir(parents=True, exist_ok=True)
        (out / "rejects").mkdir(exist_ok=True)
    except OSError as error:
        raise DatasetDirError(f"cannot write to output directory {out}: {error.strerror}") from error


def write_shard_files(out: Path, shard: ShardPlan, rows: list[ShardRow], rejects: list[Reject],
                      llm: LLMStats | None = None) -> ShardEntry:
    """Rejects first, then the Parquet file (each atomically); the entry fingerprints the Parquet file."""
    rejects = sorted(rejects, key=lambda r: r.sample_index)
    atomic_write_bytes(out / shard.rejects_file, "".join(r.model_dump_json() + "\n" for r in rejects).encode())
    sha = write_shard(out / shard.file, rows)
    return ShardEntry(index=shard.index, file=shard.file, start=shard.start, stop=shard.stop, rows=len(rows),
                      rejects=len(rejects), sha256=sha, llm=llm)


def admitted_topics(out: Path, entry: ShardEntry, ids: set[str] | None = None) -> list[tuple[int, str]]:
    """The topics topic dedup admitted into a finished shard (of the samples `ids`, or all), with their samples'
    indices: its rows', and those of samples rejected after dedup (rendering, verification). A resumed run dedups
    against exactly these, so it makes what an uninterrupted run makes."""
    table = pq.read_table(out / entry.file, columns=["id", "topic"]).to_pylist()
    topics = [(r["id"], r["topic"]) for r in table]
    topics += [(r.id, r.sample["topic"]["text"]) for r in read_rejects(out, entry) if r.sample is not None]
    return [(sample_index(sample_id), topic) for sample_id, topic in sorted(topics) if ids is None or sample_id in ids]


# ---------------------------------------------------------------- jobs and runners

class Job(Protocol):
    """What a run makes. Jobs are pydantic models, so a runner can ship them to other processes and machines."""

    config: RunConfig

    def resolve(self, out: Path) -> Job:
        """The job with everything settled that must not differ between its shards (e.g. the LLM's output mode)."""

    def prepare(self, out: Path) -> tuple[Manifest, list[ShardPlan]]:
        """Check `out`, write the manifest to extend, return it and the shards still to make."""

    def known_topics(self, out: Path, manifest: Manifest) -> list[tuple[int, str]] | None:
        """(sample index, topic) already admitted in `out` when drafted topics are deduplicated across the run (LLM
        drafts); None when they are not."""

    def draft(self, shard: ShardPlan, out: Path) -> ShardDrafts: ...

    def finish(self, shard: ShardPlan, out: Path, drafts: ShardDrafts, map_fn: MapFn = map,
               on_samples: OnSamples | None = None) -> ShardEntry: ...


class Runner(Protocol):
    """Where a job's shard steps run. `ahead`: how many shards may be drafting at once."""

    ahead: int

    def draft(self, job: Job, shard: ShardPlan, out: Path) -> Future:
        """A future-like: `done()` without waiting, `result()` waiting (raising what the step raised)."""

    def finish(self, job: Job, shard: ShardPlan, out: Path, drafts: ShardDrafts, fresh: bool = False) -> Future: ...

    def kept(self, samples: int) -> None:
        """Told once how many planned samples are in shards kept from an earlier run (for progress)."""


PARENT_POLL_S = 1.0


def _exit_with_parent(parent: int) -> None:
    """A render worker's initializer: a thread that ends the worker once its parent is gone. A pool's idle workers
    block on their task queue and would otherwise outlive a killed parent (kill -9 leaves them to init, ~200 MB
    each, forever)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def sample_pool(workers: int):
    """A map over samples: in-process for one worker, else a process pool (spawned: no inherited threads) whose
    workers exit when this process dies."""
    if workers <= 1:
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_exit_with_parent, initargs=(os.getpid(),))


class LocalRunner:
    """Shards rendered one after another in this process, samples of a shard spread over `workers` render processes;
    meanwhile the next `ahead` shards are drafted on a thread (LLM I/O), so the server never waits for rendering. A
    context manager: the pools live as long as the run."""

    ahead = 2

    def __init__(self, workers: int = 1, on_samples: OnSamples | None = None):
        self.workers, self.on_samples, self._pool = workers, on_samples, None

    def __enter__(self) -> LocalRunner:
        self._pool = sample_pool(self.workers)
        self._drafting = ThreadPoolExecutor(max_workers=self.ahead, thread_name_prefix="draft")
        return self

    def __exit__(self, *exc) -> None:
        self._drafting.shutdown(cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown()

    @staticmethod
    def _done(call: Callable, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(call(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to whoever asks for the result
            future.set_exception(error)
        return future

    def draft(self, job: Job, shard: ShardPlan, out: Path) -> Future:
        return self._drafting.submit(job.draft, shard, out)

    def kept(self, samples: int) -> None:
        if self.on_samples:
            self.on_samples(samples)

    def finish(self, job: Job, shard: ShardPlan, out: Path, drafts: ShardDrafts, fresh: bool = False) -> Future:
        map_fn = partial(self._pool.map, chunksize=4) if self._pool else map
        return self._done(job.finish, shard, out, drafts, map_fn, self.on_samples)


def run_job(job: Job, out: Path, runner: Runner) -> tuple[Manifest, RunReport]:
    """Make every missing shard of `job` in `out` (finished shards are kept: resume), then report."""
    from pipeline.llm_chain import TopicDeduper, admit_topics, close_drafters

    started = time.perf_counter()
    job = job.resolve(out)
    earlier = read_manifest(out)
    damaged = [problem for e in (earlier.shards if earlier else []) if (problem := damage(out, e)) is not None]
    manifest, todo = job.prepare(out)
    kept = len(manifest.shards)
    known = job.known_topics(out, manifest)
    deduper = None if known is None else TopicDeduper(known, job.config.topic_group)
    pending, drafting, finishing = iter(todo), deque(), deque()

    def top_up() -> None:
        while len(drafting) < runner.ahead and (shard := next(pending, None)) is not None:
            drafting.append((shard, runner.draft(job, shard, out)))

    runner.kept(sum(e.stop - e.start for e in manifest.shards))
    top_up()
    try:
        while drafting or finishing:
            if drafting:
                shard, future = drafting.popleft()
                drafts: ShardDrafts = future.result()
                top_up()  # the next shard drafts while this one renders
                if deduper is not None and drafts.drafts is not None:
                    drafts = drafts.model_copy(update={"drafts": admit_topics(drafts.drafts, drafts.llm, deduper)})
                finishing.append((shard, drafts, runner.finish(job, shard, out, drafts)))
            while finishing and (finishing[0][2].done() or not drafting):  # recorded in shard order
                shard, drafts, future = finishing.popleft()
                entry = future.result()
                if not intact(out, entry):  # e.g. a cached task result whose files are gone: make it again
                    entry = runner.finish(job, shard, out, drafts, fresh=True).result()
                manifest = record_shard(out, manifest, entry)
            top_up()
    finally:
        close_drafters()
    return manifest, report(out, manifest, kept, todo, time.perf_counter() - started, damaged)


def report(out: Path, manifest: Manifest, kept: int, built: list[ShardPlan], seconds: float,
           rebuilt: list[str] = ()) -> RunReport:
    """What the directory now holds and what this run did, for the summary the CLI prints and the flow publishes."""
    rejects: Counter = Counter()
    llm = LLMStats() if manifest.config.generator == "llm" else None
    for entry in manifest.shards:
        rejects.update(r.reason for r in read_rejects(out, entry))
        if llm and entry.llm:
            llm.merge(entry.llm)
    spent = None
    if llm:
        ledger = ResponseCache(llm_cache_dir(out))
        spent = ledger.spent()
        ledger.close()
    return RunReport(rows=manifest.rows, shards=len(manifest.shards), kept_shards=kept, built_shards=len(built),
                     built_samples=sum(shard.stop - shard.start for shard in built),
                     rejects=dict(rejects.most_common()), seconds=seconds, llm=llm, llm_spent=spent, rebuilt=list(rebuilt),
                     price_per_mtok=manifest.config.price_per_mtok)


def llm_cache_dir(out: Path) -> Path:
    """Where a dataset directory keeps its LLM replies and the ledger of what they cost."""
    return out / "cache" / "llm"


# ---------------------------------------------------------------- generating a dataset

def plan(config: RunConfig) -> list[ShardPlan]:
    k = config.shard_size
    return [ShardPlan(index=i, start=start, stop=min(start + k, config.n))
            for i, start in enumerate(range(0, config.n, k))]


def resolve_llm_mode(config: RunConfig, earlier: Manifest | None, ledger: Path) -> RunConfig:
    """An "auto" structured-output mode becomes the one the directory's earlier run used, else the first one the
    first server honours (probed; what the probes cost goes into the cache's ledger at `ledger`)."""
    if config.generator != "llm" or config.llm_mode != "auto":
        return config
    if earlier is not None and earlier.config.llm_mode != "auto":
        same = earlier.config.model_copy(update={"llm_mode": "auto"}).identity() == config.identity()
        if same:
            return config.model_copy(update={"llm_mode": earlier.config.llm_mode})
    cache = ResponseCache(ledger)
    try:
        results = asyncio.run(probe_modes(config.base_url[0], config.model, ledger=cache))
    finally:
        cache.close()
    mode = next((m for m, result in results.items() if result == "ok"), None)
    if mode is None and all(r.startswith("unreachable") for r in results.values()):
        raise LLMUnavailable(f"cannot connect to {config.base_url[0]} (--base-url): is the server running, and is "
                             f"the URL its OpenAI API root, e.g. http://127.0.0.1:8000/v1? ({results['json_schema']})")
    if mode is None:
        raise LLMUnavailable(f"{config.base_url[0]} honours no structured-output mode: {results}")
    return config.model_copy(update={"llm_mode": mode})


class GenerateJob(BaseModel):
    """Generate (or resume) the dataset `config` describes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    config: RunConfig

    def resolve(self, out: Path) -> GenerateJob:
        return GenerateJob(config=resolve_llm_mode(self.config, read_manifest(out), llm_cache_dir(out)))

    def known_topics(self, out: Path, manifest: Manifest) -> list[tuple[int, str]] | None:
        if self.config.generator != "llm":
            return None
        return [topic for entry in manifest.shards for topic in admitted_topics(out, entry)]

    def prepare(self, out: Path) -> tuple[Manifest, list[ShardPlan]]:
        config = self.config
        make_dirs(out)
        manifest = read_manifest(out)
        if manifest is None:
            manifest = Manifest(package_version=__version__, config=config)
        elif manifest.config.identity() != config.identity():
            theirs, ours = manifest.config.identity(), config.identity()
            diff = ", ".join(f"{k}={theirs[k]!r} (asked {ours[k]!r})" for k in theirs if theirs[k] != ours[k])
            raise DatasetDirError(f"{out} was generated with {diff}; use another --out or the same options to resume")
        elif config.n < manifest.config.n:
            raise DatasetDirError(f"{out} holds a run of n={manifest.config.n}; resume with --n {manifest.config.n} "
                                  "or more")
        done = {e.index: e for e in manifest.shards}
        keep, todo = [], []
        for shard in plan(config):
            entry = done.get(shard.index)
            if entry is not None and (entry.start, entry.stop) == (shard.start, shard.stop) and intact(out, entry):
                keep.append(entry)
            else:
                todo.append(shard)
        manifest = manifest.model_copy(update={"config": config, "shards": keep, "package_version": __version__})
        write_manifest(out, manifest)
        return manifest, todo

    def draft(self, shard: ShardPlan, out: Path) -> ShardDrafts:
        """LLM samples are drafted here (async I/O, bounded requests in flight); template samples where finished."""
        if self.config.generator != "llm":
            return ShardDrafts()
        from pipeline.llm_chain import llm_drafts

        drafts, llm = llm_drafts(self.config, range(shard.start, shard.stop), llm_cache_dir(out))
        return ShardDrafts(drafts=drafts, llm=llm)

    def finish(self, shard: ShardPlan, out: Path, drafts: ShardDrafts, map_fn: MapFn = map,
               on_samples: OnSamples | None = None) -> ShardEntry:
        """Render and verify the shard's samples (template ones drafted here too), then write its files."""
        rejects: list[Reject] = []
        if drafts.drafts is None:
            results = map_fn(partial(make_sample, self.config), range(shard.start, shard.stop))
        else:
            rejects = [d for d in drafts.drafts if isinstance(d, Reject)]
            if on_samples:
                on_samples(len(rejects))
            results = map_fn(finish_sample, [d for d in drafts.drafts if isinstance(d, Sample)])
        rows: list[ShardRow] = []
        for result in results:
            (rejects if isinstance(result, Reject) else rows).append(result)
            if on_samples:
                on_samples(1)
        return write_shard_files(out, shard, rows, rejects, drafts.llm)


def generate(config: RunConfig, out: Path, workers: int = 1,
             on_samples: OnSamples | None = None) -> tuple[Manifest, RunReport]:
    """`run_job` for a dataset, locally. `on_samples(k)` is told as samples are finished (kept shards at once)."""
    with LocalRunner(workers, on_samples) as runner:
        return run_job(GenerateJob(config=config), out, runner)
