"""The `chartsynth` command. It calls the same functions as the Prefect flows (pipeline.run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.inspect import html_report, summarize
from pipeline.run import DatasetDirError, generate as run_generate
from renderers.errors import SetupError
from schemas import RunConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="dataset directory (created; rerun to resume)")],
    n: Annotated[int, typer.Option(help="number of samples to plan")],
    seed: Annotated[int, typer.Option(help="run seed: same seed and options give the same ids and image bytes")] = 0,
    lang: Annotated[str, typer.Option(help="ja, en or mix")] = "ja",
    generator: Annotated[str, typer.Option(help="template (offline)")] = "template",
    renderer: Annotated[str, typer.Option(help="matplotlib, plotly or mix (tables always use the table renderer)")] = "matplotlib",
    shard_size: Annotated[int, typer.Option(help="samples per Parquet shard")] = 1000,
    workers: Annotated[int, typer.Option(min=1, help="render processes")] = 1,
) -> None:
    """Make a dataset: Parquet shards, manifest.json and rejects/ under OUT."""
    try:
        config = RunConfig(n=n, seed=seed, lang=lang, generator=generator, renderer=renderer, shard_size=shard_size)
    except ValidationError as error:
        first = error.errors()[0]
        _fail(f"--{str(first['loc'][0]).replace('_', '-')} {first['input']!r}: {first['msg']}")
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("samples", total=config.n)
            manifest, stats = run_generate(config, out, workers, on_samples=lambda k: progress.advance(task, k))
    except (DatasetDirError, SetupError) as error:
        _fail(str(error))
    rejects = ", ".join(f"{k}: {v}" for k, v in stats.rejects.most_common()) or "none"
    err.print(f"{stats.rows} samples in {len(manifest.shards)} shards ({stats.built_shards} built, "
              f"{stats.kept_shards} kept); rejects: {rejects}; {stats.samples_per_second:.1f} samples/s")
    typer.echo(f"wrote {out.resolve()}  —  look at it with: chartsynth inspect {out} --html {out}/report.html")


@app.command()
def inspect(
    out: Annotated[Path, typer.Argument(help="dataset directory")],
    html: Annotated[Path | None, typer.Option("--html", help="write a self-contained HTML report here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout")] = False,
) -> None:
    """Counts by chart type, QA type, language and renderer; rejects by reason."""
    try:
        summary = summarize(out)
    except DatasetDirError as error:
        _fail(str(error))
    if html is not None:
        html.write_text(html_report(out, summary), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    typer.echo(f"{summary['dir']}: {summary['rows']} samples in {summary['shards']} shards (planned {summary['planned']})")
    for key, value in summary.items():
        if key.startswith(("by_", "rejects_")):
            typer.echo(f"  {key}: " + (", ".join(f"{k}={v}" for k, v in value.items()) or "none"))
    if html is not None:
        typer.echo(f"  report: {html}")


if __name__ == "__main__":
    app()
