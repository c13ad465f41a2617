"""Cheap adaptation of a chart LMM on one GPU, as one readable loop: QSLAW (a 4-bit LLM, learn only group-wise scales
γ + the projector, with a multimodal warmup) and its baselines in the same recipe — QLoRA (bitsandbytes NF4 + peft
LoRA + the projector) and full precision (LLM + projector).

Warmup (QSLAW's "multimodal warmup"): the first `warmup_steps` batches are multimodal only, after that text batches
from a plain corpus are mixed in at `text_ratio` text per multimodal batch, so the LLM keeps its language skills.

Under torchrun every method runs data-parallel (DDP; each rank its own rows and text windows), and full and
faithful QSLAW also sharded (`sharding = "fsdp"`: rank 0 loads and quantizes, every rank holds a shard — the 16-bit
weights faithful QSLAW keeps do not fit one GPU at 70B).
"""

from __future__ import annotations

import itertools
import random
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field, model_validator

from model.build import ImageInputs, build_lmm, load_lmm
from model.data import ChatCollator, ShardStream
from model.parallel import gathered_state, load_sharded, parameters_on_meta, save_consolidated, sharded_model
from model.ptq import LLM_ONLY_SKIP
from model.quant import QSLAW_LAYERS, QuantConfig, decoder_layers, decoder_linears, quantize_llm, save_packed
from model.recipe import (RecipeConfig, barrier, collate_stage, compute_in_bf16, cosine_with_warmup, distributed,
                          enable_activation_checkpointing, load_tokenizer, master_weights_fp32, progress_bar,
                          rank_device, rng_state, save_checkpoint, seed_everything, set_rng_state, shard_files)
from schemas.reports import AdaptReport

Method = Literal["qslaw", "qlora", "full"]
SAMPLE_CORPUS = Path(__file__).parent / "corpus" / "public_domain_sample.txt"


class AdaptConfig(RecipeConfig):
    method: Method = "qslaw"
    text: list[str] = Field(default_factory=lambda: [str(SAMPLE_CORPUS)],
                            description="text corpus: .txt files or Parquet files with a `text` column")
    warmup_steps: int = Field(default=100, ge=0, description="η: multimodal-only batches before text is mixed in")
    warmup_on: Literal["descriptions", "qa"] = Field(
        default="descriptions", description="what the warmup's chart batches teach: describing the chart (the public "
                                            "scripts' caption warmup) or the QA; after the warmup always the QA")
    text_ratio: float = Field(default=1.0, ge=0, description="text batches per multimodal batch after the warmup")
    steps: int = Field(default=1000, ge=1)
    lr: float | None = Field(default=None, description="default per method: qslaw 2e-3, qlora 2e-4, full 2e-5")
    quant: QuantConfig = Field(default_factory=QuantConfig)
    calibration: Literal["text", "multimodal"] = Field(default="text", description="OmniQuant's calibration data: "
                                                       "batches of the text corpus, or chart QA batches")
    calibration_batches: int = Field(default=8, ge=1, description="LWC, GPTQ, AWQ: batches to calibrate on")
    lora_rank: int = Field(default=64, ge=1)
    lora_alpha: int = 16
    eval_limit: int | None = Field(default=200, description="held-out questions scored at the end (None: all)")
    max_new_tokens: int = 16

    @model_validator(mode="after")
    def _shardable(self):
        if self.sharding == "fsdp" and (self.method == "qlora" or self.quant.mode == "packed" and self.method == "qslaw"):
            what = "method = 'qlora' (bitsandbytes' NF4 weights)" if self.method == "qlora" else \
                "quant.mode = 'packed' (its codes are buffers)"
            raise ValueError(f"sharding = 'fsdp' cannot shard {what}; it fits one GPU even at 70B (see "
                             f"`chartsynth estimate-memory`): use sharding = 'ddp'")
        return self


