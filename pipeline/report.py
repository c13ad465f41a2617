"""What a dataset directory holds: counts by chart type, QA type, language, renderer, style and data size; rejects by
reason with an example each; diversity; render-check failures. `chartsynth inspect` prints it or writes an HTML page."""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.run import DatasetDirError, damage, read_manifest, read_rejects
from schemas.run import Answerability, DatasetSummary, Diversity

COUNTED = ["lang", "chart_type", "renderer"]
STYLE_COUNTED = ["palette_name", "legend", "number_format", "title_loc", "period_format"]
COLUMNS = [*COUNTED, "qa", "render_checks", "style", "spec", "persona", "topic", "id", "provenance"]
CHECKS = ("overlapping_text", "small_text", "off_canvas_text", "missing_glyphs")
EXACT = ("label", "cell", "position")


def summarize(out: Path, verify: bool = True) -> DatasetSummary:
    """What a dataset holds; `verify` first checks every shard against the manifest's digest."""
    manifest = read_manifest(out)
    if manifest is None:
        raise DatasetDirError(f"{out} has no manifest.json: not a chartsynth dataset (or nothing finished yet)")
    names = [*COUNTED, "qa_type", "answer_type", "read_from", *(f"style_{s}" for s in STYLE_COUNTED), "categories", "series"]
    counts = {name: Counter() for name in names}
    personas, topics = Counter(), Counter()
    check_failures = {key: [] for key in CHECKS}
    read_examples: dict[str, str] = {}
    answerability: dict[str, Answerability] = {}
    drawn, failing = Counter(), {key: Counter() for key in CHECKS}
    for entry in manifest.shards:
        problem = damage(out, entry) if verify else None
        if problem:
            raise DatasetDirError(f"{out}: {problem}; rerun the generate command that made it to rebuild the shard")
        try:
            table = pq.read_table(out / entry.file, columns=COLUMNS)
        except (OSError, pa.ArrowException) as error:
            raise DatasetDirError(f"{out / entry.file}: not a readable Parquet file ({error})") from error
        for row in table.to_pylist():
            for name in COUNTED:
                counts[name][row[name]] += 1
            counts["qa_type"].update(q["qa_type"] for q in row["qa"])
            counts["answer_type"].update(q["answer_type"] for q in row["qa"])
            for q in row["qa"]:
                how = f'{q["qa_type"]}: {q.get("read_from") or "unrecorded"}'
                counts["read_from"][how] += 1
                read_examples.setdefault(how, f'{row["id"]}: {q["question"]} → {q["answer"]}'
                                              f' (±{q.get("tolerance") or 0:g})')
            style, data = json.loads(row["style"]), json.loads(row["spec"])["data"]
            for key in STYLE_COUNTED:
                counts[f"style_{key}"][str(style[key])] += 1
            counts["categories"][len(data["index"])] += 1
            counts["series"][len(data["columns"])] += 1
            personas[row["persona"]] += 1
            topics[row["topic"]] += 1
            checks = json.loads(row["render_checks"])
            drawn[row["renderer"]] += 1
            for key, failures in check_failures.items():
                if checks.get(key):
                    failures.append(row["id"])
                    failing[key][row["renderer"]] += 1
            how = answerability.setdefault(f'{row["chart_type"]} · {row["renderer"]}', Answerability())
            reads = [q.get("read_from") for q in row["qa"]]
            how.rows += 1
            how.asked += len(reads)
            how.exact += sum(r in EXACT for r in reads)
            how.approximate += sum(r in ("axis", "slice") for r in reads)
            for reason, n in json.loads(row["provenance"]).get("not_asked", {}).items():
                how.not_asked[reason] = how.not_asked.get(reason, 0) + n
    rejects, examples = Counter(), {}
    for entry in manifest.shards:
        for reject in read_rejects(out, entry):
            rejects[reject.reason] += 1
            examples.setdefault(reject.reason, f"{reject.id}: {reject.detail[:300]}")
            if reject.sample:  # drawn, then rejected: counts against its family and renderer
                renderer = reject.sample["renderer"]
                how = answerability.setdefault(f'{reject.sample["spec"]["chart_type"]} · {renderer}', Answerability())
                how.rejected[reject.reason] = how.rejected.get(reject.reason, 0) + 1
                if reject.stage in ("render", "verify"):
                    drawn[renderer] += 1
                if reject.reason in failing:
                    failing[reject.reason][renderer] += 1
    rows = manifest.rows
    return DatasetSummary(
        dir=str(out),
        rows=rows,
        shards=len(manifest.shards),
        planned=manifest.config.n,
        config=manifest.config.model_dump(),
        package_version=manifest.package_version,
        **{f"by_{name}": {str(k): v for k, v in (sorted(c.items()) if name in ("categories", "series")
                                                  else c.most_common())}
           for name, c in counts.items()},
        rejects_by_reason=dict(rejects.most_common()),
        reject_examples=examples,
        diversity=Diversity(distinct_personas=len(personas), distinct_topics=len(topics),
                            distinct_topic_ratio=round(len(topics) / rows, 3) if rows else 0.0),
        render_check_failures={k: len(v) for k, v in check_failures.items()},
        render_check_examples={k: v[:10] for k, v in check_failures.items() if v},
        answerability=dict(sorted(answerability.items())),
        render_check_rates={renderer: {key: round(failing[key][renderer] / n, 4) for key in CHECKS}
                            for renderer, n in sorted(drawn.items())},
        read_from_examples=dict(sorted(read_examples.items())),
    )


