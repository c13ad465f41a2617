"""Same seed → the same shards, pinned across refactors. The digests must not move unless a change means to change
the data; then re-pin and say so here and in the commit:
- taken before the one-home-per-concept redesign (issue 11), which kept them;
- re-pinned when comparisons the eye cannot separate, references to undrawn or covered marks and unnamed scatter
  measures stopped being asked, and again when each question got how it is read and its tolerance, values read off
  an axis were asked approximately and plotly's value ticks were pinned (issue 12).

Row content (everything but the PNG bytes, element boxes and render checks) depends only on our code, numpy and
pandas, so its digest is checked everywhere. Whole-file digests also depend on how matplotlib, Chromium, Pillow and
pyarrow draw and encode; they are checked on the versions they were taken with and skipped, naming the difference,
elsewhere."""

import hashlib
import json
import subprocess
from importlib.metadata import version

import pyarrow.parquet as pq
import pytest

from pipeline.run import generate
from schemas import RunConfig

PINNED = {
    "matplotlib": {
        "content": "94f409c416e41bae49f2344bcdd53b419d0adf82a345d28fc8cce8485ddaeb32",
        "shards": ["123daed15fe8f3d6b5b4f885f37ad28c0ad99e4996b9084d3d3baf0fabbf0f26",
                   "b913b450205f90dfc9627e5b8e8b735e6770446de898e3b5823e4595cb9e29d2",
                   "792a4912e5ac720c4b763144d5d8bd1eb9fd22cb7b7c88ef3e74ae1423ebc006"],
    },
    "mix": {
        "content": "c52882f3cd8a2f5a92fc4e8b525394f631929d33f75c15db080dbc92021ffec6",
        "shards": ["c9f4c68191b72c75220070ea104c9fcb05dd37249df631f03fe2e422ab256f96",
                   "a3005dd8f1f86ddf9d48b91abbdda9878ec178d1b97789665e3507e1b2b2f42f",
                   "3ae7678df05f184e07a3ff3674d866556e5e898924c7fd38f222a36578d15117"],
    },
}
PINNED_WITH = {"matplotlib": "3.11.2", "pyarrow": "26.0.1", "pillow": "13.0.0", "numpy": "2.4.6", "plotly": "7.1.0",
               "kaleido": "1.5.0", "chromium": "156.0.8078.79"}


def content_digest(out) -> str:
    digest = hashlib.sha256()
    for path in sorted((out / "data").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            kept = {k: v for k, v in row.items() if k not in ("image", "elements", "render_checks")}
            digest.update(json.dumps(kept, sort_keys=True, ensure_ascii=False).encode())
    for path in sorted((out / "rejects").glob("*.jsonl")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def installed() -> dict[str, str]:
    found = {name: version(name) for name in PINNED_WITH if name != "chromium"}
    try:
        found["chromium"] = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        found["chromium"] = "none"
    return found


@pytest.mark.parametrize("renderer", ["matplotlib", "mix"])
def test_same_seed_gives_the_pinned_shards(renderer, tmp_path, tiny_dataset):
    config = RunConfig(n=60, seed=0, lang="mix", renderer=renderer, shard_size=20)
    out = tiny_dataset if renderer == "mix" else tmp_path  # the session's tiny dataset is this mix run
    if renderer != "mix":
        generate(config, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert RunConfig.model_validate(manifest["config"]) == config
    assert content_digest(out) == PINNED[renderer]["content"]
    differ = {k: (v, installed()[k]) for k, v in PINNED_WITH.items() if installed()[k] != v}
    if differ:
        pytest.skip(f"whole-file digests were pinned with other versions (pinned, installed): {differ}")
    assert [s["sha256"] for s in manifest["shards"]] == PINNED[renderer]["shards"]
