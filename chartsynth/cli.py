"""The `chartsynth` command. Data commands call `pipeline.run.run_job`, as the Prefect flows do; model commands call
model/'s recipes."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from common.llm_client import LLMUnavailable, probe_modes
from pipeline.report import html_report, summarize
from pipeline.run import DatasetDirError, GenerateJob, generate as run_generate
from renderers.errors import SetupError
from schemas import ChartType, RegenerateConfig, RunConfig

FLAG = ""  # a flag takes no value: show none (typer would print "<bool>")


def _flag_help(option):
    if option is not None:
        option.metavar = FLAG
    return option


class _Command(typer.core.TyperCommand):
    """--help shown as the flag it is, like every other flag here."""

    def get_help_option(self, ctx):
        return _flag_help(super().get_help_option(ctx))


class _Group(typer.core.TyperGroup):
    def get_help_option(self, ctx):
        return _flag_help(super().get_help_option(ctx))


app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True,
                  help="Synthetic chart and table images with program-verified QA (Japanese first): make, inspect and "
                       "regenerate datasets; train, adapt, quantize and evaluate a chart-reading LMM on them.")
err = Console(stderr=True, soft_wrap=True)


def _show_version(asked: bool) -> None:
    if asked:
        from pipeline import __version__

        typer.echo(f"chartsynth {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True, metavar=FLAG,
                                               help="print the version and exit")] = False) -> None:
    """Synthetic chart and table images with program-verified QA (Japanese first)."""
    # transformers' deprecation notices are about its own API, which a user of these commands cannot act on
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers(\.|$)")


def _fail(message: str) -> None:
    # the message is escaped: file names, values and install hints ("chartsynth[train]") are not rich markup
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(2)


@app.command(cls=_Command)
def generate(
    out: Annotated[Path, typer.Option(help="dataset directory (created; rerun to resume)")],
    n: Annotated[int, typer.Option(help="number of samples to plan")],
    seed: Annotated[int, typer.Option(help="run seed: same seed and options give the same ids and image bytes")] = 0,
    lang: Annotated[str, typer.Option(help="ja, en or mix")] = "ja",
    generator: Annotated[str, typer.Option(help="template (offline) or llm (needs --base-url and --model)")] = "template",
    renderer: Annotated[str, typer.Option(help="matplotlib, plotly, vegalite or mix (tables: the matplotlib grid, or for mix either table style)")] = "matplotlib",
    shard_size: Annotated[int, typer.Option(help="samples per Parquet shard")] = 1000,
    workers: Annotated[int, typer.Option(help="render processes (at least 1)")] = 1,
    base_url: Annotated[list[str] | None, typer.Option(help="llm: OpenAI-compatible server URL (repeat for replicas)")] = None,
    model: Annotated[str | None, typer.Option(help="llm: model name")] = None,
    llm_mode: Annotated[str, typer.Option(help="llm: json_schema, json_object (llama.cpp), text; auto probes")] = "auto",
    max_in_flight: Annotated[int, typer.Option(help="llm: requests in flight over all servers (at most; 429s lower it)")] = 16,
    requests_per_minute: Annotated[int | None, typer.Option(help="llm: the provider's requests-per-minute limit")] = None,
    tokens_per_minute: Annotated[int | None, typer.Option(help="llm: the provider's tokens-per-minute limit")] = None,
    temperature: Annotated[float, typer.Option(help="llm: sampling temperature of every step")] = 0.7,
    max_tokens: Annotated[int, typer.Option(help="llm: reply length limit of every step")] = 1024,
    step_temperature: Annotated[list[str] | None, typer.Option(
        help="llm: one step's temperature, STEP=VALUE (persona, topic, description, data, qa; repeatable)")] = None,
    step_max_tokens: Annotated[list[str] | None, typer.Option(
        help="llm: one step's reply length limit, STEP=VALUE (repeatable)")] = None,
    batch: Annotated[bool, typer.Option("--batch", help="llm: through the OpenAI Batch API (half price, within 24 h)",
                                         metavar=FLAG)] = False,
    batch_poll: Annotated[float, typer.Option(help="llm: seconds between asking about a running batch")] = 30.0,
    topics_per_persona: Annotated[int, typer.Option(help="llm: topics drafted per persona (fan-out)")] = 1,
    charts_per_topic: Annotated[int, typer.Option(help="llm: charts drafted per topic (fan-out)")] = 1,
    repair_attempts: Annotated[int, typer.Option(help="llm: times a step's invalid reply is sent back for repair")] = 2,
    timeout: Annotated[float, typer.Option(help="llm: seconds to wait for one reply")] = 120.0,
    wait_for_server: Annotated[float, typer.Option(
        help="llm: seconds to wait, paused, for servers that stop answering before the run stops")] = 600.0,
    price_per_mtok: Annotated[tuple[float, float] | None, typer.Option(help="llm: prompt and completion price per 1M tokens")] = None,
    dask_address: Annotated[str | None, typer.Option(help="run the shard tasks on this Dask cluster (Prefect flow)")] = None,
) -> None:
    """Make a dataset: Parquet shards, manifest.json and rejects/ under OUT. The API key is read from OPENAI_API_KEY."""
    if workers < 1:
        _fail(f"--workers {workers}: at least 1 render process")
    try:
        config = RunConfig(n=n, seed=seed, lang=lang, generator=generator, renderer=renderer, shard_size=shard_size,
                           base_url=base_url or [], model=model, llm_mode=llm_mode, max_in_flight=max_in_flight,
                           requests_per_minute=requests_per_minute, tokens_per_minute=tokens_per_minute,
                           temperature=temperature, max_tokens=max_tokens,
                           step_temperature=_per_step(step_temperature, "--step-temperature"),
                           step_max_tokens=_per_step(step_max_tokens, "--step-max-tokens"),
                           batch=batch, batch_poll_s=batch_poll,
                           topics_per_persona=topics_per_persona, charts_per_topic=charts_per_topic,
                           repair_attempts=repair_attempts, timeout_s=timeout, outage_s=wait_for_server,
                           price_per_mtok=price_per_mtok)
    except ValidationError as error:
        first = error.errors()[0]
        flag = {"timeout_s": "timeout", "outage_s": "wait_for_server", "batch_poll_s": "batch_poll"}.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else ""
        key = f"{first['loc'][1]}=" if flag.startswith("step_") and len(first["loc"]) == 2 else ""  # STEP=VALUE
        where = f"--{flag.replace('_', '-')} {key}{first['input']!r}: " if flag else ""
        _fail(f"{where}{first['msg'].removeprefix('Value error, ')}")
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    try:
        if dask_address:
            report = _flows().run_flow(GenerateJob(config=config), str(out), workers, dask_address)
        else:
            with Progress(*columns, console=err, transient=True) as progress:
                task = progress.add_task("samples", total=config.n)
                _, report = run_generate(config, out, workers, on_samples=lambda k: progress.advance(task, k))
    except (DatasetDirError, SetupError) as error:
        _fail(str(error))
    except LLMUnavailable as error:
        _fail(f"LLM server unavailable ({error}); finished shards are kept, rerun the same command to resume")
    err.print(escape(report.summary()), highlight=False)
    typer.echo(f"wrote {out.resolve()}  —  look at it with: chartsynth inspect {out} --html {out}/report.html")


def _per_step(values: list[str] | None, flag: str) -> dict[str, str]:
    """STEP=VALUE options as a dict (RunConfig checks the step names and values)."""
    pairs = {}
    for value in values or []:
        step, sep, number = value.partition("=")
        if not sep:
            _fail(f"{flag} {value!r}: write STEP=VALUE, e.g. {flag} qa=0.2")
        pairs[step.strip()] = number.strip()
    return pairs


def _flows():
    """flows.datasets, or a one-line install hint."""
    import os

    # without PREFECT_API_URL the flow starts a temporary Prefect server; its first start migrates a new database,
    # which can take longer than Prefect's 20 s default on a small machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    try:
        from flows import datasets
    except ImportError:
        _fail("--dask-address runs the Prefect flow: pip install 'chartsynth[flows]'")
    return datasets


@app.command("llm-check", cls=_Command)
def llm_check(
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1")],
    model: Annotated[str, typer.Option(help="model name")],
) -> None:
    """Probe which structured-output modes a server accepts: json_schema, json_object+schema, or plain text."""
    results = asyncio.run(probe_modes(base_url, model))
    typer.echo(json.dumps(results, ensure_ascii=False))
    if "ok" not in results.values():
        raise typer.Exit(1)


@app.command("regenerate", cls=_Command)
def regenerate_command(
    source: Annotated[Path, typer.Argument(help="existing dataset directory")],
    out: Annotated[Path, typer.Option(help="new dataset directory (rerun to resume)")],
    chart_type: Annotated[list[str] | None, typer.Option(
        help=f"select rows of this chart type (repeatable): {', '.join(ChartType)}")] = None,
    lang: Annotated[list[str] | None, typer.Option(help="select rows in this language (repeatable): ja, en")] = None,
    from_renderer: Annotated[list[str] | None, typer.Option(
        help="select rows drawn by this renderer (repeatable): matplotlib, plotly, vegalite, table, great_tables")] = None,
    id: Annotated[list[str] | None, typer.Option(help="select this row id (repeatable)")] = None,
    stale_prompts: Annotated[bool, typer.Option(
        help="select rows of an older prompt version and generate them again", metavar=FLAG)] = False,
    style_seed: Annotated[int | None, typer.Option(help="re-render selected rows with styles from this seed")] = None,
    renderer: Annotated[str | None, typer.Option(help="re-render selected rows with matplotlib, plotly or vegalite")] = None,
) -> None:
    """Re-render or regenerate selected rows of SOURCE into --out; all other rows are carried over unchanged."""
    from pipeline.regenerate import RegenerateJob, regenerate

    flags = {"chart_types": "--chart-type", "langs": "--lang", "renderers": "--from-renderer"}
    try:
        how = RegenerateConfig(chart_types=chart_type or [], langs=lang or [], renderers=from_renderer or [],
                               ids=id or [], stale_prompts=stale_prompts, style_seed=style_seed, renderer=renderer)
        manifest, report = regenerate(source, out, how)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0])
        _fail(f"{flags.get(name, '--' + name.replace('_', '-'))} {first['input']!r}: {first['msg']}")
    except (DatasetDirError, SetupError) as error:
        _fail(str(error))
    job = RegenerateJob(source=str(source), how=how).resolve(out)
    redone, total = job.count_selected()
    # the shards' reject files also carry the source's own rejects over: count the redone rows that did not land
    rejected = redone - (manifest.rows - (total - redone))
    typer.echo(f"wrote {out.resolve()}: {manifest.rows} samples in {len(manifest.shards)} shards; redone {redone} "
               f"({how.described()}: {redone - rejected} landed, {rejected} rejected"
               f"{', see rejects/' if rejected else ''}), carried over {total - redone}")


@app.command("train", cls=_Command)
def train_command(config: Annotated[Path, typer.Option(help="a stage's TOML config (see model/configs/)")]) -> None:
    """Train one stage of the LMM from the shards (run under torchrun for DDP)."""
    try:
        from model.train import TrainConfig, train
    except ImportError:
        _fail("training needs the train extra: pip install 'chartsynth[train]'")
    cfg = _load_toml(config, TrainConfig)
    try:
        result = train(cfg)
    except FileNotFoundError as error:
        _fail(f"{config}: {error}")
    final = Path(cfg.out) / "final"
    if result.rank == 0 and not result.losses:
        typer.echo(f"stage {cfg.stage}: already finished ({result.resumed_from} of {cfg.steps} steps); model in {final}")
    elif result.rank == 0:
        resumed = f" (resumed from step {result.resumed_from})" if result.resumed_from else ""
        parts = ", ".join(f"{part} {count:,}" for part, count in result.trainable_parameters.items())
        typer.echo(f"stage {cfg.stage}: {len(result.losses)} steps{resumed}, last loss {result.losses[-1]:.4f}; "
                   f"trained {parts} parameters; model in {final}")


def _load_toml(config: Path, model_class):
    """A TOML config validated by `model_class`; bad input fails naming the file, field and value."""
    import tomllib

    try:
        return model_class.model_validate(tomllib.loads(config.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as error:
        _fail(f"{config}: {error}")
    except ValidationError as error:
        first = error.errors()[0]
        _fail(f"{config}: {'.'.join(map(str, first['loc']))} = {first.get('input')!r}: {first['msg']}")


@app.command("adapt", cls=_Command)
def adapt_command(
    config: Annotated[Path, typer.Option(help="an adaptation TOML config (see model/configs/adapt.toml)")],
    method: Annotated[str | None, typer.Option(help="qslaw | qlora | full (overrides the config's `method`)")] = None,
) -> None:
    """Adapt a chart LMM cheaply: QSLAW (4-bit LLM, learn group scales + projector, multimodal warmup), or the
    QLoRA / full-precision baselines in the same recipe. Writes report.json (trainable params, memory, step time, eval)."""
    try:
        from model.adapt import AdaptConfig, adapt
    except ImportError:
        _fail("adaptation needs the train extra: pip install 'chartsynth[train]'")
    cfg = _load_toml(config, AdaptConfig)
    if method:
        try:
            cfg = AdaptConfig.model_validate(cfg.model_dump() | {"method": method})
        except ValidationError as error:
            _fail(f"--method {method!r}: {error.errors()[0]['msg']}")
    try:
        report = adapt(cfg)
    except (FileNotFoundError, ValueError) as error:
        _fail(f"{config}: {error}")
    if report.resumed_from >= cfg.steps:
        typer.echo(f"{cfg.method}: already finished ({report.steps} steps); report in {Path(cfg.out) / 'report.json'}")
        return
    if report.eval is None:  # ranks other than 0 under torchrun: rank 0 scores and reports
        return
    typer.echo(f"{cfg.method}: {report.trainable_parameters:,} trainable parameters "
               f"({report.trainable_vs_lora_r128:.2%} of LoRA r=128), {report.mean_step_seconds * 1000:.0f} ms/step, "
               f"peak {report.peak_memory_bytes / 2**20:.0f} MiB; relaxed accuracy {report.eval.relaxed_accuracy:.3f}, "
               f"containment {report.eval.containment:.3f}; report in {Path(cfg.out) / 'report.json'}")


@app.command("quantize-report", cls=_Command)
def quantize_report_command(
    out: Annotated[Path, typer.Option(help="where ptq.md / memory_estimate.md and their JSON go")],
    checkpoint: Annotated[str | None, typer.Option(help="a trained LMM to quantize and score")] = None,
    data: Annotated[list[str] | None, typer.Option(help="shard files or globs for the held-out score")] = None,
    estimate: Annotated[list[Path] | None, typer.Option(
        help="memory preset JSON (model/configs/memory_*.json) to size from configs alone (repeatable)")] = None,
    heldout_percent: Annotated[int, typer.Option(help="must match training")] = 5,
    limit: Annotated[int | None, typer.Option(help="score at most this many questions per variant")] = None,
) -> None:
    """The PTQ table: LLM.int8 and NF4 on all layers vs the LLM only, memory and chart-QA score per variant; and/or
    memory estimated from configs for real sizes (no weights needed)."""
    try:
        from model.ptq import estimate_markdown, estimate_table, quantize_report
    except ImportError:
        _fail("quantization needs the train extra: pip install 'chartsynth[train]'")
    if not checkpoint and not estimate:
        _fail("give --checkpoint DIR --data GLOB for the measured table and/or --estimate PRESET.json")
    out.mkdir(parents=True, exist_ok=True)
    if estimate:
        try:
            tables = [estimate_table(p) for p in estimate]
        except (OSError, ValueError, KeyError) as error:
            _fail(f"--estimate: {error}")
        (out / "memory_estimate.json").write_text(json.dumps(tables, indent=1))
        (out / "memory_estimate.md").write_text(estimate_markdown(tables), encoding="utf-8")
        typer.echo(estimate_markdown(tables))
    if checkpoint:
        if not data:
            _fail(f"--checkpoint {checkpoint}: --data is required to score the variants")
        try:
            quantize_report(checkpoint, data, out, heldout_percent, limit)
        except (FileNotFoundError, OSError, ValueError) as error:
            _fail(str(error))
        typer.echo((out / "ptq.md").read_text(encoding="utf-8"))


@app.command("merge", cls=_Command)
def merge_command(
    base: Annotated[Path, typer.Option(help="the LMM checkpoint (its vision tower and projector are kept)")],
    other: Annotated[Path, typer.Option(help="an LLM of the same architecture: a causal LM or another LMM")],
    out: Annotated[Path, typer.Option(help="new directory for the merged checkpoint")],
    method: Annotated[str, typer.Option(help="linear, slerp or ties")] = "linear",
    weight: Annotated[float, typer.Option(help="linear/slerp: 0 = the base, 1 = the other; ties: the scale λ of the "
                                               "merged task vector")] = 0.5,
    ancestor: Annotated[Path | None, typer.Option(help="ties: the model both were fine-tuned from")] = None,
    density: Annotated[float, typer.Option(help="ties: share of each task vector's largest entries kept")] = 0.2,
) -> None:
    """Merge the LLM of an LMM with another LLM of the same shape, tensor by tensor (safetensors in, safetensors
    out): seed 000's LLM merge."""
    try:
        from model.merge import MergeError, merge
    except ImportError:
        _fail("merging needs the train extra: pip install 'chartsynth[train]'")
    if method not in ("linear", "slerp", "ties"):
        _fail(f"--method {method!r}: choose linear, slerp or ties")
    for flag, path in (("--base", base), ("--other", other), ("--ancestor", ancestor)):
        if path is not None and not path.is_dir():
            _fail(f"{flag} {path}: not a directory")
    try:
        record = merge(base, other, out, method, weight, ancestor, density)
    except (MergeError, OSError) as error:
        _fail(str(error))
    if record.get("already_done"):
        typer.echo(f"{out}: this merge is already there (nothing written)")
    else:
        typer.echo(f"{out}: {method} merge, {record['merged_tensors']} LLM tensors merged, "
                   f"{record['kept_tensors']} kept from the base")


