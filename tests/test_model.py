"""model/ on CPU with tiny models built from configs (no hub): stages, loss, exact resume, DDP, data coverage."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from model.data import ShardStream  # noqa: E402
from tests.local_servers import free_port  # noqa: E402
from model.train import TrainConfig, train  # noqa: E402
from torch.distributed.checkpoint import FileSystemReader  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def config(dataset: Path, out: Path, **changes) -> TrainConfig:
    fields = {"data": [str(dataset / "data" / "*.parquet")], "out": str(out), "stage": "2", "steps": 12,
              "batch_size": 2, "lr": 3e-3, "heldout_percent": 0, "checkpoint_every": 6, "vocab_size": 400}
    return TrainConfig(**(fields | changes))


def all_ids(dataset: Path) -> list[str]:
    return [i for f in sorted((dataset / "data").glob("*.parquet")) for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()]


def weights(out: Path) -> dict:
    from model.build import load_lmm

    return load_lmm(out / "final").state_dict()


@pytest.mark.parametrize("stage", ["1", "1.5", "2"])
def test_stage_freezing(tiny_dataset, tmp_path, stage):
    from model.build import ModelConfig, build_lmm, train_tokenizer
    from model.train import TrainConfig, set_trainable

    model = build_lmm(ModelConfig(), train_tokenizer(["a b c"], 300))
    groups = set_trainable(model, TrainConfig(data=["x"], out="o", stage=stage).part_lrs())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    projector = sum(p.numel() for p in model.model.multi_modal_projector.parameters())
    vision = sum(p.numel() for p in model.model.vision_tower.parameters())
    if stage == "1":
        assert trainable == projector and [(g["name"], g["lr"]) for g in groups] == [("projector", 1e-3)]
    else:
        assert trainable == sum(p.numel() for p in model.parameters())
        assert {g["name"]: sum(p.numel() for p in g["params"]) for g in groups}["vision"] == vision
        assert {g["name"]: g["lr"] for g in groups} == {"vision": 2e-6, "projector": 1e-5, "llm": 1e-5}


@pytest.mark.parametrize("parts", [["vision"], ["projector"], ["llm"], ["vision", "projector"], ["vision", "llm"],
                                   ["projector", "llm"], ["vision", "projector", "llm"]])
def test_every_subset_of_parts_trains_exactly_those_parts_at_their_own_lr(parts):
    """Seed 000 §6-3: fine-tuning on a company's own charts with different parts unfrozen. Every parameter belongs
    to one part; a part named is trained at its lr, every other is frozen."""
    from model.build import ModelConfig, build_lmm, train_tokenizer
    from model.train import TrainConfig, model_parts, set_trainable

    model = build_lmm(ModelConfig(), train_tokenizer(["a b c"], 300))
    cfg = TrainConfig(data=["x"], out="o", stage="1", trainable=parts, lr=3e-4, vision_lr=1e-6, projector_lr=5e-4)
    groups = set_trainable(model, cfg.part_lrs())
    by_part = model_parts(model)
    assert sum(len(v) for v in by_part.values()) == len(list(model.parameters()))
    assert {g["name"]: g["lr"] for g in groups} == {p: {"vision": 1e-6, "projector": 5e-4, "llm": 3e-4}[p] for p in parts}
    for part, params in by_part.items():
        assert all(p.requires_grad == (part in parts) for p in params), part
    assert TrainConfig(data=["x"], out="o", stage="2", lr=3e-4).part_lrs()["projector"] == 3e-4  # lr sets both, as before


def test_train_reports_and_prints_what_each_part_trained(tiny_dataset, tmp_path):
    report = train(config(tiny_dataset, tmp_path, steps=2, stage="2", trainable=["projector", "llm"]))
    assert set(report.trainable_parameters) == {"projector", "llm"} and all(report.trainable_parameters.values())


def test_loss_falls(tiny_dataset, tmp_path, capfd):
    losses = train(config(tiny_dataset, tmp_path, steps=40)).losses
    assert sum(losses[-10:]) / 10 < 0.85 * sum(losses[:5]) / 5  # per-batch losses are noisy: compare averages
    bar = capfd.readouterr().err  # a progress bar with the step's loss, lr and throughput
    assert "40/40" in bar and f"loss={losses[-1]:.4f}" in bar and "lr=" in bar and "samples_s=" in bar


def test_resume_continues_bit_identically(tiny_dataset, tmp_path, monkeypatch):
    whole = train(config(tiny_dataset, tmp_path / "whole"))
    real_step, calls = torch.optim.AdamW.step, []

    def crash_after_checkpoint(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 8:  # past the checkpoint at step 6
            raise KeyboardInterrupt("simulated crash")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", crash_after_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(config(tiny_dataset, tmp_path / "resumed"))
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    resumed = train(config(tiny_dataset, tmp_path / "resumed"))
    assert resumed.losses == whole.losses[6:] and resumed.resumed_from == 6
    import model.train

    def no_loading(*args):
        raise AssertionError("a finished run loaded weights")

    monkeypatch.setattr(model.train, "build_lmm", no_loading)  # at 70B each rank would load for minutes first
    again = train(config(tiny_dataset, tmp_path / "resumed"))  # rerunning a finished run: says so, changes nothing
    assert again.losses == [] and again.resumed_from == 12
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "resumed")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_loader_covers_every_sample_once_across_ranks_and_workers(tiny_dataset):
    seen = []
    for rank in range(2):
        stream = ShardStream(sorted((tiny_dataset / "data").glob("*.parquet")), heldout_percent=0, rank=rank,
                             world_size=2, columns=("id",))
        loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2, multiprocessing_context="spawn")
        seen += [row["id"] for row in loader]
    assert sorted(seen) == sorted(all_ids(tiny_dataset))


def test_heldout_split_is_disjoint_and_stable(tiny_dataset):
    files = sorted((tiny_dataset / "data").glob("*.parquet"))
    train_ids = {r["id"] for r in ShardStream(files, "train", heldout_percent=30, columns=("id",))}
    held = {r["id"] for r in ShardStream(files, "heldout", heldout_percent=30, columns=("id",))}
    assert held and not train_ids & held and train_ids | held == set(all_ids(tiny_dataset))


def torchrun(cfg: TrainConfig, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           str(free_port()), str(REPO / "tests" / "ddp_train.py"), cfg.model_dump_json(), *args],
                          env=env, capture_output=True, text=True, timeout=300)


FINAL_FILE_BYTES = 2**17  # the tiny model's 0.7 MB in several files


def test_ddp_and_fsdp_on_two_processes_agree_and_fsdp_resumes_exactly(tiny_dataset, tmp_path):
    """2 ranks over gloo, from a checkpoint saved in bf16. DDP: disjoint samples, identical replicas. FSDP2 (fp32
    shards, rank-0 loading, sharded checkpoints): the same losses and weights as DDP on the same data, a final/ that
    from_pretrained loads, and a run stopped after its step-2 checkpoint and rerun ends bit-identical to the
    uninterrupted one."""
    from model.build import load_lmm

    train(config(tiny_dataset, tmp_path / "s1", stage="1", steps=2, checkpoint_every=100))
    start = tmp_path / "s1" / "final"
    load_lmm(start).to(torch.bfloat16).save_pretrained(start)

    def run(name: str, sharding: str, *args: str) -> list[dict]:
        cfg = config(tiny_dataset, tmp_path / name, steps=4, batch_size=2, checkpoint_every=2, sharding=sharding,
                     init_from=str(start), final_file_gb=FINAL_FILE_BYTES / 2**30)
        result = torchrun(cfg, *args)
        assert (result.returncode != 0) if args else (result.returncode == 0), result.stderr[-3000:]
        return [json.loads((tmp_path / name / f"rank{r}.json").read_text()) for r in range(2)] if not args else []

    ddp, fsdp = run("ddp", "ddp"), run("fsdp", "fsdp")
    assert all(r["world_size"] == 2 for r in ddp)
    assert not set(ddp[0]["seen"]) & set(ddp[1]["seen"]) and len(ddp[0]["seen"]) == len(ddp[1]["seen"]) == 4 * 2
    assert ddp[0]["weights"] == ddp[1]["weights"]
    for d, f in zip(ddp, fsdp):
        assert f["seen"] == d["seen"] and f["losses"] == pytest.approx(d["losses"], rel=1e-5)
    # final/ written a tensor at a time in files of bounded size (rank 0 never holds the whole model), with the index
    # from_pretrained follows
    files = sorted((tmp_path / "fsdp" / "final").glob("*.safetensors"))
    index = json.loads((tmp_path / "fsdp" / "final" / "model.safetensors.index.json").read_text())
    assert len(files) > 2 and set(index["weight_map"].values()) == {f.name for f in files}
    largest_tensor = max(t.numel() * 4 for t in weights(tmp_path / "ddp").values())
    assert all(f.stat().st_size <= FINAL_FILE_BYTES + largest_tensor + 2**16 for f in files)
    replicated, sharded = load_lmm(tmp_path / "ddp" / "final").state_dict(), weights(tmp_path / "fsdp")
    assert sharded.keys() == replicated.keys() and {t.dtype for t in sharded.values()} == {torch.float32}
    # to reduction order: Adam normalises the near-zero gradients of rarely seen embedding rows (3.7e-6 seen; a step
    # moves weights by up to lr = 3e-3)
    assert all(torch.allclose(sharded[k], replicated[k], atol=1e-5) for k in sharded)

    run("stopped", "fsdp", "2")
    assert [p.name for p in (tmp_path / "stopped" / "checkpoint").glob("sharded-*")] == ["sharded-2"]
    resumed = run("stopped", "fsdp")
    assert all(r["resumed_from"] == 2 and r["losses"] == f["losses"][2:] for r, f in zip(resumed, fsdp))
    again = weights(tmp_path / "stopped")
    assert all(torch.equal(again[k], sharded[k]) for k in sharded)


def test_eval_end_to_end_on_a_tiny_checkpoint_writes_its_table(tiny_dataset, tmp_path):
    train(config(tiny_dataset, tmp_path / "run", steps=3, heldout_percent=20, num_workers=1))  # spawned loader worker
    result = subprocess.run([sys.executable, "-m", "chartsynth", "eval", "--checkpoint", str(tmp_path / "run" / "final"),
                             "--data", str(tiny_dataset / "data" / "*.parquet"), "--out", str(tmp_path / "eval"),
                             "--heldout-percent", "20", "--limit", "12"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "eval" / "results.json").read_text())["summary"]
    assert summary["questions"] == 12 and 0 <= summary["overall"]["relaxed_accuracy"] <= 1
    table = (tmp_path / "eval" / "results.md").read_text()
    assert "| overall |" in table and "| qa_type |" in table and "| chart_type |" in table


def test_a_checkpoint_saved_in_bf16_trains_with_fp32_master_weights(tiny_dataset, tmp_path):
    """Stage 2 from a bf16 checkpoint at lr 1e-5: nearly every trainable weight moves (in bf16 most updates were
    rounded away: 15 % of an LLM's weights changed in 5 steps), and the run trains in fp32 with frozen parts kept."""
    from model.build import load_lmm

    train(config(tiny_dataset, tmp_path / "s1", stage="1", steps=2, checkpoint_every=100))
    start = tmp_path / "s1" / "final"
    load_lmm(start).to(torch.bfloat16).save_pretrained(start)
    before = load_lmm(start).state_dict()
    assert before["lm_head.weight"].dtype == torch.bfloat16
    train(config(tiny_dataset, tmp_path / "s2", stage="2", steps=3, lr=1e-5, init_from=str(start),
                 checkpoint_every=100))
    after = weights(tmp_path / "s2")
    llm = [k for k in after if "language_model.layers" in k and k.endswith("weight") and "norm" not in k]  # rows of
    # unseen tokens in embed_tokens get no gradient at all
    moved = sum(int((after[k].float() != before[k].float()).sum()) for k in llm)
    total = sum(before[k].numel() for k in llm)
    assert llm and moved / total > 0.9, moved / total


def test_a_loaded_checkpoint_trains_in_training_mode_and_recomputes_activations(tiny_dataset, tmp_path, monkeypatch):
    """Stage 1.5 from stage 1's final/ (which loads in eval mode): dropout as trained, and with activation
    checkpointing each decoder MLP runs twice per step — forward and recompute — as transformers does only in train
    mode (before the fix: once, silently storing every activation)."""
    import model.train as recipe
    from model.build import load_lmm

    train(config(tiny_dataset, tmp_path / "s1", stage="1", steps=2, checkpoint_every=100))
    seen, layers = [], []

    def loading(directory):  # counted in the MLP's forward: a recompute inside the checkpoint skips module hooks
        lmm = load_lmm(directory)
        layers.extend(lmm.model.language_model.layers)
        mlp = type(layers[0].mlp)
        forward = mlp.forward
        monkeypatch.setattr(mlp, "forward", lambda module, x: seen.append(module.training) or forward(module, x))
        return lmm

    monkeypatch.setattr(recipe, "load_lmm", loading)
    train(config(tiny_dataset, tmp_path / "s15", stage="1.5", steps=2, init_from=str(tmp_path / "s1" / "final"),
                 activation_checkpointing=True, checkpoint_every=100))
    assert len(seen) == 2 * 2 * len(layers) and all(seen)


def test_more_ranks_and_workers_than_row_groups_still_deal_every_row_once(tiny_dataset):
    """8 GPUs × 4 workers on a small dataset: a (rank, worker) left without rows spins while its peers wait in DDP —
    2 ranks on 1 row group hung. Rows are dealt instead of row groups; too few rows for every slot is a clear error."""
    files = sorted((tiny_dataset / "data").glob("*.parquet"))
    groups = sum(pq.ParquetFile(f).num_row_groups for f in files)
    world = groups + 1
    per_rank = [[row["id"] for row in ShardStream(files, heldout_percent=0, rank=rank, world_size=world, columns=("id",))]
                for rank in range(world)]
    assert all(per_rank) and sorted(i for ids in per_rank for i in ids) == sorted(all_ids(tiny_dataset))
    rows = len(all_ids(tiny_dataset))
    with pytest.raises(ValueError, match=f"{rows} rows cannot feed {rows + 1} ranks"):
        list(ShardStream(files, heldout_percent=0, rank=0, world_size=rows + 1, columns=("id",)))


def test_a_smoke_step_failing_on_one_rank_ends_the_run_instead_of_leaving_the_others_waiting(tiny_dataset, tmp_path):
    """A failure on one GPU (an out-of-memory, simulated here: the only fake) used to let that rank go on to the next
    step while the others waited in the failed step's collectives, for up to the 4 h timeout."""
    wrapper = tmp_path / "smoke_failing_on_rank_1.py"
    wrapper.write_text(f"""import sys
sys.path.insert(0, {str(REPO / "benchmarks")!r})
import gpu_smoke
from model.recipe import distributed
real = gpu_smoke.train
def train(cfg):
    if distributed()[0] == 1:
        raise RuntimeError("CUDA out of memory (simulated on rank 1)")
    return real(cfg)
gpu_smoke.train = train
gpu_smoke.main()
""")
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                             str(free_port()), str(wrapper), "--size", "tiny", "--dataset", str(tiny_dataset), "--out",
                             str(tmp_path / "smoke"), "--steps", "2"], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode != 0 and "FAIL  train" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert "adapt" not in result.stdout  # no rank went on to the next step