def batch_kind(step: int, warmup_steps: int, text_ratio: float) -> Literal["multimodal", "text"]:
    """Multimodal for the first η steps, then text whenever the running text share falls behind r/(1+r)."""
    if step < warmup_steps or text_ratio == 0:
        return "multimodal"
    p, share = step - warmup_steps, text_ratio / (1 + text_ratio)
    return "text" if int((p + 1) * share + 1e-9) > int(p * share + 1e-9) else "multimodal"


def warmup_mix(multimodal: Iterator, text: Iterator, warmup_steps: int, text_ratio: float) -> Iterator[tuple[str, dict]]:
    for step in itertools.count():
        kind = batch_kind(step, warmup_steps, text_ratio)
        yield kind, next(multimodal if kind == "multimodal" else text)


def text_rows(paths: list[str], tokenizer, max_tokens: int) -> list[dict]:
    """The corpus cut into windows of `max_tokens` tokens, as text-only rows the chat collator trains on end to end."""
    import pyarrow.parquet as pq

    texts = []
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"text corpus {path} does not exist")
        texts += (pq.read_table(path, columns=["text"]).column("text").to_pylist() if path.endswith(".parquet")
                  else [Path(path).read_text(encoding="utf-8")])
    ids = tokenizer.encode("\n\n".join(t for t in texts if t), add_special_tokens=False)
    if not ids:
        raise ValueError(f"text corpus {paths} is empty")
    return [{"id": f"text-{i}", "image": None, "conversations": [{"from": "gpt", "value": tokenizer.decode(window)}]}
            for i, window in enumerate(ids[s: s + max_tokens] for s in range(0, len(ids), max_tokens))]


def adapt_batch(collator: ChatCollator, cfg: AdaptConfig, kind: str, rows: list[dict], step: int) -> dict:
    """Text rows train on their text; chart rows on descriptions during the warmup (warmup_on), on the QA after."""
    if kind == "text":
        return collator(rows)
    describe = step < cfg.warmup_steps and cfg.warmup_on == "descriptions"
    return collate_stage(collator, "1" if describe else "2", rows)


def endless(loader_for_epoch) -> Iterator[dict]:
    for epoch in itertools.count():
        yield from loader_for_epoch(epoch)


def lora_parameters(lmm, rank: int) -> int:
    """What LoRA of `rank` on every decoder linear would train: r·(in + out) per layer."""
    return sum(rank * (m.in_features + m.out_features) for _, _, m in decoder_linears(lmm))


def llm_weight_bytes(lmm) -> int:
    """Bytes the LLM's decoder layers hold (parameters + buffers): what quantization shrinks."""
    layers = lmm.get_submodule("model.language_model.layers")
    return sum(t.numel() * t.element_size() for t in itertools.chain(layers.parameters(), layers.buffers()))


def model_sizes(lmm, lora_rank: int = 128) -> dict:
    """What the report compares the trained parameters with, measured on the model as loaded."""
    return {"lora_r128_parameters": lora_parameters(lmm, lora_rank), "llm_weight_bytes_fp": llm_weight_bytes(lmm),
            "projector": sum(p.numel() for p in lmm.model.multi_modal_projector.parameters())}


def peak_host_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def peak_memory_bytes(device: torch.device) -> int:
    """The device's peak: what was allocated on the GPU, or the process's peak RSS on CPU."""
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else peak_host_bytes()


