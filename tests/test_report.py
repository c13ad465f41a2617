"""The HTML report, opened in headless Chromium as a person would: it renders, shows its plots, logs no errors."""

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from pipeline.report import html_report, summarize
from tests.conftest import TINY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_summary_covers_distributions_diversity_and_checks(tiny_dataset):
    summary = summarize(tiny_dataset)
    assert sum(summary.by_chart_type.values()) == summary.rows
    assert set(summary.by_qa_type) == {"retrieval", "visual", "compositional"}
    assert sum(summary.by_read_from.values()) == sum(summary.by_qa_type.values()) and "visual: unrecorded" not in summary.by_read_from
    assert set(summary.read_from_examples) == set(summary.by_read_from)
    assert summary.by_style_palette_name and summary.by_categories and summary.by_series
    assert 0 < summary.diversity.distinct_topic_ratio <= 1
    assert set(summary.render_check_failures) == {"overlapping_text", "small_text", "off_canvas_text", "missing_glyphs"}
    how = summary.answerability
    assert sum(h.rows for h in how.values()) == summary.rows
    assert sum(h.asked for h in how.values()) == sum(summary.by_qa_type.values())
    assert all(h.exact + h.approximate == h.asked for h in how.values())
    assert set(summary.render_check_rates) == set(summary.by_renderer)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (scripts/setup.sh installs it)")
def test_report_renders_in_headless_chromium(tiny_dataset, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_report(tiny_dataset, summarize(tiny_dataset)), encoding="utf-8")
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
             "--enable-logging=stderr", "--v=0", "--window-size=1200,2400"]
    result = subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                            timeout=120)
    assert shot.exists(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01  # not blank: text, plots and chart images drawn
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []


def test_a_sample_rejected_by_a_render_check_counts_against_its_family_and_renderer(tiny_dataset, tmp_path):
    import shutil

    from pipeline.run import read_manifest, rejects_file
    from pipeline.template import draft_sample
    from schemas import Reject, RunConfig

    out = tmp_path / "d"
    shutil.copytree(tiny_dataset, out)
    before = summarize(out)
    sample = draft_sample(RunConfig(n=1, renderer="plotly"), 0)
    reject = Reject(id="x", sample_index=99, stage="render", reason="overlapping_text", detail="'a' over 'b'",
                    sample=sample.model_dump(mode="json"))
    with (out / rejects_file(read_manifest(out).shards[0].index)).open("a", encoding="utf-8") as f:
        f.write(reject.model_dump_json() + "\n")
    after = summarize(out)
    key = f"{sample.spec.chart_type.value} · plotly"
    earlier = before.answerability[key].rejected if key in before.answerability else {}
    assert after.answerability[key].rejected["overlapping_text"] == earlier.get("overlapping_text", 0) + 1
    assert after.render_check_rates["plotly"]["overlapping_text"] > \
        before.render_check_rates.get("plotly", {}).get("overlapping_text", 0.0)


def test_report_header_gallery_per_family_renderer_language_and_cut_lists(tiny_dataset):
    import pyarrow.parquet as pq

    rows = [r for f in sorted((tiny_dataset / "data").glob("*.parquet"))
            for r in pq.read_table(f, columns=["chart_type", "renderer", "lang"]).to_pylist()]
    cells = {(r["chart_type"], r["renderer"], r["lang"]) for r in rows}
    summary = summarize(tiny_dataset)
    page = html_report(tiny_dataset, summary)
    assert str(tiny_dataset) in page and f"<td>seed</td><td>{TINY.seed}</td>" in page  # what the directory is
    gallery = page.split("<h2>Gallery")[1].split("<h2>Flagged")[0]
    assert gallery.count("<div class=card>") == len(cells) and "showing" not in gallery
    assert gallery.count("<table class=data>") == len(cells) and "read from" in gallery
    cut = html_report(tiny_dataset, summary, gallery=2)
    assert f"showing 2 of {len(cells)} combinations" in cut


def test_report_escapes_row_text(tiny_dataset, tmp_path, monkeypatch):
    import pipeline.report as report

    real = report._rows

    def hostile(out, manifest, ids):
        found = real(out, manifest, ids)
        for row in found:
            row["qa"] = [dict(q, question="<script>alert(1)</script>") for q in row["qa"]]
        return found

    monkeypatch.setattr(report, "_rows", hostile)
    page = html_report(tiny_dataset, summarize(tiny_dataset))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_has_a_gallery_sample_for_each_furniture_element_it_carries(tiny_dataset):
    """One card per document furniture element (pipeline.report.FURNITURE), each the first row carrying it."""
    import json

    import pyarrow.parquet as pq

    from pipeline.report import FURNITURE

    summary = summarize(tiny_dataset)
    rows = {r["id"]: r for f in sorted((tiny_dataset / "data").glob("*.parquet"))
            for r in pq.read_table(f, columns=["id", "style", "spec"]).to_pylist()}
    assert {"出典 / source", "単位 line", "value labels"} <= set(summary.examples_per_furniture)
    for element, ident in summary.examples_per_furniture.items():
        assert FURNITURE[element](json.loads(rows[ident]["style"]), json.loads(rows[ident]["spec"]))
    page = html_report(tiny_dataset, summary)
    furniture = page.split("<h2>Gallery: one sample per document furniture element")[1].split("<h2>Flagged")[0]
    assert furniture.count("<div class=card>") == len(summary.examples_per_furniture)
    assert all(f"<h3>{element}</h3>" in furniture for element in summary.examples_per_furniture)