def test_the_gpu_smoke_script_passes_every_step_on_cpu(tiny_dataset, tmp_path):
    """What a user runs first on their GPUs (benchmarks/gpu_smoke.py), tiny and on CPU: every step reports PASS."""
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_smoke.py"), "--size", "tiny", "--dataset",
                             str(tiny_dataset), "--out", str(tmp_path), "--steps", "2"], capture_output=True, text=True,
                            timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert result.returncode == 0 and len(lines) == 4 and all(line.startswith("PASS") for line in lines), (
        result.stdout[-2000:] + result.stderr[-2000:])


def adapt_torchrun(cfg, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           str(free_port()), str(REPO / "tests" / "ddp_adapt.py"), cfg.model_dump_json(), *args],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("method", ["full", "qslaw", "qlora"])
def test_adaptation_on_two_processes_ddp_and_fsdp_agree_and_fsdp_resumes_exactly(tiny_dataset, tmp_path, method):
    """Every method data-parallel (DDP) over 2 gloo ranks from a bf16 checkpoint (QLoRA's ranks once both wrote its
    base model at the same time and one read it half-written). Full and faithful QSLAW also sharded: FSDP (rank 0
    loads and quantizes) trains as DDP does, exports what one process would (full: safetensors from_pretrained loads;
    qslaw: the packed checkpoint), and a run stopped after its step-2 checkpoint and rerun ends where the
    uninterrupted one did."""
    from safetensors.torch import load_file

    from model.adapt import AdaptConfig
    from model.build import load_lmm
    from model.quant import QuantConfig

    train(config(tiny_dataset, tmp_path / "s1", stage="1", steps=2, checkpoint_every=100))
    start = tmp_path / "s1" / "final"
    load_lmm(start).to(torch.bfloat16).save_pretrained(start)

    def run(name: str, sharding: str, *args: str) -> list[dict]:
        cfg = AdaptConfig(data=[str(tiny_dataset / "data" / "*.parquet")], out=str(tmp_path / name), method=method,
                          init_from=str(start), steps=4, batch_size=2, warmup_steps=2, checkpoint_every=2, lr=1e-2,
                          quant=QuantConfig(bits=4, group_size=32), sharding=sharding, eval_limit=1,
                          max_new_tokens=2, final_file_gb=2**17 / 2**30)
        result = adapt_torchrun(cfg, *args)
        assert (result.returncode != 0) if args else (result.returncode == 0), result.stderr[-3000:]
        return [json.loads((tmp_path / name / f"rank{r}.json").read_text()) for r in range(2)] if not args else []

    ddp = run("ddp", "ddp")
    assert all(r["world_size"] == 2 for r in ddp) and ddp[0]["losses"] != ddp[1]["losses"]  # own rows
    if method == "qlora":  # not sharded: NF4 weights are bitsandbytes' (the config refuses fsdp)
        assert json.loads((tmp_path / "ddp" / "report.json").read_text())["eval"]["n"] == 1
        return
    fsdp = run("fsdp", "fsdp")
    for d, f in zip(ddp, fsdp):
        assert f["trainable"] == d["trainable"] and f["losses"] == pytest.approx(d["losses"], rel=1e-4)
    if method == "full":
        replicated, sharded = weights(tmp_path / "ddp"), weights(tmp_path / "fsdp")
        assert len(list((tmp_path / "fsdp" / "final").glob("*.safetensors"))) > 1  # written a bounded file at a time
        assert sharded.keys() == replicated.keys()
        # to reduction order, nearly everywhere: an entry whose gradient is near zero (a rarely seen embedding row)
        # takes Adam's normalised step of up to lr either way (seen: all within 3e-5 on one run, one entry past 1e-4
        # in a fresh clone)
        diffs = torch.cat([(sharded[k].float() - replicated[k].float()).abs().flatten() for k in sharded])
        assert (diffs > 1e-4).float().mean() < 1e-3 and diffs.max() <= 2 * 1e-2 * 4
    else:
        replicated, sharded = (load_file(tmp_path / run / "final" / "model.safetensors") for run in ("ddp", "fsdp"))
        assert sharded.keys() == replicated.keys() and any(k.endswith(".packed") for k in sharded)
        codes = [k for k in sharded if k.endswith(".packed")]
        same = sum((sharded[k] == replicated[k]).sum().item() for k in codes) / sum(sharded[k].numel() for k in codes)
        assert same > 0.99, same  # a γ a rounding away from a code boundary may land either side
    assert (tmp_path / "fsdp" / "report.json").exists()

    run("stopped", "fsdp", "2")
    assert [p.name for p in (tmp_path / "stopped" / "checkpoint").glob("sharded-*")] == ["sharded-2"]
    # what trains, not the frozen weights the run loads again (QSLAW's 16-bit weights: ~140 GB per checkpoint at 70B)
    saved = FileSystemReader(tmp_path / "stopped" / "checkpoint" / "sharded-2").read_metadata().state_dict_metadata
    frozen = [k for k in saved if k.startswith("model.") and k.endswith("embed_tokens.weight")]
    assert (frozen == []) if method == "qslaw" else len(frozen) == 1
    resumed = run("stopped", "fsdp")
    assert all(r["resumed_from"] == 2 and r["losses"] == f["losses"] for r, f in zip(resumed, fsdp))