def qlora_model(lmm, out: Path, rank: int, alpha: int, dtype: torch.dtype, device: torch.device):
    """The LLM reloaded in NF4 (vision tower, projector and lm_head kept), LoRA on its decoder linears, projector trained."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForImageTextToText, BitsAndBytesConfig

    targets = [f"model.language_model.layers.{i}.{name}" for i, name, _ in decoder_linears(lmm)]
    base = out / "base"
    if distributed()[0] == 0:  # one writer; every rank loads it once written
        lmm.save_pretrained(base)
    barrier()
    nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype,
                             llm_int8_skip_modules=LLM_ONLY_SKIP)
    placement = {"device_map": {"": device}} if device.type == "cuda" else {}
    quantized = AutoModelForImageTextToText.from_pretrained(base, quantization_config=nf4, dtype=dtype, **placement)
    quantized = prepare_model_for_kbit_training(quantized, use_gradient_checkpointing=False)  # see adapt()
    return get_peft_model(quantized, LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0,
                                                modules_to_save=["multi_modal_projector"]))


def set_method_trainable(lmm, method: Method) -> None:
    """What each method trains besides the projector: qslaw the group scales γ (where the quantizer made them
    learnable), full the LLM; qlora's LoRA weights are set up by peft."""
    for name, p in lmm.named_parameters():
        if method == "full":
            p.requires_grad = not name.startswith("model.vision_tower.")
        elif method == "qslaw":
            p.requires_grad = name.startswith("model.multi_modal_projector.") or (
                name.endswith(".gamma") and p.requires_grad)


def moved_frozen_weights(quantization: dict | None) -> bool:
    """GPTQ and AWQ change weights that stay frozen (AWQ the norms before them too): a resume cannot rebuild them
    from init, so checkpoints keep them."""
    return bool(quantization) and quantization["init"] in ("gptq", "awq")


def resumable_state(lmm, quantization: dict | None = None) -> dict:
    """What a checkpoint must hold to continue: the trainable parameters, and the quantized layers' buffers (their
    Δ, z and codes came from a calibration that is not rerun); frozen full-precision weights are rebuilt from init —
    unless `moved_frozen_weights`: then the decoder layers are kept whole."""
    keep = {name for name, p in lmm.named_parameters() if p.requires_grad}
    keep |= {f"{module_name}.{buffer}" for module_name, module in lmm.named_modules() if isinstance(module, QSLAW_LAYERS)
             for buffer, _ in module.named_buffers(recurse=False)}
    state = lmm.state_dict()
    if moved_frozen_weights(quantization):
        layers_module = decoder_layers(lmm)
        layers = next(name for name, module in lmm.named_modules() if module is layers_module)
        keep |= {name for name in state if name.startswith(f"{layers}.")}
    return {name: t for name, t in state.items() if name in keep}


@dataclass
class Setup:
    """What a method's `prepare` works from."""

    lmm: torch.nn.Module
    cfg: AdaptConfig
    out: Path
    device: torch.device
    dtype: torch.dtype
    resumed: dict | None  # the checkpoint being resumed, if any
    calibration: Callable[[], list[dict]]  # LWC's, GPTQ's or AWQ's calibration batches (drawn only when needed)
    home: torch.device | None = None  # where the prepared model stays: the device, or the host when sharded next


def _prepare_qslaw(setup: Setup) -> tuple[torch.nn.Module, dict | None]:
    """The LLM quantized (RTN, or OmniQuant LWC, GPTQ or AWQ on calibration batches; on resume only the layer
    structure: Δ, z, the codes and any weights calibration moved come from the checkpoint), γ + projector trainable."""
    lmm, cfg = setup.lmm, setup.cfg  # quantized, then placed: never the whole 16-bit LLM on the device
    if setup.resumed:
        quantization = setup.resumed["quantization"]
        quantize_llm(lmm, cfg.quant.model_copy(update={"init": "rtn"}), device=setup.device, keep_on=setup.home)
    else:
        quantization = quantize_llm(lmm, cfg.quant, setup.calibration(), device=setup.device, keep_on=setup.home)
    set_method_trainable(lmm, "qslaw")
    return lmm, quantization


def _qslaw_skeleton(lmm, cfg: AdaptConfig) -> None:
    """The quantized structure alone (on the meta device: the weights come from rank 0), γ + projector trainable."""
    quantize_llm(lmm, cfg.quant.model_copy(update={"init": "rtn"}))
    set_method_trainable(lmm, "qslaw")


def _prepare_qlora(setup: Setup) -> tuple[torch.nn.Module, None]:
    cfg = setup.cfg
    return qlora_model(setup.lmm, setup.out, cfg.lora_rank, cfg.lora_alpha, setup.dtype, setup.device), None


