from pathlib import Path

import pytest

from pipeline.run import generate
from schemas import RunConfig

# Small but covers every chart type with seed 0 (checked in test_dataset_covers_every_chart_type).
TINY = RunConfig(n=60, seed=0, lang="mix", renderer="mix", shard_size=20)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    generate(TINY, out, workers=1)
    return out
