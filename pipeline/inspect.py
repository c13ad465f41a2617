"""What a dataset directory holds: counts by chart type, QA type, language, renderer; rejects by reason."""

from __future__ import annotations

import base64
import html
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.run import DatasetDirError, read_manifest, read_rejects

COUNTED = ["lang", "chart_type", "renderer"]


def summarize(out: Path) -> dict:
    manifest = read_manifest(out)
    if manifest is None:
        raise DatasetDirError(f"{out} has no manifest.json: not a chartsynth dataset (or nothing finished yet)")
    counts = {name: Counter() for name in [*COUNTED, "qa_type", "answer_type"]}
    overlaps = 0
    for entry in manifest.shards:
        table = pq.read_table(out / entry.file, columns=[*COUNTED, "qa", "render_checks"])
        for name in COUNTED:
            counts[name].update(table.column(name).to_pylist())
        for qa_list in table.column("qa").to_pylist():
            counts["qa_type"].update(q["qa_type"] for q in qa_list)
            counts["answer_type"].update(q["answer_type"] for q in qa_list)
        overlaps += sum(bool(json.loads(c)["overlapping_text"]) for c in table.column("render_checks").to_pylist())
    rejects, examples = Counter(), {}
    for entry in manifest.shards:
        for reject in read_rejects(out, entry):
            rejects[reject.reason] += 1
            examples.setdefault(reject.reason, f"{reject.id}: {reject.detail[:300]}")
    return {
        "dir": str(out),
        "rows": manifest.rows,
        "shards": len(manifest.shards),
        "planned": manifest.config.n,
        "config": manifest.config.model_dump(),
        "package_version": manifest.package_version,
        **{f"by_{name}": dict(c.most_common()) for name, c in counts.items()},
        "rejects_by_reason": dict(rejects.most_common()),
        "reject_examples": examples,
        "images_with_overlapping_text": overlaps,
    }


def html_report(out: Path, summary: dict, gallery: int = 12) -> str:
    """A self-contained page: the counts, and the first images with their verified QA."""
    manifest = read_manifest(out)
    cards = []
    for entry in manifest.shards:
        for row in pq.read_table(out / entry.file, columns=["id", "image", "chart_type", "qa"]).to_pylist():
            if len(cards) >= gallery:
                break
            src = base64.b64encode(row["image"]["bytes"]).decode()
            qa = "".join(f"<li>{html.escape(q['question'])} → <b>{html.escape(q['answer'])}</b>"
                         f"{' ✓' if q['verified'] else ''}</li>" for q in row["qa"])
            cards.append(f"<figure><img src='data:image/png;base64,{src}' width=360><figcaption>"
                         f"{html.escape(row['id'])} · {row['chart_type']}<ul>{qa}</ul></figcaption></figure>")
    tables = "".join(
        f"<h3>{html.escape(key)}</h3><table>" + "".join(f"<tr><td>{html.escape(str(k))}</td><td>{v}</td></tr>"
                                                       for k, v in value.items()) + "</table>"
        for key, value in summary.items() if isinstance(value, dict) and key != "config")
    return (f"<!doctype html><meta charset=utf-8><title>chartsynth: {html.escape(summary['dir'])}</title>"
            "<style>body{font-family:sans-serif} figure{display:inline-block;vertical-align:top;width:380px}"
            "td{padding:0 8px}</style>"
            f"<h1>{summary['rows']} samples in {summary['shards']} shards</h1>{tables}<h2>Samples</h2>{''.join(cards)}")