def _prepare_full(setup: Setup) -> tuple[torch.nn.Module, None]:
    lmm = setup.lmm.to(setup.home or setup.device)
    set_method_trainable(lmm, "full")
    return lmm, None


def _export_packed(lmm, final: Path, cfg: AdaptConfig, device: torch.device):
    """γ baked into a packed low-bit checkpoint; scored as reloaded, the checkpoint users will load."""
    save_packed(lmm, final, cfg.quant)
    return load_lmm(str(final)).to(device)


def _export_saved(lmm, final: Path, cfg: AdaptConfig, device: torch.device):
    """Full weights, or the LoRA adapter + projector (base weights in out/base)."""
    lmm.save_pretrained(final)
    return lmm


def _export_full(lmm, final: Path, cfg: AdaptConfig, device: torch.device):
    """All in fp32, as the sharded export writes it: the trained weights' master precision (a frozen 16-bit tower
    converts losslessly); saved beside 16-bit frozen weights, the config would say 16 bits and round them on load."""
    return _export_saved(lmm.float(), final, cfg, device)


def _export_sharded_packed(lmm, final: Path, cfg: AdaptConfig, device: torch.device, rank: int):
    """The sharded model gathered onto rank 0's host (faithful QSLAW keeps 16-bit weights: ~140 GB at 70B), rebuilt
    there and exported packed as one process would."""
    state = gathered_state(lmm, rank)
    if rank != 0:
        return None
    from transformers import AutoModelForImageTextToText

    with parameters_on_meta():
        local = AutoModelForImageTextToText.from_config(lmm.config)
    _qslaw_skeleton(local, cfg)
    for name in list(state):  # each its own storage (a gathered tensor may view a larger one; safetensors refuses)
        state[name] = state[name].clone()
    local.load_state_dict(state, assign=True)
    return _export_packed(local, final, cfg, device)


def _export_sharded_full(lmm, final: Path, cfg: AdaptConfig, device: torch.device, rank: int):
    """Gathered a tensor at a time into safetensors files of bounded size (model/parallel.py), reloaded on rank 0."""
    save_consolidated(lmm, final, rank, int(cfg.final_file_gb * 2**30))
    return load_lmm(str(final)).to(device) if rank == 0 else None


@dataclass(frozen=True)
class Strategy:
    """One adaptation method: its default learning rate, how it makes the model it trains (and which parameters
    train), the module holding the LLM's weights as trained, and what it exports; sharded (FSDP), the structure
    every rank builds on the meta device and the export from the shards (None: the method is not sharded)."""

    default_lr: float
    prepare: Callable[[Setup], tuple[torch.nn.Module, dict | None]]
    export: Callable[[torch.nn.Module, Path, AdaptConfig, torch.device], torch.nn.Module]
    trained_llm: Callable[[torch.nn.Module], torch.nn.Module] = lambda model: model
    skeleton: Callable[[torch.nn.Module, AdaptConfig], None] | None = None
    export_sharded: Callable[[torch.nn.Module, Path, AdaptConfig, torch.device, int], torch.nn.Module | None] | None = None


STRATEGIES: dict[str, Strategy] = {
    "qslaw": Strategy(2e-3, _prepare_qslaw, _export_packed, skeleton=_qslaw_skeleton,
                      export_sharded=_export_sharded_packed),
    "qlora": Strategy(2e-4, _prepare_qlora, _export_saved, trained_llm=lambda model: model.get_base_model()),
    "full": Strategy(2e-5, _prepare_full, _export_full,
                     skeleton=lambda lmm, cfg: set_method_trainable(lmm, "full"), export_sharded=_export_sharded_full),
}