def test_a_sharded_gptq_adaptation_keeps_the_weights_gptq_moved_in_its_checkpoints(tiny_dataset, tmp_path):
    """GPTQ changes weights that stay frozen; sharded checkpoints leave frozen weights out (a resume loads them from
    the base) — except these, which the base does not have: a resumed run ends where the uninterrupted one did."""
    from model.adapt import AdaptConfig
    from model.build import load_lmm
    from model.quant import QuantConfig

    train(config(tiny_dataset, tmp_path / "s1", stage="1", steps=2, checkpoint_every=100))
    start = tmp_path / "s1" / "final"
    load_lmm(start).to(torch.bfloat16).save_pretrained(start)

    def run(name: str, *args: str) -> list[dict]:
        cfg = AdaptConfig(data=[str(tiny_dataset / "data" / "*.parquet")], out=str(tmp_path / name), method="qslaw",
                          init_from=str(start), steps=4, batch_size=2, warmup_steps=2, checkpoint_every=2, lr=1e-2,
                          quant=QuantConfig(bits=4, group_size=32, init="gptq"), calibration_batches=1,
                          sharding="fsdp", eval_limit=1, max_new_tokens=2)
        result = adapt_torchrun(cfg, *args)
        assert (result.returncode != 0) if args else (result.returncode == 0), result.stderr[-3000:]
        return [json.loads((tmp_path / name / f"rank{r}.json").read_text()) for r in range(2)] if not args else []

    whole = run("whole")
    run("stopped", "2")
    saved = FileSystemReader(tmp_path / "stopped" / "checkpoint" / "sharded-2").read_metadata().state_dict_metadata
    assert any(k.startswith("model.") and k.endswith("mlp.down_proj.weight") for k in saved)
    resumed = run("stopped")
    assert all(r["resumed_from"] == 2 and r["losses"] == w["losses"] for r, w in zip(resumed, whole))


