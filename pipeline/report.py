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
from renderers import furniture
from schemas.chart import ChartSpec
from schemas.run import Answerability, DatasetSummary, Diversity
from schemas.style import StyleSpec

COUNTED = ["lang", "chart_type", "renderer"]
STYLE_COUNTED = ["palette_name", "legend", "number_format", "title_loc", "period_format"]
COLUMNS = [*COUNTED, "qa", "render_checks", "style", "spec", "persona", "topic", "id", "provenance"]
CHECKS = ("overlapping_text", "small_text", "off_canvas_text", "missing_glyphs")
EXACT = ("label", "cell", "position")
FLAGGED_KEPT = 50  # flagged row ids a summary lists (it counts them all)
FURNITURE = {  # what a Japanese report's chart may carry (style, spec) → is it on this row: the furniture gallery
    "図表番号 / figure number": lambda style, spec: bool(style.get("figure_number")),
    "単位 line": lambda style, spec: bool(style.get("unit_line")),
    "出典 / source": lambda style, spec: bool(style.get("source")),
    "注 / note": lambda style, spec: bool(style.get("note")),
    "△/▲ minus": lambda style, spec: style.get("minus") in ("△", "▲") and any(
        v < 0 for row in spec["data"]["data"] for v in row),
    "quarters": lambda style, spec: style.get("period_format") == "quarter",
    "万/億 numbers": lambda style, spec: style.get("number_format") == "man_oku",
    "full-width digits": lambda style, spec: bool(style.get("full_width_digits")),
    "value labels": lambda style, spec: bool(style.get("value_labels")),
    "legend inside the plot": lambda style, spec: style.get("legend") == "upper left",
    "subtitle (span)": lambda style, spec: bool(furniture.subtitle(ChartSpec(**spec), StyleSpec(**style))),
    "過去最高 callout": lambda style, spec: furniture.callout(ChartSpec(**spec), StyleSpec(**style)) is not None,
    "縦書き axis title": lambda style, spec: furniture.vertical_title(ChartSpec(**spec), StyleSpec(**style)) is not None,
    "1兆2,345億 in answers": lambda style, spec: bool(style.get("mixed_scale")) and str(spec.get("unit")).startswith(
        "億") and any(abs(v) >= 1e4 for row in spec["data"]["data"] for v in row),
}


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
    per_cell: dict[str, str] = {}
    per_furniture: dict[str, str] = {}
    flagged: list[str] = []
    flagged_total = 0
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
            style, spec = json.loads(row["style"]), json.loads(row["spec"])
            data = spec["data"]
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
            not_asked = json.loads(row["provenance"]).get("not_asked", {})
            for reason, n in not_asked.items():
                how.not_asked[reason] = how.not_asked.get(reason, 0) + n
            per_cell.setdefault(f'{row["chart_type"]} · {row["renderer"]} · {row["lang"]}', row["id"])
            for element, carries in FURNITURE.items():
                if carries(style, spec):
                    per_furniture.setdefault(element, row["id"])
            if not_asked or any(checks.get(key) for key in CHECKS):
                flagged_total += 1
                if len(flagged) < FLAGGED_KEPT:
                    flagged.append(row["id"])
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
        examples_per_cell=dict(sorted(per_cell.items())),
        examples_per_furniture={k: per_furniture[k] for k in FURNITURE if k in per_furniture},
        flagged=flagged,
        flagged_total=flagged_total,
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


CARD_COLUMNS = ["id", "image", "chart_type", "renderer", "lang", "description", "qa", "spec", "render_checks"]
STYLE = ("body{font-family:sans-serif;margin:1em 2em;max-width:none} td,th{padding:1px 8px;text-align:left;"
         "vertical-align:top} section{margin-bottom:1.5em} .facts td:first-child{color:#555}"
         ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}"
         ".card{border:1px solid #ccc;padding:8px} .card img{width:100%;cursor:zoom-in}"
         ".zoom input{display:none} .zoom input:checked+img{position:fixed;inset:0;margin:auto;width:auto;"
         "max-width:98vw;max-height:98vh;z-index:9;background:#fff;box-shadow:0 0 0 100vmax rgba(0,0,0,.6);"
         "cursor:zoom-out} .data{font-size:90%;border-collapse:collapse} .data td,.data th{border:1px solid #ddd}"
         ".bad{color:#b00} .muted{color:#666} h3{margin:.3em 0}")


