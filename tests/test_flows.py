"""Prefect flows under a session-scoped test harness; they must write exactly what the CLI path writes."""

import json

import pyarrow.parquet as pq
import pytest

pytest.importorskip("prefect")

from flows.datasets import generate_dataset, regenerate_dataset  # noqa: E402
from pipeline import run  # noqa: E402
from schemas import RegenerateConfig, RunConfig  # noqa: E402

CONFIG = RunConfig(n=12, seed=4, lang="mix", shard_size=4)


def shard_bytes(out):
    return {p.name: p.read_bytes() for p in sorted((out / "data").glob("*.parquet"))}


def rows(out):
    return [r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def cli_made(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    run.generate(CONFIG, out)
    return out


def test_flow_writes_the_same_shards_as_the_cli(prefect_harness, cli_made, tmp_path):
    result = generate_dataset(CONFIG, str(tmp_path))
    assert result["rows"] == sum(1 for _ in rows(cli_made)) and result["shards"] == 3
    assert shard_bytes(tmp_path) == shard_bytes(cli_made)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [s["sha256"] for s in manifest["shards"]] == [
        s["sha256"] for s in json.loads((cli_made / "manifest.json").read_text())["shards"]]


def test_a_transient_failure_is_retried(prefect_harness, cli_made, tmp_path, monkeypatch):
    real, calls = run.GenerateJob.finish, []

    def flaky(job, shard, *args, **kwargs):
        calls.append(shard.index)
        if calls.count(shard.index) == 1 and shard.index == 1:
            raise ConnectionError("injected: the shard's first try fails")
        return real(job, shard, *args, **kwargs)

    monkeypatch.setattr(run.GenerateJob, "finish", flaky)
    config = CONFIG.model_copy(update={"seed": 40})  # not cached by another test
    generate_dataset(config, str(tmp_path))
    assert calls.count(1) == 2 and calls.count(0) == 1
    assert len(json.loads((tmp_path / "manifest.json").read_text())["shards"]) == 3


def test_a_rerun_is_answered_from_the_cache_and_lost_files_are_rebuilt(prefect_harness, tmp_path, monkeypatch):
    config = CONFIG.model_copy(update={"seed": 41})
    generate_dataset(config, str(tmp_path))
    first = shard_bytes(tmp_path)
    calls = []
    real = run.GenerateJob.finish
    monkeypatch.setattr(run.GenerateJob, "finish", lambda j, s, *a, **k: calls.append(s.index) or real(j, s, *a, **k))
    (tmp_path / "manifest.json").unlink()  # every shard looks unfinished to the planner
    generate_dataset(config, str(tmp_path))
    assert calls == [] and shard_bytes(tmp_path) == first
    (tmp_path / "data/shard-00002.parquet").unlink()
    (tmp_path / "manifest.json").unlink()
    generate_dataset(config, str(tmp_path))
    assert calls == [2] and shard_bytes(tmp_path) == first


def test_regenerate_with_original_style_reproduces_rows(prefect_harness, cli_made, tmp_path):
    regenerate_dataset(str(cli_made), str(tmp_path), RegenerateConfig())
    assert rows(tmp_path) == rows(cli_made)


def test_regenerate_changes_only_the_selected_rows(prefect_harness, cli_made, tmp_path):
    before = rows(cli_made)
    target = next(r for r in before if r["chart_type"] not in ("table",))["chart_type"]
    regenerate_dataset(str(cli_made), str(tmp_path), RegenerateConfig(chart_types=[target], style_seed=99))
    after = rows(tmp_path)
    assert [r["id"] for r in after] == [r["id"] for r in before]
    for old, new in zip(before, after):
        if old["chart_type"] == target:
            assert new["image"]["bytes"] != old["image"]["bytes"] and new["spec"] == old["spec"]
            assert json.loads(new["provenance"])["style_seed"] == 99
            assert all(q["verified"] for q in new["qa"])
        else:
            assert new == old


def test_dask_cluster_run_equals_local_run(prefect_harness, cli_made, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        generate_dataset(CONFIG, str(tmp_path), dask_address=cluster.scheduler_address)
    assert shard_bytes(tmp_path) == shard_bytes(cli_made)


def test_regenerate_stale_prompts_generates_those_rows_again(prefect_harness, cli_made, tmp_path, monkeypatch):
    import pipeline.regenerate as regenerate

    calls = []
    real = regenerate.make_sample
    monkeypatch.setattr(regenerate, "current_prompt_version", lambda generator: "template-v999")
    monkeypatch.setattr(regenerate, "make_sample", lambda config, i: calls.append(i) or real(config, i))
    regenerate_dataset(str(cli_made), str(tmp_path), RegenerateConfig(stale_prompts=True, langs=["ja"]))
    before, after = rows(cli_made), rows(tmp_path)
    assert sorted(calls) == sorted(json.loads(r["provenance"])["sample_index"] for r in before if r["lang"] == "ja")
    assert after == before  # the template generator is deterministic: generated again, the same rows


def test_a_run_stopped_by_its_input_fails_with_the_reason_as_state_message(prefect_harness, cli_made, tmp_path):
    """What `prefect deployment run --watch` and the UI show of a failed run is its state and message."""
    state = generate_dataset(CONFIG.model_copy(update={"seed": 5}), str(cli_made), return_state=True)
    assert state.is_failed() and state.message.startswith(f"{cli_made} was generated with seed=4 (asked 5)")


def test_the_summary_artifact_is_on_the_deployments_flow_run(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    state = generate_dataset(CONFIG.model_copy(update={"seed": 42}), str(tmp_path), return_state=True)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["chartsynth-summary"])))
    mine = [a for a in artifacts if a.flow_run_id == state.state_details.flow_run_id]
    assert len(mine) == 1 and "samples in 3 shards (3 made by this run)" in mine[0].data