def test_sharded_adaptation_refuses_what_fsdp_cannot_shard():
    from model.adapt import AdaptConfig
    from model.quant import QuantConfig

    with pytest.raises(ValueError, match="cannot shard method = 'qlora'.*use sharding = 'ddp'"):
        AdaptConfig(data=["x"], out="o", method="qlora", sharding="fsdp")
    with pytest.raises(ValueError, match="cannot shard quant.mode = 'packed'"):
        AdaptConfig(data=["x"], out="o", method="qslaw", quant=QuantConfig(mode="packed"), sharding="fsdp")
    assert AdaptConfig(data=["x"], out="o", method="qlora", quant=QuantConfig(mode="packed")).sharding == "ddp"


def test_a_run_from_a_16_bit_checkpoint_exports_its_trained_weights_unrounded(tiny_dataset, tmp_path):
    """Stage 1 from a bf16 checkpoint trains the projector in fp32 beside the frozen bf16 towers; saved as they
    were, the config said bf16 and from_pretrained rounded the projector to 8 bits of mantissa on load. The export
    is fp32 (as the sharded one), so what loads is what trained."""
    from safetensors.torch import load_file

    from model.build import load_lmm

    train(config(tiny_dataset, tmp_path / "s1", stage="1", steps=2, checkpoint_every=100))
    start = tmp_path / "s1" / "final"
    load_lmm(start).to(torch.bfloat16).save_pretrained(start)
    train(config(tiny_dataset, tmp_path / "again", stage="1", steps=2, checkpoint_every=100, init_from=str(start)))
    saved = {k: v for f in (tmp_path / "again" / "final").glob("*.safetensors") for k, v in load_file(f).items()}
    loaded = {k: v for k, v in load_lmm(tmp_path / "again" / "final").state_dict().items() if "projector" in k}
    projector = {k.split("multi_modal_projector.")[1]: v for k, v in saved.items() if "projector" in k}
    assert projector and all(v.dtype == torch.float32 for v in projector.values())
    assert len(loaded) == len(projector)
    assert all(torch.equal(v, projector[k.split("multi_modal_projector.")[1]]) for k, v in loaded.items())
