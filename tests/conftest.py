import os
import tempfile

# Prefect keeps its database and task results under PREFECT_HOME: a scratch one per test session, telemetry off.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="chartsynth-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# a fresh PREFECT_HOME migrates its database on first start: on 2 loaded cores that can pass Prefect's 20 s default
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from pathlib import Path

import pytest

from pipeline.run import generate
from schemas import RunConfig

# Small but covers every chart type, renderer and QA kind with seed 180 (checked in
# test_dataset_covers_every_chart_type_and_qa_kind; seed 0 stopped covering them when the 17th family came).
TINY = RunConfig(n=60, seed=180, lang="mix", renderer="mix", shard_size=20)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    generate(TINY, out, workers=1)
    return out


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the session (entering one costs ~12 s)."""
    harness = pytest.importorskip("prefect.testing.utilities", reason="install the flows extra")
    with harness.prefect_test_harness():
        yield
