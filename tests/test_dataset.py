"""The generated dataset end to end: every answer re-verifies, shards load in `datasets`, runs resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.run import generate
from pipeline.verify import check_answer
from schemas import QA, ChartSpec, ChartType, Element, Program, RunConfig
from tests.conftest import TINY


def rows(out: Path) -> list[dict]:
    return [r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_dataset_covers_every_chart_type_and_qa_kind(tiny_dataset):
    table = rows(tiny_dataset)
    assert {r["chart_type"] for r in table} == {t.value for t in ChartType}
    assert {q["qa_type"] for r in table for q in r["qa"]} == {"retrieval", "visual", "compositional"}
    assert {r["lang"] for r in table} == {"ja", "en"} and {r["renderer"] for r in table} == {"matplotlib", "plotly", "vegalite", "great_tables"}


def test_every_answer_reverifies_from_the_stored_spec(tiny_dataset):
    checked = 0
    for row in rows(tiny_dataset):
        spec = ChartSpec.model_validate_json(row["spec"])
        elements = [Element.model_validate(e) for e in json.loads(row["elements"])]
        frame = pd.DataFrame(**json.loads(row["spec"])["data"])  # the README promise to users
        assert list(frame.index) == spec.data.index
        for record in row["qa"]:
            qa = QA.model_validate(record | {"program": Program.model_validate_json(record["program"])})
            assert qa.verified
            assert check_answer(qa, spec, elements, row["lang"]) is None, (row["id"], record)
            checked += 1
    assert checked >= 4 * TINY.n * 0.9


def test_a_wrong_answer_is_caught(tiny_dataset):
    row = rows(tiny_dataset)[0]
    spec = ChartSpec.model_validate_json(row["spec"])
    record = next(q for q in row["qa"] if q["answer_type"] == "number")
    qa = QA.model_validate(record | {"program": Program.model_validate_json(record["program"])})
    wrong = qa.model_copy(update={"answer": "123456789" + qa.unit})
    elements = [Element.model_validate(e) for e in json.loads(row["elements"])]  # a visual question's marks
    assert check_answer(qa, spec, elements, row["lang"]) is None
    assert check_answer(wrong, spec, elements, row["lang"]).reason == "answer_mismatch"


def test_conversations_are_llava_form(tiny_dataset):
    row = rows(tiny_dataset)[0]
    turns = row["conversations"]
    assert turns[0]["from"] == "human" and turns[0]["value"].startswith("<image>\n")
    assert [t["from"] for t in turns] == ["human", "gpt"] * len(row["qa"])
    assert [t["value"] for t in turns[1::2]] == [q["answer"] for q in row["qa"]]


def test_shards_load_with_datasets_and_images_decode(tiny_dataset):
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_files=str(tiny_dataset / "data" / "*.parquet"), split="train")
    manifest = json.loads((tiny_dataset / "manifest.json").read_text())
    assert len(ds) == sum(s["rows"] for s in manifest["shards"])
    image = ds[0]["image"]
    assert image.size[0] > 100 and image.size[1] > 100
    assert len(set(ds["id"])) == len(ds)


def test_same_seed_same_ids_and_bytes_other_seed_other_samples(tmp_path, tiny_dataset):
    config = TINY.model_copy(update={"n": 20})
    generate(config, tmp_path / "again")
    assert (tmp_path / "again/data/shard-00000.parquet").read_bytes() == (tiny_dataset / "data/shard-00000.parquet").read_bytes()
    generate(config.model_copy(update={"seed": 1}), tmp_path / "other")
    mine, theirs = rows(tiny_dataset)[:20], rows(tmp_path / "other")
    assert not {r["id"] for r in mine} & {r["id"] for r in theirs}
    assert not {r["image"]["bytes"] for r in mine} & {r["image"]["bytes"] for r in theirs}
    assert [r["style"] for r in mine] != [r["style"] for r in theirs]


def _cli(out: Path, n: int) -> list[str]:
    return [sys.executable, "-m", "chartsynth", "generate", "--out", str(out), "--n", str(n), "--shard-size", "5",
            "--lang", "mix", "--seed", "7"]


def test_resume_after_sigkill_gives_exactly_the_uninterrupted_samples(tmp_path):
    n = 30
    subprocess.run(_cli(tmp_path / "whole", n), check=True, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cli(killed, n), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill as soon as some, but not all, shards are in the manifest
        manifest = killed / "manifest.json"
        if manifest.exists() and 1 <= len(json.loads(manifest.read_text())["shards"]) < n // 5:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = json.loads((killed / "manifest.json").read_text())["shards"]
    assert 1 <= len(partial) < n // 5
    subprocess.run(_cli(killed, n), check=True, capture_output=True)
    assert [r["id"] for r in rows(killed)] == [r["id"] for r in rows(tmp_path / "whole")]
    for f in sorted((tmp_path / "whole/data").glob("*.parquet")):
        assert (killed / "data" / f.name).read_bytes() == f.read_bytes()
    assert not list(killed.glob("**/.*.tmp-*"))


def test_resume_redoes_a_corrupted_shard(tmp_path):
    config = RunConfig(n=10, seed=3, shard_size=5)
    generate(config, tmp_path)
    shard = tmp_path / "data/shard-00001.parquet"
    good = shard.read_bytes()
    shard.write_bytes(good[:100])
    _, stats = generate(config, tmp_path)
    assert (stats.kept_shards, stats.built_shards) == (1, 1)
    assert shard.read_bytes() == good


def test_a_generator_arithmetic_bug_is_rejected_with_its_reason_and_never_reaches_a_shard(tmp_path, monkeypatch):
    from pipeline import qa

    honest = qa.format_value
    monkeypatch.setattr(qa, "format_value", lambda value, decimals, unit, style, lang, signed=False:
                        honest(value * 1.5 + 1, decimals, unit, style, lang, signed))
    manifest, stats = generate(RunConfig(n=8, seed=6, shard_size=8), tmp_path)  # all 8 answerable when honest
    assert manifest.rows == 0 and stats.rows == 0
    rejects = [json.loads(line) for line in (tmp_path / "rejects/shard-00000.jsonl").read_text().splitlines()]
    assert len(rejects) == 8
    assert {r["reason"] for r in rejects} == {"answer_mismatch"}
    assert all(r["stage"] == "verify" and "the table gives" in r["detail"] and r["sample"]["spec"] for r in rejects)
    from pipeline.report import summarize

    summary = summarize(tmp_path)
    assert summary.rejects_by_reason == {"answer_mismatch": 8}
    assert "the table gives" in summary.reject_examples["answer_mismatch"]


def test_worker_count_does_not_change_the_bytes(tmp_path, tiny_dataset):
    generate(TINY.model_copy(update={"n": 20}), tmp_path, workers=2)
    assert (tmp_path / "data/shard-00000.parquet").read_bytes() == (tiny_dataset / "data/shard-00000.parquet").read_bytes()