@app.command("estimate-memory", cls=_Command)
def estimate_memory_command(
    preset: Annotated[list[Path], typer.Option(help="memory preset JSON (model/configs/memory_*.json; repeatable)")],
    gpus: Annotated[int, typer.Option(min=1, help="GPUs a full fine-tuning is sharded over (FSDP)")] = 8,
    micro_batch: Annotated[int, typer.Option(min=1, help="samples per GPU per step")] = 1,
    seq_len: Annotated[int, typer.Option(min=1, help="tokens per sample, image tokens included")] = 2048,
    out: Annotated[Path | None, typer.Option(help="also write memory_plan.json and .md here")] = None,
) -> None:
    """Per-GPU memory of training and adaptation from the configs alone (no weights): weights, gradients, optimizer
    state, activations with and without checkpointing, and the peak — before renting GPUs."""
    try:
        from model.memory import plan, plan_markdown
    except ImportError:
        _fail("the memory estimate needs the train extra: pip install 'chartsynth[train]'")
    tables = []
    for path in preset:
        try:
            tables.append((path, plan(str(path), gpus, micro_batch, seq_len)))
        except (OSError, ValueError, KeyError) as error:
            _fail(f"--preset {path}: {error}")
    text = "\n".join(plan_markdown(f"{path.name}: micro-batch {micro_batch}, {seq_len} tokens", rows)
                     for path, rows in tables)
    typer.echo(text)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "memory_plan.json").write_text(json.dumps(
            {str(path): [r.model_dump() for r in rows] for path, rows in tables}, indent=1))
        (out / "memory_plan.md").write_text(text, encoding="utf-8")


