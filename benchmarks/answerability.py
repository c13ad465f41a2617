"""Is every question answerable from the image it ships with? The same datasets made by an earlier revision (run from a
git worktree) and by this one, side by side; also their end-to-end throughput, runs of the two revisions alternating
(median of `--rounds`).

- numeric QA a simulated reader answers within the recorded tolerance: the reader takes printed values (value labels,
  table cells) as printed, reads a mark against the value axis to ±1/5 of its tick step (the step measured from the
  re-rendered chart) and an unlabelled pie slice to ±2 points, computes the asked quantity from what it read, and is
  right if that lies within the question's tolerance (an earlier revision records none: half the last printed digit).
  Measured on matplotlib rows (their ticks are the same in both revisions); plotly rows of this revision shown too.
- visual questions naming a mark that is not drawn, named as another kind, covered, or coloured like another series;
- comparisons (largest, smallest, rank) on unlabelled charts whose marks are within 3 px of the runner-up;
- legends lying over a mark, per renderer (legend boxes are recorded from this revision on; plotly's measured from
  its SVG as the browser laid it out);
- text over text, text under 8 px and text off the canvas, for both renderers (plotly's text measured from its SVG
  since issue 12): rows shipped with it, drawn samples rejected for it, the smallest text shipped;
- an OCR model (PP-OCRv4, `bench` extra) reading the texts the geometry calls legible: the share it reads back;
- rejects per planned sample; samples/s.

Run: .venv/bin/python benchmarks/answerability.py [--mpl 600] [--plotly 150] [--ocr 100] [--rounds 3] [--before REV]
Writes benchmarks/results/answerability.{json,md}. With `--mix N`: this revision alone, N samples over every family
and chart renderer, measured per family × renderer → benchmarks/results/answerability-mix.{json,md}.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

import report
from common.numbers import parse_amount
from pipeline.answerable import prints_values, separable
from pipeline.qa import pick_mark
from pipeline.report import summarize
from renderers import render
from renderers.charts import family
from renderers.colour import difference, painted_as, pixels
from renderers.checks import covers_marks
from schemas import QA, ChartSpec, Element, Program, Sample, StyleSpec
from schemas.render import MARKS

ROOT = Path(__file__).resolve().parents[1]
READERS = 20  # random readers per question
MARK_WORDS = {"bar": ("バー", "bar"), "point": ("点", "point"), "slice": ("部分", "slice"), "cell": ("行の", "row's")}
GENERATE = ("import sys, time, json; from pathlib import Path; from pipeline.run import generate; "
            "from schemas import RunConfig; t = time.perf_counter(); "
            "generate(RunConfig(n=int(sys.argv[2]), seed=7, lang='mix', renderer=sys.argv[3], shard_size=250), "
            "Path(sys.argv[1]), workers=2); print(json.dumps({'seconds': time.perf_counter() - t}))")


def make(source: Path, out: Path, n: int, renderer: str) -> float:
    """Generate with the code at `source`; seconds taken."""
    done = subprocess.run([sys.executable, "-c", GENERATE, str(out), str(n), renderer], cwd=source, check=True,
                          env=os.environ | {"PYTHONPATH": str(source)}, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def rows(out: Path) -> list[dict]:
    return [r for p in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]


def reader_answer(program: Program, spec: ChartSpec, read) -> float | None:
    """The asked quantity computed from what the reader read (`read(row, col)`); None for a label answer."""
    p, col = program, program.col
    column = {r: read(r, col) for r in spec.data.index} if col in spec.data.columns else {}
    if p.op.value in ("value",):
        return read(p.row, col)
    if p.op.value == "diff":
        return read(p.end, col) - read(p.start, col)
    if p.op.value == "growth":
        return (read(p.end, col) / read(p.start, col) - 1) * 100
    if p.op.value == "ratio":
        return read(p.row, col) / read(p.other.row, p.other.col)
    if p.op.value == "sum":
        return sum(read(r, col) for r in (p.rows or spec.data.index))
    if p.op.value == "mean":
        return sum(column.values()) / len(column)
    if p.op.value in ("max", "min"):
        return (max if p.op.value == "max" else min)(column.values())
    if p.op.value == "rank":
        return 1 + sum(v > column[p.row] for v in column.values())
    if p.op.value == "count_above":
        return sum(v > p.threshold for v in column.values())
    return None


def numeric_within(row: dict, rng: np.random.Generator, asked: str = "qa") -> list[bool] | None:
    """Per numeric question (`asked` = "description_facts": per number the description states): did every simulated
    reader land within its tolerance? None: not measurable."""
    spec, style = ChartSpec.model_validate_json(row["spec"]), StyleSpec.model_validate_json(row["style"])
    chart = family(spec.chart_type)
    steps = render(spec, style, row["renderer"], row["lang"]).tick_steps
    elements = [Element.model_validate(e) for e in json.loads(row["elements"])]
    printed = prints_values(spec, style)
    table = {(r, c): v for r, values in zip(spec.data.index, spec.data.data) for c, v in zip(spec.data.columns, values)}
    results = []
    for record in row[asked]:
        qa = QA.model_validate(record | {"program": Program.model_validate_json(record["program"])})
        if qa.answer_type.value != "number" or qa.program.op.value in ("rank", "longest_rise", "series_count"):
            continue  # ranks and runs: the 3 px comparisons; a series count: the legend's entries
        program = qa.program
        if program.op.value == "pick":  # the picked mark's cell
            mark = pick_mark(program, elements)
            program = Program(op="value", row=mark.row, col=mark.col)
        answer = parse_amount(qa.answer, qa.unit)
        if answer is None:
            continue
        allowed = max(record.get("tolerance") or 0.0, 0.5 * answer[1]) + 1e-9 * max(1.0, abs(answer[0]))
        right = True
        for _ in range(READERS):
            def read(r, c):
                if printed:
                    return table[(r, c)]
                if chart.round:
                    return table[(r, c)] + rng.uniform(-1, 1) * 0.02 * sum(spec.data.column(c))
                # a stacked value above the base, or a waterfall's bar: its two edges each read against the ticks
                edges = 2 if chart.bridge or chart.stacks and c != spec.data.columns[0] else 1
                return table[(r, c)] + sum(rng.uniform(-1, 1) * 0.2 * steps[c] for _ in range(edges))
            try:
                guess = reader_answer(program, spec, read)
            except (KeyError, ZeroDivisionError):
                guess = None
            if guess is None or abs(guess - answer[0]) > allowed:
                right = False
                break
        results.append(right)
    return results


def always_marked(chart) -> bool:
    """A family drawn as dots whatever the style's markers say (dot plot, lollipop): its drawing's own option."""
    paint = getattr(chart.draw.get("matplotlib"), "keywords", {}).get("paint")
    return bool(getattr(paint, "keywords", {}).get("dots"))


def visual_faults(row: dict) -> dict[str, int]:
    spec, style = ChartSpec.model_validate_json(row["spec"]), StyleSpec.model_validate_json(row["style"])
    chart = family(spec.chart_type)
    lines_without_markers = not style.markers and not chart.paired and not always_marked(chart)
    elements = [Element.model_validate(e) for e in json.loads(row["elements"])]
    image = pixels(row["image"]["bytes"])
    faults = {"not_drawn": 0, "misnamed": 0, "covered": 0, "colour_not_distinct": 0, "visual": 0}
    for record in row["qa"]:
        program = json.loads(record["program"])
        if program["op"] != "pick":
            continue
        faults["visual"] += 1
        named = [e for e in elements if e.kind in MARKS and (program["color"] is None or e.color == program["color"])
                 and (program["col"] is None or e.col == program["col"])]
        kinds = {e.kind for e in named}
        words = [k for k, (ja, en) in MARK_WORDS.items() if ja in record["question"] or en in record["question"]]
        if "point" in words and (lines_without_markers or not any(e.kind == "point" for e in named)):
            faults["not_drawn"] += 1  # a line drawn without markers
        elif words and words[0] not in kinds:
            faults["misnamed"] += 1
        elif program["order"] and named:
            axis = 0 if program["order"] in ("leftmost", "rightmost") else 1
            pick = sorted(named, key=lambda e: (e.bbox[axis] + e.bbox[axis + 2]) / 2,
                          reverse=program["order"] in ("rightmost", "bottommost"))[0]
            if pick.kind in ("bar", "point") and not painted_as(pick, image):
                faults["covered"] += 1
        if program["color"]:
            others = {e.color for e in elements if e.kind in ("bar", "point", "vertex", "slice") and e.color
                      and e.color != program["color"]}
            if any(difference(program["color"], o) < 20 for o in others):
                faults["colour_not_distinct"] += 1
    return faults


def close_comparisons(row: dict) -> tuple[int, int]:
    """(comparisons asked, of them within 3 px of the runner-up on an unlabelled chart)."""
    sample = Sample.model_validate({
        "id": row["id"], "lang": row["lang"], "renderer": row["renderer"], "persona": {"domain": "", "role": "r"},
        "topic": {"text": "t", "metric": "m"}, "description": {"text": "d"}, "spec": json.loads(row["spec"]),
        "style": json.loads(row["style"]), "provenance": json.loads(row["provenance"]),
        "qa": [q | {"program": json.loads(q["program"]), "read_from": q.get("read_from"),
                    "tolerance": q.get("tolerance") or 0.0} for q in row["qa"]]})
    elements = [Element.model_validate(e) for e in json.loads(row["elements"])]
    asked = [qa for qa in sample.qa if qa.program.op.value in ("argmax", "argmin", "rank", "max", "min")]
    return len(asked), sum(not separable(qa, sample, elements) for qa in asked)


def _normal(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).replace(",", "")


def ocr_agreement(out: Path, limit: int) -> dict | None:
    """An OCR model we did not write (PP-OCRv4 via rapidocr-onnxruntime) reads the first `limit` shipped images; each
    level text our geometry says is legible (≥ 8 px, on the canvas, not overlapped) is matched to the OCR lines whose
    centres fall inside its box. Numbers (values, ticks) must read exactly (digits, sign, point); words must read at
    ≥ 0.5 character similarity (the model is Chinese/English: kana and Japanese-only kanji come out as near forms).
    None when the `bench` extra is not installed."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        print("OCR probe skipped: pip install -e '.[bench]' (rapidocr-onnxruntime)", file=sys.stderr)
        return None
    engine = RapidOCR()
    numbers = words = numbers_read = words_read = 0
    misread: list[str] = []
    for row in rows(out)[:limit]:
        found, _ = engine(row["image"]["bytes"])
        lines = [((sum(p[0] for p in box) / 4, sum(p[1] for p in box) / 4), text) for box, text, _score in found or []]
        for e in (Element.model_validate(x) for x in json.loads(row["elements"])):
            if e.kind != "text" or e.quad or not (e.text or "").strip():
                continue
            x0, y0, x1, y1 = e.bbox
            inside = sorted(((round(cy / 8), cx), t) for (cx, cy), t in lines
                            if x0 - 3 <= cx <= x1 + 3 and y0 - 3 <= cy <= y1 + 3)
            read, want = _normal("".join(t for _, t in inside)), _normal(e.text)
            if re.fullmatch(r"[-+−△▲]?[\d.]+[%万億]?", want):
                numbers += 1
                numbers_read += read == want
                if read != want and len(misread) < 12:
                    misread.append(f"{row['id']}: {e.text!r} read as {read!r}")
            else:
                words += 1
                words_read += difflib.SequenceMatcher(None, read, want).ratio() >= 0.5
    return {"images": min(limit, len(rows(out))), "numbers": numbers,
            "numbers_read_exactly": round(numbers_read / numbers, 4) if numbers else None,
            "words": words, "words_read": round(words_read / words, 4) if words else None, "misread_numbers": misread}