def adapt(cfg: AdaptConfig) -> AdaptReport:
    """Run (or resume, from out/checkpoint) one adaptation; writes final/, eval/ and report.json (rank 0)."""
    from model.evaluate import evaluate_model

    strategy = STRATEGIES[cfg.method]
    rank, world = distributed()
    fsdp = world > 1 and cfg.sharding == "fsdp"
    device = rank_device()
    dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    files = shard_files(cfg.data)
    if (out / "report.json").exists():  # written last: the run finished (checked before any weights load)
        done = AdaptReport.model_validate_json((out / "report.json").read_text())
        if done.steps >= cfg.steps:
            return done.model_copy(update={"rank": rank, "world_size": world, "resumed_from": done.steps})
    seed_everything(cfg.seed)
    tokenizer = load_tokenizer(cfg, files, out, rank)
    stream = ShardStream(files, split="train", heldout_percent=cfg.heldout_percent, seed=cfg.seed, rank=rank,
                         world_size=world, columns=("id", "image", "conversations", "description", "lang"))

    def multimodal_epoch(epoch: int):  # lists of rows: what they are trained on depends on the step (warmup_on)
        stream.set_epoch(epoch)
        return torch.utils.data.DataLoader(stream, batch_size=cfg.batch_size, collate_fn=list)

    corpus = text_rows(cfg.text, tokenizer, cfg.max_length // 2)
    if len(corpus) < world:
        raise ValueError(f"text corpus {cfg.text}: {len(corpus)} windows of max_length/2 tokens for {world} ranks; "
                         f"give a longer corpus")

    def text_epoch(epoch: int):  # every rank its own windows of one shuffled order
        order = random.Random(cfg.seed + epoch).sample(corpus, len(corpus))[rank::world]
        return (order[i: i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size))

    collator: ChatCollator | None = None

    def calibration() -> list[dict]:
        source = endless(text_epoch if cfg.calibration == "text" else multimodal_epoch)
        return [adapt_batch(collator, cfg, cfg.calibration, rows, cfg.steps)
                for rows in itertools.islice(source, cfg.calibration_batches)]

    checkpoint = out / "checkpoint" / "adapt.pt"
    state = torch.load(checkpoint, weights_only=False, map_location=device) if checkpoint.exists() else None
    if state is not None and "ranks" not in state:
        raise ValueError(f"{checkpoint}: written by an older chartsynth; use a new `out`")
    prepared: dict = {}

    def load_prepared(home: torch.device | None = None) -> torch.nn.Module:
        """The model as the method trains it (rank 0 only when sharded: kept on the host, then scattered)."""
        nonlocal collator
        lmm = load_lmm(cfg.init_from) if cfg.init_from else build_lmm(cfg.model, tokenizer)
        collator = ChatCollator(tokenizer, ImageInputs(lmm), cfg.max_length)
        prepared["sizes"] = model_sizes(lmm)
        lmm, prepared["quantization"] = strategy.prepare(Setup(lmm, cfg, out, device, dtype, state, calibration, home))
        return lmm

    if fsdp:
        lmm = sharded_model(lambda: load_prepared(torch.device("cpu")), device, dtype == torch.bfloat16, rank,
                            skeleton=lambda model: strategy.skeleton(model, cfg))
        import torch.distributed as dist

        shared = [prepared]
        dist.broadcast_object_list(shared, src=0)
        prepared = shared[0]
        collator = ChatCollator(tokenizer, ImageInputs(lmm), cfg.max_length)
    else:
        lmm = load_prepared()
        master_weights_fp32(lmm)  # a 16-bit checkpoint's trained weights (projector, full's LLM) in fp32
    quantization, sizes = prepared["quantization"], prepared["sizes"]
    enable_activation_checkpointing(lmm, cfg, device)  # every method alike, so peak memory compares like for like
    trainable = [p for p in lmm.parameters() if p.requires_grad]
    trainable_count = sum(p.numel() for p in trainable)
    autocast = compute_in_bf16(lmm, dtype == torch.bfloat16)

    optimizer = torch.optim.AdamW(trainable, lr=strategy.default_lr if cfg.lr is None else cfg.lr, weight_decay=0.0)
    scheduler = cosine_with_warmup(optimizer, cfg.steps, cfg.warmup_ratio)
    batches = warmup_mix(endless(multimodal_epoch), endless(text_epoch), cfg.warmup_steps, cfg.text_ratio)
    progress = {"step": 0, "losses": [], "batch_kinds": [], "step_seconds": []}
    if state:  # resume exactly: weights, optimizer, schedule, the data order replayed to the same batch, RNG
        if fsdp:
            load_sharded(checkpoint.parent, state["sharded"], lmm, optimizer)
        else:
            unexpected = lmm.load_state_dict(state["weights"], strict=False).unexpected_keys
            if unexpected:
                raise ValueError(f"{checkpoint}: written by another configuration (e.g. {unexpected[0]}); use a new `out`")
            optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        mine = state["ranks"][rank]
        progress = mine["progress"]
        for _ in range(progress["step"]):
            next(batches)
        set_rng_state(mine["rng"])
    resumed_from = progress["step"]
    trained = lmm
    if world > 1 and not fsdp:
        from torch.nn.parallel import DistributedDataParallel

        # its construction gives every rank rank 0's weights (and quantization); the vision tower's unused
        # post-norm gets no gradient
        trained = DistributedDataParallel(lmm, find_unused_parameters=True)
    lmm.train()
    bar = progress_bar(cfg.steps, progress["step"], f"adapt ({cfg.method})", rank)
    while progress["step"] < cfg.steps:
        kind, rows = next(batches)
        batch = adapt_batch(collator, cfg, kind, rows, progress["step"])
        started = time.perf_counter()
        inputs = {k: v.to(device) for k, v in batch.items() if k != "ids"}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = trained(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        progress["step_seconds"].append(time.perf_counter() - started)
        progress["losses"].append(loss.item())
        progress["batch_kinds"].append(kind)
        progress["step"] += 1
        bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}", batch=kind,
                        samples_s=f"{len(rows) * world / progress['step_seconds'][-1]:.1f}", refresh=False)
        bar.update(1)
        if progress["step"] % cfg.checkpoint_every == 0 or progress["step"] == cfg.steps:
            save_checkpoint(checkpoint, progress["step"], lmm, optimizer, {"progress": progress, "rng": rng_state()},
                            lambda: {"scheduler": scheduler.state_dict(), "quantization": quantization} | (
                                {} if fsdp else {"weights": resumable_state(lmm, quantization),
                                                 "optimizer": optimizer.state_dict()}), fsdp,
                            frozen=moved_frozen_weights(quantization))
    bar.close()
    report = AdaptReport(
        method=cfg.method, lora_r128_parameters=sizes["lora_r128_parameters"],
        llm_weight_bytes_fp=sizes["llm_weight_bytes_fp"], quantization=quantization,
        trainable_parameters=trainable_count,
        trainable_vs_lora_r128=trainable_count / (sizes["lora_r128_parameters"] + sizes["projector"]),
        llm_weight_bytes=llm_weight_bytes(strategy.trained_llm(lmm)), steps=cfg.steps, losses=progress["losses"],
        batch_kinds=progress["batch_kinds"], rank=rank, world_size=world, resumed_from=resumed_from,
        mean_step_seconds=sum(progress["step_seconds"]) / max(1, len(progress["step_seconds"])),
        peak_memory_bytes=peak_memory_bytes(device), peak_host_bytes=peak_host_bytes())

    final = out / "final"
    if fsdp:  # every rank takes part in gathering the shards
        scored = strategy.export_sharded(lmm, final, cfg, device, rank)
    else:
        scored = strategy.export(lmm, final, cfg, device) if rank == 0 else None
    if rank != 0:  # rank 0 alone scores and reports; the others are done
        return report
    tokenizer.save_pretrained(final)
    report.eval = evaluate_model(scored, tokenizer, f"{cfg.method} {final}", cfg.data, str(out / "eval"),
                                 cfg.heldout_percent, cfg.eval_limit, cfg.max_new_tokens).overall
    (out / "report.json").write_text(report.model_dump_json(indent=1))
    return report