@app.command("eval", cls=_Command)
def eval_command(
    data: Annotated[list[str], typer.Option(help="shard files or globs (repeatable); their held-out split is used")],
    out: Annotated[Path, typer.Option(help="where results.json and results.md go")],
    checkpoint: Annotated[str | None, typer.Option(help="directory of a trained model (its `final/`)")] = None,
    base_url: Annotated[str | None, typer.Option(help="an OpenAI-compatible vision endpoint instead of a checkpoint "
                                                      "(key from OPENAI_API_KEY)")] = None,
    model: Annotated[str | None, typer.Option(help="the endpoint's model name")] = None,
    max_in_flight: Annotated[int, typer.Option(help="concurrent endpoint requests")] = 8,
    heldout_percent: Annotated[int, typer.Option(help="must match training")] = 5,
    limit: Annotated[int | None, typer.Option(help="score at most this many questions")] = None,
    attention: Annotated[bool, typer.Option(help="draw where the checkpoint looks when it answers (heatmaps over the "
                                                 "charts in OUT/attention/, listed in results.md)")] = False,
    attention_samples: Annotated[int, typer.Option(help="with --attention: how many answers, spread over the set",
                                                   min=1)] = 8,
) -> None:
    """Score a checkpoint or a vision endpoint on held-out chart QA (relaxed accuracy, containment) by QA type,
    chart type, language."""
    try:
        from model.evaluate import Endpoint, evaluate
    except ImportError:
        _fail("evaluation needs the train extra: pip install 'chartsynth[train]'")
    if (checkpoint is None) == (base_url is None):
        _fail("give either --checkpoint DIR or --base-url URL --model NAME")
    if base_url and not model:
        _fail(f"--base-url {base_url}: --model is required with an endpoint")
    if checkpoint and (Path(checkpoint) / "final").is_dir() and not (Path(checkpoint) / "config.json").exists():
        _fail(f"--checkpoint {checkpoint}: a training run's directory; its model is {Path(checkpoint) / 'final'}")
    if attention and base_url:
        _fail(f"--attention needs the model's weights: give --checkpoint, not --base-url {base_url}")
    endpoint = Endpoint(base_url, model, max_in_flight) if base_url else None
    try:
        summary = evaluate(data, str(out), checkpoint, endpoint, heldout_percent, limit,
                           attention_samples=attention_samples if attention else 0)
    except (FileNotFoundError, OSError, ValueError) as error:
        _fail(str(error))
    except LLMUnavailable as error:
        _fail(f"--base-url {base_url}: {error}")
    typer.echo(f"{summary.questions} questions: relaxed accuracy {summary.overall.relaxed_accuracy:.3f}, "
               f"containment {summary.overall.containment:.3f}; table in {out / 'results.md'}"
               + (f"; attention maps in {out / 'attention'}" if attention else ""))


