"""prefect.yaml as a user runs it: a local Prefect server (SQLite), a process work pool, `prefect deploy --all`,
a worker, and `prefect deployment run --watch` — all real, on 127.0.0.1."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.local_servers import free_port, wait_until_up

pytest.importorskip("prefect")
REPO = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]


@pytest.fixture
def prefect_server(tmp_path):
    port = free_port()
    env = os.environ | {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    env.pop("PREFECT_LOGGING_LEVEL", None)
    server = subprocess.Popen([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=open(tmp_path / "server.log", "w"), stderr=subprocess.STDOUT)
    try:
        assert wait_until_up(f"{env['PREFECT_API_URL']}/health", 90), "Prefect server did not become healthy"
        yield env
    finally:
        server.terminate()
        server.wait(30)


def test_prefect_yaml_deployment_runs_on_a_process_worker(prefect_server, tmp_path):
    env = prefect_server
    run = lambda *args: subprocess.run([*PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True,  # noqa: E731
                                       timeout=300)
    assert run("work-pool", "create", "chartsynth-process", "--type", "process").returncode == 0
    deployed = run("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    worker = subprocess.Popen([*PREFECT, "worker", "start", "--pool", "chartsynth-process"], env=env, cwd=REPO,
                              stdout=open(tmp_path / "worker.log", "w"), stderr=subprocess.STDOUT)
    try:
        out = tmp_path / "made-by-deployment"
        params = {"config": {"n": 6, "shard_size": 3, "seed": 1}, "out": str(out), "workers": 1}
        result = run("deployment", "run", "generate_dataset/generate", "--params", json.dumps(params), "--watch")
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "Completed" in result.stdout
        manifest = json.loads((out / "manifest.json").read_text())
        assert sum(s["rows"] for s in manifest["shards"]) + sum(s["rejects"] for s in manifest["shards"]) == 6
    finally:
        worker.send_signal(signal.SIGINT)  # the worker ignores SIGTERM
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