def _e(value) -> str:
    return html.escape(str(value))


def _cut(shown: int, total: int, what: str) -> str:
    """Says when a list is cut, so a short list is never mistaken for all there is."""
    return f"<p class=muted>showing {shown} of {total} {what}</p>" if shown < total else ""


def _data_table(spec: dict) -> str:
    data = spec["data"]
    unit = f" ({_e(spec['unit'])})" if spec.get("unit") else ""
    head = "".join(f"<th>{_e(c)}</th>" for c in data["columns"])
    body = "".join(f"<tr><th>{_e(label)}</th>" + "".join(f"<td>{_e(v)}</td>" for v in values) + "</tr>"
                   for label, values in zip(data["index"], data["data"]))
    return f"<table class=data><tr><th>{unit}</th>{head}</tr>{body}</table>"


def _question(q: dict) -> str:
    tolerance = f", ±{q['tolerance']:g}" if q.get("tolerance") else ""
    unverified = "" if q["verified"] else ", NOT verified"
    return (f"<li><b>[{_e(q['qa_type'])}]</b> {_e(q['question'])} → <b>{_e(q['answer'])}</b> <span class=muted>read "
            f"from {_e(q.get('read_from') or 'unrecorded')}{tolerance}{unverified}</span></li>")


def _card(row: dict, number: int) -> str:
    """One sample: its image (click to enlarge, CSS only), description, data table, QA with how each answer is read,
    checks."""
    qa = "".join(_question(q) for q in row["qa"])
    failed = {k: v for k, v in json.loads(row["render_checks"]).items() if v}
    checks = ("<span class=bad>render checks failed: " + _e(", ".join(f"{k} {v}" for k, v in failed.items())) + "</span>"
              if failed else "<span class=muted>render checks: all pass</span>")
    src = base64.b64encode(row["image"]["bytes"]).decode()
    return (f"<div class=card><h3>{_e(row['id'])} · {_e(row['chart_type'])} · {_e(row['renderer'])} · "
            f"{_e(row['lang'])}</h3><label class=zoom><input type=checkbox id=zoom{number}>"
            f"<img alt='{_e(row['id'])}' src='data:image/png;base64,{src}'></label>"
            f"<p class=description>{_e(row['description'])}</p>"
            f"{_data_table(json.loads(row['spec']))}<ul>{qa}</ul>{checks}</div>")


def _check_examples(summary: DatasetSummary, key: str) -> str:
    ids, total = summary.render_check_examples.get(key, []), summary.render_check_failures[key]
    return _e(", ".join(ids)) + (f" … ({len(ids)} of {total} shown)" if total > len(ids) else "")


def _rows(out: Path, manifest, ids: list[str]) -> list[dict]:
    found = {}
    for entry in manifest.shards:
        table = pq.read_table(out / entry.file, columns=CARD_COLUMNS, filters=[("id", "in", ids)])
        found |= {row["id"]: row for row in table.to_pylist()}
    return [found[i] for i in ids if i in found]