@app.command("export-lmms-eval", cls=_Command)
def export_lmms_eval_command(
    data: Annotated[list[str], typer.Option(help="shard files or globs (repeatable); their held-out split is exported")],
    out: Annotated[Path, typer.Option(help="task directory to write (pass it to lmms_eval --include_path)")],
    task: Annotated[str, typer.Option(help="the lmms-eval task name")] = "chartsynth_chartqa",
    heldout_percent: Annotated[int, typer.Option(help="must match training")] = 5,
    limit: Annotated[int | None, typer.Option(help="export at most this many questions")] = None,
) -> None:
    """Export the held-out chart QA as an lmms-eval task (Parquet + yaml + utils.py with our metrics)."""
    try:
        from model.lmms_eval_task import export_lmms_eval
    except ImportError:
        _fail("the export reads shards with the train extra: pip install 'chartsynth[train]'")
    try:
        written = export_lmms_eval(data, out, heldout_percent, limit, task)
    except (FileNotFoundError, OSError, ValueError) as error:
        _fail(str(error))
    typer.echo(f"{written['questions']} questions → {written['yaml']}; run: lmms_eval --include_path {out} "
               f"--tasks {task} --model ...")


@app.command(cls=_Command)
def inspect(
    out: Annotated[Path, typer.Argument(help="dataset directory")],
    html: Annotated[Path | None, typer.Option("--html", help="write a self-contained HTML report here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object to stdout", metavar=FLAG)] = False,
    verify: Annotated[bool, typer.Option(help="check every shard against the manifest's sha256 first", metavar=FLAG)] = True,
) -> None:
    """Counts by chart type, QA type, language and renderer; rejects by reason."""
    try:
        summary = summarize(out, verify)
    except DatasetDirError as error:
        _fail(str(error))
    if html is not None:
        html.write_text(html_report(out, summary), encoding="utf-8")
    if as_json:
        typer.echo(summary.model_dump_json())
        return
    typer.echo(f"{summary.dir}: {summary.rows} samples in {summary.shards} shards (planned {summary.planned})")
    counts = {f"by_{name}": value for name, value in summary.distributions().items()}
    for key, value in (counts | {"rejects_by_reason": summary.rejects_by_reason}).items():
        typer.echo(f"  {key}: " + (", ".join(f"{k}={v}" for k, v in value.items()) or "none"))
    for renderer, rates in summary.render_check_rates.items():
        typer.echo(f"  render checks failed ({renderer}): " + ", ".join(f"{k}={v:.1%}" for k, v in rates.items()))
    typer.echo("  answerable from the image (chart · renderer: asked exact/approximate; not asked; rejected samples):")
    for name, how in summary.answerability.items():
        typer.echo(f"    {name}: {how.asked} asked {how.exact}/{how.approximate}; not asked "
                   f"{sum(how.not_asked.values())}; rejected {sum(how.rejected.values())}")
    if html is not None:
        typer.echo(f"  report: {html}")


if __name__ == "__main__":
    app()