def text_layout(out: Path) -> dict:
    """Text checks as shipped and as drawn: rows whose text collides / is small / leaves the canvas (0 by
    construction now: such samples are repaired or rejected), the share of drawn samples rejected for it, and the
    smallest text size shipped."""
    summary = summarize(out)
    sizes = [e["size_px"] for row in rows(out) for e in json.loads(row["elements"])
             if e["kind"] == "text" and e.get("size_px")]
    return {"rows_flagged": summary.render_check_failures, "rejected_share": summary.render_check_rates,
            "smallest_text_px": round(min(sizes), 2) if sizes else None}


def measure(out: Path, plotly_too: bool) -> dict:
    rng = np.random.default_rng(0)
    manifest = json.loads((out / "manifest.json").read_text())
    within: list[bool] = []
    within_plotly: list[bool] = []
    faults: dict[str, int] = {}
    comparisons = close = legends = legends_over_marks = 0
    for row in rows(out):
        elements = [Element.model_validate(e) for e in json.loads(row["elements"])]
        boxes = [e for e in elements if e.kind == "legend"]
        legends += bool(boxes)
        legends_over_marks += bool(boxes) and covers_marks(boxes, elements)
        if row["renderer"] in ("matplotlib", "table", "great_tables"):
            within += numeric_within(row, rng)
        elif plotly_too:
            within_plotly += numeric_within(row, rng)
        for k, v in visual_faults(row).items():
            faults[k] = faults.get(k, 0) + v
        a, c = close_comparisons(row)
        comparisons, close = comparisons + a, close + c
    rejects = sum(s["rejects"] for s in manifest["shards"])
    return {"rows": sum(s["rows"] for s in manifest["shards"]), "rejects": rejects,
            "numeric_within_tolerance": round(sum(within) / len(within), 4) if within else None,
            "numeric_questions": len(within),
            "numeric_within_tolerance_plotly": round(sum(within_plotly) / len(within_plotly), 4) if within_plotly else None,
            "visual": faults, "comparisons": comparisons, "comparisons_within_3px": close,
            "legends_measured": legends, "legends_over_marks": legends_over_marks}


