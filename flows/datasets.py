"""Prefect flows: generate_dataset and regenerate_dataset. Both call `pipeline.run.run_job`, as the CLI does; only the
runner differs: each shard's draft and finish steps are Prefect tasks (retried with backoff; a finished shard is
answered from Prefect's cache), on one thread here or spread over a Dask cluster."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.futures import PrefectFuture
from prefect.states import Failed, State
from prefect.tasks import exponential_backoff

from pipeline.regenerate import RegenerateJob
from common.llm_client import LLMUnavailable
from pipeline.run import DatasetDirError, GenerateJob, run_job, sample_pool
from renderers.errors import SetupError
from schemas import RegenerateConfig, RunConfig, ShardEntry
from schemas.run import RunReport, ShardDrafts, ShardPlan

INSTALL_HINT = "flows need the flows extra: pip install 'chartsynth[flows]'"
AnyJob = GenerateJob | RegenerateJob
RETRIES = dict(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2), retry_jitter_factor=0.5)


@task(task_run_name="draft-{shard.index}", **RETRIES)
def draft_task(job: AnyJob, shard: ShardPlan, out: str) -> ShardDrafts:
    return job.draft(shard, Path(out))


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True, task_run_name="shard-{shard.index}", **RETRIES)
def finish_task(job: AnyJob, shard: ShardPlan, out: str, drafts: ShardDrafts, workers: int = 1) -> ShardEntry:
    """Its inputs name the shard's content exactly, so a finished one is answered from Prefect's cache."""
    pool = sample_pool(workers)
    try:
        return job.finish(shard, Path(out), drafts, map_fn=pool.map if pool else map)
    finally:
        if pool:
            pool.shutdown()


class _Submitted:
    """A Prefect future seen as run_job expects one: `done()` without waiting, `result()` waiting."""

    def __init__(self, future: PrefectFuture):
        self.future = future

    def done(self) -> bool:
        return self.future.state.is_final()

    def result(self):
        return self.future.result()


class PrefectRunner:
    """Shard steps as Prefect tasks of the running flow, on its task runner; up to `ahead` shards drafting at once."""

    def __init__(self, workers: int = 1, ahead: int = 8):
        self.workers, self.ahead = workers, ahead

    def draft(self, job: AnyJob, shard: ShardPlan, out: Path) -> _Submitted:
        return _Submitted(draft_task.submit(job, shard, str(out)))

    def finish(self, job: AnyJob, shard: ShardPlan, out: Path, drafts: ShardDrafts, fresh: bool = False
               ) -> _Submitted:
        runnable = finish_task.with_options(refresh_cache=True) if fresh else finish_task
        return _Submitted(runnable.submit(job, shard, str(out), drafts, self.workers))

    def kept(self, samples: int) -> None:
        pass


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


@flow(name="run_job", validate_parameters=False)
def _run(job: AnyJob, out: str, workers: int) -> dict:
    manifest, report = run_job(job, Path(out), PrefectRunner(workers))
    return report.model_dump(mode="json")


def run_flow(job: AnyJob, out: str, workers: int = 1, dask_address: str | None = None) -> RunReport:
    """`run_job` as a Prefect flow run (what the CLI calls for --dask-address)."""
    result = _run.with_options(task_runner=task_runner(dask_address))(job, out, workers)
    return RunReport.model_validate(result)


def _published(job: AnyJob, out: str, workers: int, dask_address: str | None) -> dict | State:
    """The job's run as a subflow; its summary published on the calling (deployment's) flow run. A run stopped by
    its input or its LLM server fails with the reason as the flow run's state message (and in its log), which is
    what `prefect deployment run --watch` and the UI show — not a traceback."""
    try:
        report = run_flow(job, out, workers, dask_address)
    except (DatasetDirError, LLMUnavailable, SetupError) as error:
        get_run_logger().error(str(error))  # one line, streamed by `--watch`; no traceback for an input problem
        return Failed(message=str(error))
    create_markdown_artifact(f"# {out}\n\n{report.summary()}", key="chartsynth-summary",
                             description=f"chartsynth run into {out}")
    return report.model_dump(mode="json")


@flow(name="generate_dataset", validate_parameters=True)
def generate_dataset(config: RunConfig, out: str, workers: int = 1, dask_address: str | None = None) -> dict:
    """Generate (or resume) a dataset: the same run config and output as `chartsynth generate`.

    `dask_address` runs the shard tasks on that Dask cluster (prefect-dask); otherwise shard after shard here.
    """
    return _published(GenerateJob(config=config), out, workers, dask_address)


@flow(name="regenerate_dataset", validate_parameters=True)
def regenerate_dataset(source: str, out: str, how: RegenerateConfig, workers: int = 1,
                       dask_address: str | None = None) -> dict:
    """Re-render or re-generate selected rows of `source` into `out`, as `chartsynth regenerate` does; the other rows
    are carried over unchanged. `how` takes the same fields as the CLI's selectors (schemas.RegenerateConfig)."""
    return _published(RegenerateJob(source=source, how=how), out, workers, dask_address)
