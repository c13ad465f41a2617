"""Prefect flows: generate_dataset and regenerate_dataset. They call the same functions as the CLI (pipeline.run); only the orchestration is Prefect's:
one task per shard (retried with backoff, cached by inputs and source), on threads here or on a Dask cluster."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.tasks import exponential_backoff

from pipeline import regenerate, run
from schemas import RegenerateConfig, RunConfig, ShardEntry

INSTALL_HINT = "flows need the flows extra: pip install 'chartsynth[flows]'"


@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2), retry_jitter_factor=0.5,
      cache_policy=INPUTS + TASK_SOURCE, persist_result=True, task_run_name="shard-{index}")
def shard_task(config: RunConfig, out: str, index: int, start: int, stop: int, workers: int = 1) -> ShardEntry:
    """Build one shard. Its inputs name the shard exactly, so a finished one is answered from Prefect's cache."""
    directory = Path(out)
    manifest = run.read_manifest(directory)
    deduper = run.topic_deduper(config, directory, manifest) if manifest else None
    with run.sample_pool(workers) as map_fn:
        return run.build_shard(config, run.ShardPlan(index, start, stop), directory, map_fn, deduper=deduper)


def task_runner(dask_address: str | None):
    """Shards one after another on this machine (each one uses `workers` processes), or spread over a Dask cluster."""
    if not dask_address:
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=1)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as error:
        raise RuntimeError(INSTALL_HINT) from error
    return DaskTaskRunner(address=dask_address)


def summary_markdown(out: Path, stats: run.RunStats, price_per_mtok: tuple[float, float] | None = None) -> str:
    rejects = "".join(f"| {reason} | {count} |\n" for reason, count in stats.rejects.most_common()) or "| none | 0 |\n"
    lines = [f"# {out}", "", f"**{stats.rows} samples**, {stats.built_shards} shards built, {stats.kept_shards} kept, "
             f"{stats.samples_per_second:.1f} samples/s", "", "| reject reason | count |", "|---|---|", rejects]
    if stats.llm:
        usage = stats.llm.usage
        lines += [f"LLM: {usage.requests} requests, {usage.cached} from cache, {usage.prompt_tokens} prompt + "
                  f"{usage.completion_tokens} completion tokens; answers kept {stats.llm.verification.kept}, "
                  f"corrected {stats.llm.verification.corrected}, dropped {stats.llm.verification.dropped}; "
                  f"distinct topics {stats.llm.distinct_topics}/{stats.llm.topics}"
                  + (f"; cost {usage.cost(price_per_mtok):.4f}" if price_per_mtok else "")]
    return "\n".join(lines)


@flow(name="build_shards", validate_parameters=True)
def build_shards(config: RunConfig, out: str, workers: int = 1) -> dict:
    """The missing shards of a run, each a task, recorded in the manifest as they finish; then a summary artifact."""
    started = time.perf_counter()
    directory = Path(out)
    manifest, todo = run.prepare(config, directory)
    kept = len(manifest.shards)
    futures = [shard_task.submit(config, out, s.index, s.start, s.stop, workers) for s in todo]
    for shard, future in zip(todo, futures):
        entry = future.result()
        if not run.intact(directory, entry):  # a cached answer whose files are gone: build it again
            entry = shard_task.with_options(refresh_cache=True)(config, out, shard.index, shard.start, shard.stop,
                                                                workers)
        manifest = run.record_shard(directory, manifest, entry)
    stats = run.run_stats(directory, manifest, kept, len(todo), time.perf_counter() - started)
    create_markdown_artifact(summary_markdown(directory, stats, config.price_per_mtok), key="chartsynth-summary",
                             description=f"chartsynth run into {out}")
    return {"rows": stats.rows, "shards": len(manifest.shards), "built": stats.built_shards,
            "rejects": dict(stats.rejects)}


@flow(name="generate_dataset", validate_parameters=True)
def generate_dataset(config: RunConfig, out: str, workers: int = 1, dask_address: str | None = None) -> dict:
    """Generate (or resume) a dataset: the same run config and output as `chartsynth generate`.

    `dask_address` runs the shard tasks on that Dask cluster (prefect-dask); otherwise shard after shard here.
    """
    return build_shards.with_options(task_runner=task_runner(dask_address))(config, out, workers)


@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2), task_run_name="regenerate-shard-{index}")
def regenerate_shard_task(source: str, out: str, index: int, how: RegenerateConfig) -> ShardEntry:
    src = run.read_manifest(Path(source))
    entry = next(e for e in src.shards if e.index == index)
    return regenerate.regenerate_shard(Path(source), Path(out), entry, src.config, how)


@flow(name="regenerate_dataset", validate_parameters=True, task_runner=task_runner(None))
def regenerate_dataset(source: str, out: str, how: RegenerateConfig) -> dict:
    """Re-render or re-generate selected rows of `source` into `out`; the other rows are carried over unchanged."""
    _, manifest, todo = regenerate.prepare_regeneration(Path(source), Path(out), how)
    futures = [regenerate_shard_task.submit(source, out, e.index, how) for e in todo]
    for future in futures:
        manifest = run.record_shard(Path(out), manifest, future.result())
    return {"rows": manifest.rows, "shards": len(manifest.shards), "redone_shards": len(todo)}