def by_family(out: Path) -> dict:
    """Per chart family × renderer of this revision: rows, numeric QA a simulated reader gets within tolerance,
    visual faults, close comparisons, legends over marks; rejects per family and reason."""
    rng = np.random.default_rng(0)
    cells: dict[str, dict] = {}
    for row in rows(out):
        cell = cells.setdefault(f"{row['chart_type']} × {row['renderer']}", {
            "rows": 0, "numeric": 0, "within": 0, "facts": 0, "facts_within": 0, "visual": 0, "visual_faults": 0,
            "comparisons": 0, "close": 0, "legends": 0, "legends_over_marks": 0})
        cell["rows"] += 1
        within = numeric_within(row, rng)
        cell["numeric"] += len(within)
        cell["within"] += sum(within)
        stated = numeric_within(row, rng, "description_facts")
        cell["facts"] += len(stated)
        cell["facts_within"] += sum(stated)
        faults = visual_faults(row)
        cell["visual"] += faults.pop("visual")
        cell["visual_faults"] += sum(faults.values())
        asked, close = close_comparisons(row)
        cell["comparisons"] += asked
        cell["close"] += close
        elements = [Element.model_validate(e) for e in json.loads(row["elements"])]
        boxes = [e for e in elements if e.kind == "legend"]
        cell["legends"] += bool(boxes)
        cell["legends_over_marks"] += bool(boxes) and covers_marks(boxes, elements)
    rejects: dict[str, dict[str, int]] = {}
    for path in sorted((out / "rejects").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            reject = json.loads(line)
            kind = (reject.get("sample") or {}).get("spec", {}).get("chart_type", "?")
            rejects.setdefault(kind, {}).setdefault(reject["reason"], 0)
            rejects[kind][reject["reason"]] += 1
    return {"cells": dict(sorted(cells.items())), "rejects": rejects}


def mixed(n: int) -> None:
    """This revision only: `n` samples over every family and chart renderer (--renderer mix), measured per family
    × renderer. Writes benchmarks/results/answerability-mix.{json,md}."""
    import time

    out = Path(tempfile.mkdtemp(prefix="chartsynth-answerability-mix-"))
    started = time.perf_counter()
    make(ROOT, out, n, "mix")
    seconds = time.perf_counter() - started
    result = {"planned": n, "seconds": round(seconds, 1), "samples_per_second": round(n / seconds, 2),
              **by_family(out), "text": text_layout(out)}
    cells = result["cells"]
    total = {k: sum(c[k] for c in cells.values()) for k in next(iter(cells.values()))}
    rejected = sum(sum(r.values()) for r in result["rejects"].values())
    lines = [f"{n} samples planned over every family (seed 7, mixed languages, `--renderer mix`: matplotlib, plotly,"
             f" Vega-Lite, tables), this revision; {READERS} simulated readers per numeric question (labels and cells "
             "as printed, axis ±1/5 tick step per edge read — two for a stacked value above the base or a waterfall "
             "bar — pies ±2 points).", "",
             f"Overall: {total['rows']} rows, {rejected} rejected; numeric QA within tolerance "
             f"{total['within']}/{total['numeric']} ({total['within'] / max(1, total['numeric']):.2%}); numbers the "
             f"descriptions state, read the same way, {total['facts_within']}/{total['facts']} "
             f"({total['facts_within'] / max(1, total['facts']):.2%}); visual questions "
             f"with a fault {total['visual_faults']}/{total['visual']}; comparisons within 3 px unlabelled "
             f"{total['close']}/{total['comparisons']}; legends over a mark {total['legends_over_marks']}/"
             f"{total['legends']}; rows shipped with text over text "
             f"{result['text']['rows_flagged'].get('overlapping_text', 0)}; {result['samples_per_second']} samples/s "
             "end to end on 2 workers.", ""]
    header = ["family × renderer", "rows", "numeric within tolerance", "description numbers within tolerance",
              "visual faults", "close comparisons", "legends over marks"]
    body = [[name, c["rows"], f"{c['within']}/{c['numeric']}", f"{c['facts_within']}/{c['facts']}",
             f"{c['visual_faults']}/{c['visual']}",
             f"{c['close']}/{c['comparisons']}", f"{c['legends_over_marks']}/{c['legends']}"] for name, c in cells.items()]
    reject_lines = ["", "Rejects by family: " + (", ".join(
        f"{kind} {sum(r.values())} ({', '.join(f'{k} {v}' for k, v in r.items())})"
        for kind, r in sorted(result["rejects"].items())) or "none") + "."]
    report.write("answerability-mix", result, lines + report.table(header, body) + reject_lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpl", type=int, default=600)
    parser.add_argument("--plotly", type=int, default=150)
    parser.add_argument("--ocr", type=int, default=100, help="images per renderer the OCR probe reads")
    parser.add_argument("--rounds", type=int, default=3, help="throughput runs per revision (median reported)")
    parser.add_argument("--before", default="649ce2a", help="git revision to compare with (default: before issue 12)")
    parser.add_argument("--mix", type=int, default=0,
                        help="instead: this revision alone, N samples over every family and renderer, per family")
    args = parser.parse_args()
    if args.mix:
        return mixed(args.mix)
    work = Path(tempfile.mkdtemp(prefix="chartsynth-answerability-"))
    before = work / "before-src"
    subprocess.run(["git", "worktree", "add", "--detach", str(before), args.before], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        result = {"before": args.before, "mpl": args.mpl, "plotly": args.plotly, "rounds": args.rounds}
        sources = {"before": before, "now": ROOT}
        timings: dict[str, dict[str, list[float]]] = {name: {"matplotlib": [], "plotly": []} for name in sources}
        for round_ in range(args.rounds):  # revisions alternate, so a busy spell of the machine hits both alike
            for name, source in sources.items():
                for renderer, n in (("matplotlib", args.mpl), ("plotly", args.plotly)):
                    out = work / name / renderer if round_ == 0 else work / "again" / f"{name}-{renderer}-{round_}"
                    timings[name][renderer].append(n / make(source, out, n, renderer))
        for name in sources:
            mpl, plotly = measure(work / name / "matplotlib", False), measure(work / name / "plotly", name == "now")
            result[name] = {"matplotlib": mpl, "plotly": plotly, "samples_per_second": timings[name],
                            "mpl_samples_per_second": round(statistics.median(timings[name]["matplotlib"]), 2),
                            "plotly_samples_per_second": round(statistics.median(timings[name]["plotly"]), 2)}
        for renderer, out in (("matplotlib", work / "now" / "matplotlib"), ("plotly", work / "now" / "plotly")):
            result["now"][renderer]["text"] = text_layout(out)
            result["now"][renderer]["ocr"] = ocr_agreement(out, args.ocr)
        result["before"]["matplotlib"]["text"] = {"rows_flagged": summarize(work / "before" / "matplotlib").render_check_failures}
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, capture_output=True)
    lines = [f"Reader: labels and cells as printed, axis ±1/5 tick step, pies ±2 points; {READERS} readers per "
             f"question. {args.mpl} matplotlib + {args.plotly} plotly samples (mixed languages), before = {args.before}.",
             ""]
    header = ["", "before", "now"]
    b, n = result["before"], result["now"]

    def faults(run, key):
        return run["matplotlib"]["visual"].get(key, 0) + run["plotly"]["visual"].get(key, 0)

    table_rows = [
        ["numeric QA within tolerance (matplotlib)", b["matplotlib"]["numeric_within_tolerance"],
         n["matplotlib"]["numeric_within_tolerance"]],
        ["numeric QA within tolerance (plotly)", "n/a (ticks not pinned)", n["plotly"]["numeric_within_tolerance_plotly"]],
        ["visual questions", faults(b, "visual"), faults(n, "visual")],
        ["… naming an undrawn point", faults(b, "not_drawn"), faults(n, "not_drawn")],
        ["… naming the wrong kind of mark", faults(b, "misnamed"), faults(n, "misnamed")],
        ["… naming a covered mark", faults(b, "covered"), faults(n, "covered")],
        ["… colour within ΔE00 20 of another series", faults(b, "colour_not_distinct"), faults(n, "colour_not_distinct")],
        ["comparisons within 3 px, unlabelled", f"{b['matplotlib']['comparisons_within_3px'] + b['plotly']['comparisons_within_3px']}"
         f" of {b['matplotlib']['comparisons'] + b['plotly']['comparisons']}",
         f"{n['matplotlib']['comparisons_within_3px'] + n['plotly']['comparisons_within_3px']}"
         f" of {n['matplotlib']['comparisons'] + n['plotly']['comparisons']}"],
        *[[f"{r} legends over a mark (measured)", "not recorded (16 % / 15 % in the issue's audit)",
           f"{n[r]['legends_over_marks']} of {n[r]['legends_measured']}"] for r in ("matplotlib", "plotly")],
        ["rejects / planned", f"{b['matplotlib']['rejects'] + b['plotly']['rejects']} / {args.mpl + args.plotly}",
         f"{n['matplotlib']['rejects'] + n['plotly']['rejects']} / {args.mpl + args.plotly}"],
        [f"matplotlib samples/s (2 workers, median of {args.rounds} alternating runs)", b["mpl_samples_per_second"],
         f"{n['mpl_samples_per_second']} ({n['mpl_samples_per_second'] / b['mpl_samples_per_second']:.0%})"],
        [f"plotly samples/s (2 workers, median of {args.rounds} alternating runs)", b["plotly_samples_per_second"],
         f"{n['plotly_samples_per_second']} ({n['plotly_samples_per_second'] / b['plotly_samples_per_second']:.0%})"],
    ]
    for renderer in ("matplotlib", "plotly"):
        text = n[renderer]["text"]
        flagged_before = (f"{b['matplotlib']['text']['rows_flagged'].get('overlapping_text', 0)} of "
                          f"{b['matplotlib']['rows']}" if renderer == "matplotlib" else "not measured")
        rejected = text["rejected_share"].get(renderer, {})
        table_rows += [
            [f"{renderer} rows shipped with text over text", flagged_before,
             f"{text['rows_flagged'].get('overlapping_text', 0)} of {n[renderer]['rows']}"],
            [f"{renderer} drawn samples rejected: text over text / small / off canvas", "n/a",
             " / ".join(f"{rejected.get(k, 0):.1%}" for k in ("overlapping_text", "small_text", "off_canvas_text"))],
            [f"{renderer} smallest text shipped (px)", "n/a", text["smallest_text_px"]],
        ]
        ocr = n[renderer]["ocr"]
        if ocr and ocr["images"]:
            table_rows += [[f"{renderer} OCR: legible numbers read exactly", "n/a",
                            f"{ocr['numbers_read_exactly']:.1%} of {ocr['numbers']} ({ocr['images']} images)"],
                           [f"{renderer} OCR: legible words read (≥ 0.5 similar)", "n/a",
                            f"{ocr['words_read']:.1%} of {ocr['words']}"]]
    report.write("answerability", result, lines + report.table(header, table_rows))


if __name__ == "__main__":
    main()