def html_report(out: Path, summary: DatasetSummary, gallery: int = 96, flagged: int = 12) -> str:
    """A self-contained page (no scripts, no external files; every text from a row escaped): what the directory is,
    distributions, rejects, render checks, answerability, a gallery covering chart family × renderer × language,
    one of each document furniture element, and flagged samples — each with its data table, its QA and how each answer is read, its checks."""
    manifest = read_manifest(out)
    config = summary.config
    facts = {"directory": summary.dir, "package version": summary.package_version,
             "samples": f"{summary.rows} in {summary.shards} shards, {summary.planned} planned, "
                        f"{sum(summary.rejects_by_reason.values())} rejected",
             **{k: config[k] for k in ("generator", "seed", "n", "lang", "renderer", "shard_size") if k in config}}
    if config.get("generator") == "llm":
        facts |= {"model": config.get("model"), "structured output": config.get("llm_mode")}
    gallery_ids, cells = list(summary.examples_per_cell.values())[:gallery], len(summary.examples_per_cell)
    flagged_ids, marked = summary.flagged[:flagged], summary.flagged_total
    furnished = summary.examples_per_furniture
    rows = {r["id"]: r for r in _rows(out, manifest, gallery_ids + flagged_ids + list(furnished.values()))}
    plots = "".join(_bar_plot(name, counts) for name, counts in summary.distributions().items() if counts)
    rejects = "".join(f"<tr><td>{_e(reason)}</td><td>{n}</td><td>{_e(summary.reject_examples.get(reason, ''))}</td></tr>"
                      for reason, n in summary.rejects_by_reason.items())
    first = len(gallery_ids) + len(flagged_ids)  # numbered after the other cards (each card's zoom checkbox)
    furniture_cards = "".join(f"<h3>{_e(element)}</h3>" + _card(rows[ident], first + n)
                              for n, (element, ident) in enumerate(furnished.items()) if ident in rows)
    checks = "".join(f"<tr><td>{_e(key)}</td><td>{n}</td><td>{_check_examples(summary, key)}</td></tr>"
                     for key, n in summary.render_check_failures.items())
    return (
        f"<!doctype html><html lang=ja><meta charset=utf-8><title>chartsynth: {_e(summary.dir)}</title>"
        f"<style>{STYLE}</style>"
        f"<h1>{summary.rows} samples in {summary.shards} shards</h1>"
        f"<table class=facts>{''.join(f'<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>' for k, v in facts.items())}</table>"
        f"<section><h2>Distributions</h2>{plots}</section>"
        f"<section><h2>Rejects by reason</h2><table><tr><th>reason</th><th>samples</th><th>example</th></tr>"
        f"{rejects or '<tr><td>none</td></tr>'}</table></section>"
        f"<section><h2>Diversity</h2>{_table(summary.diversity.model_dump())}</section>"
        f"<section><h2>Render checks</h2><table><tr><th>check</th><th>rows shipped failing it</th><th>row ids</th></tr>"
        f"{checks}</table><h3>Share of drawn samples failing each check, by renderer</h3>"
        f"{_grid(summary.render_check_rates)}</section>"
        "<section><h2>Answerable from the image</h2><p>How each kind of question is read from its chart "
        "(label, cell: printed; axis: against the ticks; slice: a pie's size; position: which mark is larger), "
        f"one example each.</p>{_table(summary.read_from_examples)}"
        "<h3>By chart family and renderer</h3><p>asked exactly / approximately; drafted questions not asked "
        "(unlabelled: names a category the axis leaves unlabelled; inseparable: marks too close to compare; unreadable: finer than the image shows; _visual: of visual "
        "questions); samples rejected.</p>"
        f"{_grid({k: v.model_dump() for k, v in summary.answerability.items()})}</section>"
        f"<section><h2>Gallery: one sample per chart family × renderer × language</h2><p class=muted>click an image "
        f"to enlarge it, click again to close</p>{_cut(len(gallery_ids), cells, 'combinations')}<div class=cards>"
        f"{''.join(_card(rows[i], n) for n, i in enumerate(gallery_ids) if i in rows)}</div></section>"
        f"<section><h2>Gallery: one sample per document furniture element</h2><p class=muted>the first row carrying "
        f"each; not found in this dataset: {_e(', '.join(k for k in FURNITURE if k not in furnished)) or 'none'}</p>"
        f"<div class=cards>{furniture_cards}</div></section>"
        f"<section><h2>Flagged samples</h2><p class=muted>rows shipped with a failed render check or with questions "
        f"not asked because the image could not settle them (rejected samples are counted above)</p>"
        f"{_cut(len(flagged_ids), marked, 'flagged rows')}<div class=cards>"
        f"{''.join(_card(rows[i], len(gallery_ids) + n) for n, i in enumerate(flagged_ids) if i in rows) or 'none'}"
        f"</div></section></html>"
    )