def _bar_plot(title: str, counts: dict) -> str:
    """A small bar chart of one distribution, as an inline PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 2.4), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels = [str(k) for k in counts]
    ax.barh(labels[::-1], list(counts.values())[::-1], color="#1f77b4")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return f"<img alt='{html.escape(title)}' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"


def _table(mapping: dict) -> str:
    cells = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in mapping.items())
    return f"<table>{cells or '<tr><td>none</td></tr>'}</table>"


def _grid(rows: dict[str, dict]) -> str:
    """Rows of named values as one table with a header (dict values are written as 'key n, …')."""
    columns = list(dict.fromkeys(k for values in rows.values() for k in values))

    def cell(v) -> str:
        return ", ".join(f"{k} {n}" for k, n in v.items()) if isinstance(v, dict) else str(v)

    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", *columns])
    body = "".join(f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{html.escape(cell(values.get(c, '')))}</td>"
                                                                    for c in columns) + "</tr>"
                   for name, values in rows.items())
    return f"<table><tr>{head}</tr>{body or '<tr><td>none</td></tr>'}</table>"


def html_report(out: Path, summary: DatasetSummary, gallery: int = 12) -> str:
    """A self-contained page (no scripts, no external files): distributions, rejects, diversity, checks, a gallery."""
    manifest = read_manifest(out)
    cards = []
    for entry in manifest.shards:
        for row in pq.read_table(out / entry.file, columns=["id", "image", "chart_type", "renderer", "qa"]).to_pylist():
            if len(cards) >= gallery:
                break
            src = base64.b64encode(row["image"]["bytes"]).decode()
            qa = "".join(f"<li>[{q['qa_type']}] {html.escape(q['question'])} → <b>{html.escape(q['answer'])}</b>"
                         f"{' ✓ verified' if q['verified'] else ''}</li>" for q in row["qa"])
            cards.append(f"<figure><img src='data:image/png;base64,{src}' width=360><figcaption>"
                         f"{html.escape(row['id'])} · {row['chart_type']} · {row['renderer']}<ul>{qa}</ul>"
                         f"</figcaption></figure>")
    plots = "".join(_bar_plot(name, counts) for name, counts in summary.distributions().items() if counts)
    return (
        f"<!doctype html><html lang=ja><meta charset=utf-8><title>chartsynth: {html.escape(summary.dir)}</title>"
        "<style>body{font-family:sans-serif;margin:1em} figure{display:inline-block;vertical-align:top;width:380px}"
        "td{padding:0 8px} img{margin:2px} section{margin-bottom:1.5em}</style>"
        f"<h1>{summary.rows} samples in {summary.shards} shards</h1>"
        f"<section><h2>Distributions</h2>{plots}</section>"
        f"<section><h2>Rejects by reason</h2>{_table(summary.rejects_by_reason)}"
        f"<h3>Examples</h3>{_table(summary.reject_examples)}</section>"
        f"<section><h2>Diversity</h2>{_table(summary.diversity.model_dump())}</section>"
        f"<section><h2>Render checks</h2>{_table(summary.render_check_failures)}"
        f"{_table({k: ', '.join(v) for k, v in summary.render_check_examples.items()})}"
        f"<h3>Share of drawn samples failing each check, by renderer</h3>{_grid(summary.render_check_rates)}</section>"
        "<section><h2>Answerable from the image</h2><p>How each kind of question is read from its chart "
        "(label, cell: printed; axis: against the ticks; slice: a pie's size; position: which mark is larger), "
        f"one example each.</p>{_table(summary.read_from_examples)}"
        "<h3>By chart family and renderer</h3><p>asked exactly / approximately; drafted questions not asked "
        "(inseparable: marks too close to compare; unreadable: finer than the image shows); samples rejected.</p>"
        f"{_grid({k: v.model_dump() for k, v in summary.answerability.items()})}</section>"
        f"<section><h2>Samples</h2>{''.join(cards)}</section></html>"
    )
