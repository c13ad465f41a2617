"""model/quant (QSLAW faithful + packed, OmniQuant clipping), model/adapt (warmup mix, qslaw/qlora/full) and
model/ptq (bitsandbytes int8/NF4, all vs LLM-only, the config-only memory estimator). CPU, tiny models, real
bitsandbytes and peft."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytest.importorskip("bitsandbytes")
pytest.importorskip("peft")

from model.adapt import AdaptConfig, adapt, batch_kind, set_method_trainable, warmup_mix  # noqa: E402
from model.build import ImageInputs, ModelConfig, build_lmm, load_lmm, train_tokenizer  # noqa: E402
from model.data import ChatCollator, ShardStream  # noqa: E402
from model.quant import (STEP_DTYPE, FaithfulQSLAWLinear, PackedQSLAWLinear, QuantConfig, fake_quant,  # noqa: E402
                         packed_storage_bytes, quantize_llm, step_and_zero, unpack)

REPO = Path(__file__).resolve().parents[1]
TINY_VL = ModelConfig(vision_tower="qwen2_vl", max_pixels=56 * 56 * 4)


def packed_layer(bits: int, group: int, out_f=24, in_f=100, seed=0) -> tuple[torch.nn.Linear, PackedQSLAWLinear]:
    torch.manual_seed(seed)
    linear = torch.nn.Linear(in_f, out_f)
    delta, zero = step_and_zero(linear.weight.detach(), bits, group)
    layer = PackedQSLAWLinear.from_linear(linear, delta.to(STEP_DTYPE), zero, bits, group)
    with torch.no_grad():
        layer.gamma.uniform_(0.8, 1.2)
    return linear, layer


@pytest.mark.parametrize("bits,group", [(2, 32), (3, 32), (4, 32), (4, 128), (8, 64)])
def test_packed_forward_and_gamma_gradient_equal_a_plain_autograd_reference(bits, group):
    linear, layer = packed_layer(bits, group)
    x = torch.randn(3, 5, 100, requires_grad=True)
    upstream = torch.randn(3, 5, 24)
    (layer(x) * upstream).sum().backward()

    gamma = layer.gamma.detach().clone().requires_grad_(True)
    levels = unpack(layer.packed, bits).float().view(24, -1, group) - layer.zero.float()[..., None]
    weight = (levels * (layer.delta.float() * gamma)[..., None]).view(24, -1)[:, :100]  # Ŵ = Δ·γ·(q − z)
    x_ref = x.detach().clone().requires_grad_(True)
    reference = x_ref @ weight.t() + linear.bias
    (reference * upstream).sum().backward()

    assert torch.allclose(layer(x), reference, atol=1e-5)
    assert torch.allclose(layer.gamma.grad, gamma.grad, atol=1e-4, rtol=1e-4)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)
    assert layer.gamma.grad.abs().sum() > 0


@pytest.mark.parametrize("bits,group", [(2, 32), (3, 64), (4, 128), (8, 128)])
def test_packed_storage_bytes_match_the_formula(bits, group):
    layer = PackedQSLAWLinear(384, 1000, bits, group, bias=False)
    groups = -(-1000 // group)
    per_code_bits = {2: 2, 3: 4, 4: 4, 8: 8}[bits]
    expected = 384 * groups * group * per_code_bits // 8 + 384 * groups * (2 + 1 + 4)  # codes + Δ fp16 + z u8 + γ fp32
    assert layer.storage_bytes() == expected == packed_storage_bytes(384, 1000, bits, group)
    assert len(layer.state_dict()) == 4 and not any(t.is_floating_point() and t.numel() == 384 * 1000
                                                     for t in layer.state_dict().values())  # no fp weight anywhere


def test_4bit_group_128_llm_weights_are_at_most_030_of_fp16():
    lmm = build_lmm(ModelConfig(text={"hidden_size": 256, "layers": 2, "heads": 4, "kv_heads": 2}),
                    train_tokenizer(["a b c"], 300))
    layers = lmm.model.language_model.layers
    fp16 = sum(m.weight.numel() * 2 for m in layers.modules() if isinstance(m, torch.nn.Linear))
    quantize_llm(lmm, QuantConfig(bits=4, group_size=128, mode="packed"))
    packed = sum(m.storage_bytes() - (0 if m.bias is None else m.bias.numel() * 2)
                 for m in layers.modules() if isinstance(m, PackedQSLAWLinear))
    assert packed / fp16 <= 0.30


def test_faithful_mode_equals_the_public_formula_on_hand_made_tensors():
    weight = torch.tensor([[0.1, -0.2, 0.35, 0.5]])
    delta, zero = step_and_zero(weight, bits=2, group_size=4)
    assert torch.allclose(delta, torch.tensor([[0.7 / 3]])) and zero.item() == 1.0  # z = round(0.2 / Δ)
    layer = FaithfulQSLAWLinear(torch.nn.Linear(4, 1, bias=False), delta, zero, bits=2, group_size=4)
    layer.weight.copy_(weight)
    with torch.no_grad():
        layer.gamma.fill_(1.1)
    # W/(Δγ) = [0.390, -0.779, 1.364, 1.948] → round [0, -1, 1, 2] + z → codes [1, 0, 2, 3]; Ŵ = (codes − z)·Δ
    d = 0.7 / 3
    assert torch.allclose(layer.dequantized(), torch.tensor([[0.0, -d, d, 2 * d]]), atol=1e-6)
    layer.dequantized().sum().backward()
    # straight-through rounding: dŴ/dγ = Δ · d(W/(Δγ))/dγ = −W/γ² for every unclamped weight
    assert torch.allclose(layer.gamma.grad, (-weight / 1.1**2).sum().reshape(1, 1), atol=1e-6)
    assert torch.equal(layer.dequantized(), fake_quant(weight, delta, zero, 2, 4, layer.gamma))


def test_faithful_layer_matches_plain_autograd_and_keeps_no_weight_sized_tensors_for_backward():
    """The paper's formula through F.linear and autograd (the reference) vs the layer's recomputing function: same
    output and gradients; what the layer's graph holds until backward is the input and per-group tensors, not the
    weight-sized intermediates plain autograd keeps (the padded weight, the clamp's input, the levels)."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(100, 24)
    delta, zero = step_and_zero(linear.weight.detach(), 3, 32)
    layer = FaithfulQSLAWLinear(linear, delta, zero, bits=3, group_size=32)
    with torch.no_grad():
        layer.gamma.uniform_(0.8, 1.2)
    x = torch.randn(3, 5, 100, requires_grad=True)
    upstream = torch.randn(3, 5, 24)
    saved = []

    def pack(tensor):
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = layer(x)
    (y * upstream).sum().backward()
    gamma = layer.gamma.detach().clone().requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    reference = F.linear(x_ref, fake_quant(layer.weight, delta, zero, 3, 32, gamma), linear.bias)
    (reference * upstream).sum().backward()
    assert torch.allclose(y, reference, atol=1e-5) and torch.allclose(x.grad, x_ref.grad, atol=1e-5)
    assert torch.allclose(layer.gamma.grad, gamma.grad, atol=1e-5) and layer.gamma.grad.abs().sum() > 0
    weight_sized = [t for t in saved if t.numel() >= layer.weight.numel() and t.data_ptr() != layer.weight.data_ptr()]
    assert not weight_sized


def tiny_batches(dataset: Path, lmm, tokenizer, n: int, size: int = 4) -> list[dict]:
    rows = list(ShardStream(sorted((dataset / "data").glob("*.parquet")), heldout_percent=0,
                            columns=("id", "image", "conversations")))
    collator = ChatCollator(tokenizer, ImageInputs(lmm))
    return [collator(rows[i * size:(i + 1) * size]) for i in range(n)]


@pytest.mark.parametrize("seed", [0, 1])
def test_omniquant_clipping_lowers_block_mse_against_rtn(tiny_dataset, seed):
    torch.manual_seed(seed)
    tokenizer = train_tokenizer(["グラフ 2021 年 億円"], 300)
    lmm = build_lmm(TINY_VL, tokenizer)
    # 3 batches × 20 epochs = 60 steps per block: lr 0.2 instead of the public 1e-2, which assumes 128 × 20 steps (σ(4)
    # clips 1.8 % at the start, so a slow fit stays behind RTN; at 0.1 block 0 of seed 0 still did with OmniQuant's
    # plain-rounded z, which passes no gradient)
    report = quantize_llm(lmm, QuantConfig(bits=3, group_size=32, init="omniquant", lwc_epochs=20, lwc_lr=0.2),
                          tiny_batches(tiny_dataset, lmm, tokenizer, 3))
    assert len(report["blocks"]) == 2
    assert all(block["lwc_mse"] < block["rtn_mse"] for block in report["blocks"])


def test_lwc_fits_each_block_to_the_full_precision_models_stream(tiny_dataset, monkeypatch):
    """OmniQuant's default: block i's target is what the unquantized model computes there (its input is the fp
    stream), while the block being fitted is fed the quantized stream; z is a plain round (no gradient through it)."""
    import model.quant as quant

    torch.manual_seed(0)
    tokenizer = train_tokenizer(["グラフ 2021 年 億円"], 300)
    lmm = build_lmm(TINY_VL, tokenizer)
    batch = tiny_batches(tiny_dataset, lmm, tokenizer, 1)[0]
    with torch.no_grad():  # the unquantized model's input to block 1: block 0's output
        (args, kwargs), = quant._block_inputs(lmm, [batch])
        fp_input_1 = quant._hidden(quant.decoder_layers(lmm)[0](*args, **kwargs))
    seen = []  # the hidden state each call of a block is fed
    run_block = quant.run_block
    monkeypatch.setattr(quant, "run_block", lambda block, inputs: seen.append(
        (block, [args[0] if args else kwargs["hidden_states"] for args, kwargs in inputs])) or run_block(block, inputs))
    quantize_llm(lmm, QuantConfig(bits=2, group_size=32, init="omniquant", lwc_epochs=1), [batch])
    second = [hidden[0] for block, hidden in seen if block is quant.decoder_layers(lmm)[1]]
    target_input, quantized_input = second[0], second[-1]
    assert torch.allclose(target_input, fp_input_1, atol=1e-6)
    assert not torch.allclose(quantized_input, fp_input_1, atol=1e-3)  # 2-bit: the quantized stream differs
    low = torch.zeros(4, 2, requires_grad=True)
    weight = torch.randn(4, 64)
    delta, zero = step_and_zero(weight, 4, 32, torch.full((4, 2), 4.0), low)
    assert not torch.autograd.grad(zero.sum(), low)[0].any()


def test_qslaw_adaptation_quantizes_then_places_one_decoder_layer_at_a_time(tiny_dataset, tmp_path, monkeypatch):
    """A 70B LLM fits an 80 GB GPU in 4 bits, not in 16: no move to the device may carry more than one unquantized
    decoder layer (before: the whole model was moved, then quantized there)."""
    moves = []
    to = torch.nn.Module.to

    def recording(module, *args, **kwargs):
        layers = [m for m in module.modules() if type(m).__name__.endswith("DecoderLayer")]
        moves.append(sum(any(isinstance(x, torch.nn.Linear) for x in layer.modules()) for layer in layers))
        return to(module, *args, **kwargs)

    from model.adapt import STRATEGIES, Setup

    tokenizer = train_tokenizer(["グラフ 2021 年 億円"], 300)
    lmm = build_lmm(TINY_VL, tokenizer)
    batches = tiny_batches(tiny_dataset, lmm, tokenizer, 1)
    cfg = adapt_config(tiny_dataset, tmp_path, quant=QuantConfig(bits=4, group_size=32, init="omniquant", lwc_epochs=1))
    monkeypatch.setattr(torch.nn.Module, "to", recording)
    STRATEGIES["qslaw"].prepare(Setup(lmm, cfg, tmp_path, torch.device("cpu"), torch.float32, None, lambda: batches))
    assert moves and max(moves) == 1 and moves.count(1) == 2  # each of the 2 layers on its own, before quantizing


def test_warmup_schedule_is_exactly_eta_multimodal_steps_then_the_ratio():
    kinds = [batch_kind(s, 3, 1.0) for s in range(9)]
    assert kinds == ["multimodal"] * 3 + ["multimodal", "text"] * 3
    assert [batch_kind(s, 0, 2.0) for s in range(6)] == ["multimodal", "text", "text"] * 2
    assert [batch_kind(s, 2, 0.5) for s in range(8)] == ["multimodal"] * 2 + ["multimodal", "multimodal", "text"] * 2
    assert all(batch_kind(s, 0, 0.0) == "multimodal" for s in range(10))
    drawn = list(zip(range(7), warmup_mix(iter(range(100)), iter(range(-1, -100, -1)), 3, 1.0)))
    assert [item for _, item in drawn] == [("multimodal", 0), ("multimodal", 1), ("multimodal", 2), ("multimodal", 3),
                                           ("text", -1), ("multimodal", 4), ("text", -2)]


@pytest.mark.parametrize("warmup_on", ["descriptions", "qa"])
def test_warmup_chart_batches_teach_descriptions_or_qa_then_qa(tiny_dataset, tmp_path, warmup_on):
    from model.adapt import adapt_batch, text_rows
    from model.data import IGNORE_INDEX

    tokenizer = train_tokenizer(["グラフ 2021 年 億円"], 300)
    collator = ChatCollator(tokenizer, ImageInputs(build_lmm(TINY_VL, tokenizer)))
    cfg = adapt_config(tiny_dataset, tmp_path, warmup_steps=3, warmup_on=warmup_on)
    rows = list(ShardStream(sorted((tiny_dataset / "data").glob("*.parquet")), heldout_percent=0,
                            columns=("id", "image", "conversations", "description", "lang")))[:1]

    def target(batch) -> str:
        labels = batch["labels"][0]
        return tokenizer.decode(labels[labels != IGNORE_INDEX], skip_special_tokens=True)

    answers = "".join(t["value"] for t in rows[0]["conversations"] if t["from"] == "gpt")  # EOS between, skipped
    assert target(adapt_batch(collator, cfg, "multimodal", rows, 2)) == (
        rows[0]["description"] if warmup_on == "descriptions" else answers)
    assert target(adapt_batch(collator, cfg, "multimodal", rows, 3)) == answers
    text = text_rows(cfg.text, tokenizer, 64)[:1]
    assert "pixel_values" not in adapt_batch(collator, cfg, "text", text, 0)
    assert target(adapt_batch(collator, cfg, "text", text, 0)) == text[0]["conversations"][0]["value"]


@pytest.mark.parametrize("mode", ["faithful", "packed"])
def test_only_gamma_and_projector_receive_gradients_in_qslaw(tiny_dataset, mode):
    tokenizer = train_tokenizer(["グラフ 2021 年 億円"], 300)
    lmm = build_lmm(TINY_VL, tokenizer)
    quantize_llm(lmm, QuantConfig(bits=4, group_size=32, mode=mode, start_layer=0))
    set_method_trainable(lmm, "qslaw")
    batch = tiny_batches(tiny_dataset, lmm, tokenizer, 1)[0]
    lmm(**{k: v for k, v in batch.items() if k != "ids"}).loss.backward()
    with_grad = {name for name, p in lmm.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert with_grad and all(n.startswith("model.multi_modal_projector.") or
                             (n.endswith(".gamma") and ".layers.1." in n) for n in with_grad)
    assert any(n.endswith(".gamma") for n in with_grad) and any("projector" in n for n in with_grad)
    assert not any(".layers.0." in n for n in with_grad)  # up to start_layer (as the public code, i > 0): frozen


def adapt_config(dataset: Path, out: Path, **changes) -> AdaptConfig:
    fields = {"data": [str(dataset / "data" / "*.parquet")], "out": str(out), "steps": 6, "batch_size": 2,
              "warmup_steps": 2, "model": TINY_VL, "quant": QuantConfig(bits=4, group_size=32), "eval_limit": 3,
              "heldout_percent": 20, "vocab_size": 400, "lora_rank": 4, "max_new_tokens": 4}
    return AdaptConfig(**(fields | changes))


def test_a_qslaw_run_lowers_the_loss(tiny_dataset, tmp_path):
    """Against a control: the same run at lr 0 (its loss stays flat). A fixed share of the first losses was brittle:
    the drop moves with the tiny dataset's content. At lr 5e-2 and 80 steps it fell to 1.8 % when tables gained
    their furniture (lr 5e-2 overshoots: 1.1 % at 160 steps); lr 2e-2 over 160 steps drops 3.0 %."""
    def last_losses(lr: float) -> float:
        report = adapt(adapt_config(tiny_dataset, tmp_path / str(lr), steps=160, warmup_steps=160, warmup_on="qa",
                                    lr=lr, model=ModelConfig(), eval_limit=2))
        return sum(report.losses[-10:]) / 10

    assert last_losses(2e-2) < 0.98 * last_losses(0.0)


def test_qslaw_adapt_with_text_calibrated_omniquant_exports_a_checkpoint_eval_reads(tiny_dataset, tmp_path):
    report = adapt(adapt_config(tiny_dataset, tmp_path, steps=2, calibration="text", calibration_batches=2,
                                quant=QuantConfig(bits=4, group_size=32, init="omniquant", lwc_epochs=1)))
    assert [b["layer"] for b in report.quantization["blocks"]] == [0, 1]
    spec = json.loads((tmp_path / "final" / "quant.json").read_text())
    assert spec["quant"]["init"] == "omniquant" and len(spec["layers"]) == 14  # 7 linears × 2 decoder layers
    assert report.eval.n == 3  # scored from the exported checkpoint, reloaded
    assert report.peak_host_bytes >= report.peak_memory_bytes > 0  # on CPU the device is the host


@pytest.mark.parametrize("method, init", [("qslaw", "omniquant"), ("qslaw", "gptq"), ("qslaw", "awq"),
                                          ("qlora", "omniquant")])
def test_an_interrupted_adaptation_resumes_bit_identically(tiny_dataset, tmp_path, monkeypatch, method, init):
    """GPTQ and AWQ change the weights themselves (AWQ the norms before them too): a resumed run must get those back
    from the checkpoint, not from the checkpoint it started from."""
    from safetensors.torch import load_file

    changes = {"method": method, "steps": 6, "checkpoint_every": 3, "warmup_steps": 2, "eval_limit": 1,
               "quant": QuantConfig(bits=4, group_size=32, init=init, lwc_epochs=1), "calibration_batches": 1}
    whole = adapt(adapt_config(tiny_dataset, tmp_path / "whole", **changes))
    # the schedule steps once when built and once per training step (OmniQuant's calibration has its own AdamW,
    # so optimizer steps would not count training steps)
    scheduler_step, calls = torch.optim.lr_scheduler.LambdaLR.step, []

    def crash_after_checkpoint(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # in training step 4, past the checkpoint at step 3
            raise KeyboardInterrupt("simulated crash")
        return scheduler_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.lr_scheduler.LambdaLR, "step", crash_after_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        adapt(adapt_config(tiny_dataset, tmp_path / "resumed", **changes))
    assert torch.load(tmp_path / "resumed" / "checkpoint" / "adapt.pt", weights_only=False)["ranks"][0]["progress"]["step"] == 3
    monkeypatch.setattr(torch.optim.lr_scheduler.LambdaLR, "step", scheduler_step)
    resumed = adapt(adapt_config(tiny_dataset, tmp_path / "resumed", **changes))
    assert resumed.resumed_from == 3 and resumed.losses == whole.losses and resumed.batch_kinds == whole.batch_kinds
    name = "model.safetensors" if method == "qslaw" else "adapter_model.safetensors"
    a, b = (load_file(tmp_path / run / "final" / name) for run in ("whole", "resumed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_qslaw_export_loads_back_and_answers_like_the_adapted_model(tiny_dataset, tmp_path):
    from model.quant import save_packed

    tokenizer = train_tokenizer(["グラフ 2021 年 億円"], 300)
    lmm = build_lmm(TINY_VL, tokenizer)
    quantize_llm(lmm, QuantConfig(bits=4, group_size=32, mode="faithful"))
    with torch.no_grad():
        for name, p in lmm.named_parameters():
            if name.endswith(".gamma"):
                p.uniform_(0.9, 1.1)  # as if learned
    batch = {k: v for k, v in tiny_batches(tiny_dataset, lmm, tokenizer, 1)[0].items() if k not in ("ids", "labels")}
    with torch.no_grad():
        before = lmm(**batch).logits
    save_packed(lmm, tmp_path / "export", QuantConfig(bits=4, group_size=32, mode="faithful"))
    loaded = load_lmm(str(tmp_path / "export"))
    assert all(isinstance(m, PackedQSLAWLinear) for n, m in loaded.named_modules() if n.endswith("q_proj"))
    with torch.no_grad():
        after = loaded(**batch).logits
    assert torch.allclose(before, after, atol=2e-3)  # Δ is stored in fp16; the codes are the same


def test_qlora_trains_on_cpu_and_only_lora_and_projector_move(tiny_dataset, tmp_path):
    report = adapt(adapt_config(tiny_dataset, tmp_path, method="qlora"))
    adapter = json.loads((tmp_path / "final" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and all(".language_model.layers." in t for t in adapter["target_modules"])
    assert 0 < report.trainable_parameters < report.lora_r128_parameters
    assert report.llm_weight_bytes < report.llm_weight_bytes_fp / 2  # NF4 decoder weights
    assert report.batch_kinds[:3] == ["multimodal", "multimodal", "multimodal"] and "text" in report.batch_kinds
    assert all(loss == loss for loss in report.losses)  # finite, not NaN


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt")
    tokenizer = train_tokenizer(["グラフ 2021 年 億円 chart value"], 300)
    # widths of 64: bitsandbytes' CPU NF4 kernel in bf16 fails on layers narrower than its 64-weight block
    build_lmm(ModelConfig(vision_tower="qwen2_vl", max_pixels=56 * 56 * 4, vision={"hidden_size": 64, "layers": 1}),
              tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.parametrize("variant", ["int8-all", "int8-llm", "nf4-all", "nf4-llm"])
def test_ptq_llm_only_leaves_the_vision_tower_unquantized(tiny_checkpoint, variant):
    from model.ptq import estimate_bytes, load_variant, meta_model, model_bytes

    model = load_variant(str(tiny_checkpoint), variant)
    kind = "Linear8bitLt" if variant.startswith("int8") else "Linear4bit"
    vision_qkv = type(model.model.vision_tower.blocks[0].attn.qkv).__name__
    projector = type(model.model.multi_modal_projector[0]).__name__
    assert type(model.model.language_model.layers[0].mlp.up_proj).__name__ == kind
    assert type(model.lm_head).__name__ == "Linear"
    if variant.endswith("-llm"):
        assert vision_qkv == projector == "Linear"
    else:
        assert vision_qkv == projector == kind
    skeleton = meta_model(model.config)
    assert abs(estimate_bytes(skeleton, variant) - model_bytes(model)) <= 0.01 * model_bytes(model)


def test_memory_estimator_reproduces_seed_table_5_from_configs_alone():
    from model.ptq import estimate_table

    for preset in ("memory_8b_qwen2vl", "memory_70b_qwen2vl"):
        table = estimate_table(REPO / "model" / "configs" / f"{preset}.json")
        for variant, seed_gib in table["seed_table5_gib"].items():  # the seed reports get_memory_footprint's count
            assert table["footprint_gib"][variant] == pytest.approx(seed_gib, abs=0.03), (preset, variant)
        assert table["estimate_gib"]["nf4-llm"] > table["estimate_gib"]["nf4-all"]


def test_cli_quantize_report_and_adapt(tiny_dataset, tiny_checkpoint, tmp_path):
    data = str(tiny_dataset / "data" / "*.parquet")
    result = subprocess.run([sys.executable, "-m", "chartsynth", "quantize-report", "--checkpoint", str(tiny_checkpoint),
                             "--data", data, "--out", str(tmp_path / "ptq"), "--heldout-percent", "20", "--limit", "2",
                             "--estimate", str(REPO / "model" / "configs" / "memory_8b_qwen2vl.json")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["variant"]: r for r in json.loads((tmp_path / "ptq" / "ptq.json").read_text())}
    assert set(rows) == {"16-bit", "int8-all", "int8-llm", "nf4-all", "nf4-llm"}
    assert rows["nf4-all"]["bytes"] < rows["nf4-llm"]["bytes"] < rows["16-bit"]["bytes"]
    assert rows["nf4-all"]["quantized_linears"] > rows["nf4-llm"]["quantized_linears"] > 0
    assert "| nf4-llm |" in (tmp_path / "ptq" / "ptq.md").read_text()
    assert "| 8b_qwen2vl | nf4-all |" in (tmp_path / "ptq" / "memory_estimate.md").read_text()

    config = tmp_path / "adapt.toml"
    config.write_text(f'method = "qslaw"\ndata = ["{data}"]\nout = "{tmp_path / "run"}"\nsteps = 3\nbatch_size = 2\n'
                      f'warmup_steps = 1\nvocab_size = 400\neval_limit = 2\nheldout_percent = 20\nmax_new_tokens = 4\n'
                      f'[model]\nvision_tower = "qwen2_vl"\nmax_pixels = 12544\n[quant]\ngroup_size = 32\nbits = 9\n')
    bad = subprocess.run([sys.executable, "-m", "chartsynth", "adapt", "--config", str(config)],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and f"{config}: quant.bits = 9" in bad.stderr
    config.write_text(config.read_text().replace("bits = 9", "bits = 4"))
    missing = tmp_path / "missing.toml"
    missing.write_text(config.read_text().replace("[model]", f'init_from = "{tmp_path / "nope"}"\n[model]'))
    bad = subprocess.run([sys.executable, "-m", "chartsynth", "adapt", "--config", str(missing)],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and f"init_from = '{tmp_path / 'nope'}': no such local directory" in bad.stderr
    good = subprocess.run([sys.executable, "-m", "chartsynth", "adapt", "--config", str(config), "--method", "full"],
                          capture_output=True, text=True, timeout=600)
    assert good.returncode == 0, good.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["method"] == "full" and report["steps"] == 3 and "relaxed_accuracy" in report["eval"]
    written = (tmp_path / "run" / "report.json").stat().st_mtime_ns
    again = subprocess.run([sys.executable, "-m", "chartsynth", "adapt", "--config", str(config), "--method", "full"],
                           capture_output=True, text=True, timeout=600)  # once re-exported and re-scored
    assert again.returncode == 0 and "full: already finished (3 steps)" in again.stdout, again.stderr[-3000:]
    assert (tmp_path / "run" / "report.json").stat().st_mtime_ns == written


def test_a_plain_causal_lm_quantizes_too():
    """The PTQ benchmark quantizes a real LLM on its own (SmolLM2): the decoder layers of a causal LM are found too."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    llm = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                       num_attention_heads=4, num_key_value_heads=2))
    ids = torch.randint(0, 64, (2, 16))
    before = llm(input_ids=ids).logits
    report = quantize_llm(llm, QuantConfig(bits=8, group_size=32, init="omniquant", lwc_epochs=1),
                          [{"input_ids": ids, "attention_mask": torch.ones_like(ids)}])
    assert report["quantized_layers"] == 2 * 7 and len(report["blocks"]) == 2
    assert torch.allclose(llm(input_ids=ids).logits, before, atol=0.05)  # 8 bits: close to the original



def test_a_sharded_qslaw_model_keeps_frozen_weights_16_bit_and_computes_as_the_local_one(tiny_dataset, tmp_path):
    """FSDP2 over one gloo process (the 2-process runs are in test_model.py): the other ranks' way of building the
    model — the quantized structure made on the meta device, weights from rank 0. Frozen parameters keep rank 0's
    16-bit dtype as shards (the faithful weight too: a parameter, so FSDP shards it; as a buffer it was replicated on
    every GPU), γ and the projector are fp32 master weights, and the logits equal the unsharded model's. Buffers made
    in __init__ survive the skeleton (the vision tower's position ids once came back uninitialised)."""
    import copy

    import torch.distributed as dist
    from torch.distributed.tensor import DTensor

    from model.adapt import _qslaw_skeleton
    from model.parallel import sharded_model
    from model.recipe import master_weights_fp32
    from tests.local_servers import free_port

    cfg = adapt_config(tiny_dataset, tmp_path)
    tokenizer = train_tokenizer(["グラフ 2021 年 億円"], 300)
    loaded = build_lmm(TINY_VL, tokenizer).to(torch.bfloat16)
    quantize_llm(loaded, cfg.quant)
    set_method_trainable(loaded, "qslaw")
    local = copy.deepcopy(loaded)
    master_weights_fp32(local)
    batch = {k: v for k, v in tiny_batches(tiny_dataset, local, tokenizer, 1)[0].items() if k != "ids"}
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    try:
        sharded = sharded_model(lambda: loaded, torch.device("cpu"), False, 0,
                                skeleton=lambda model: _qslaw_skeleton(model, cfg))
        params = dict(sharded.named_parameters())
        weight = params["model.language_model.layers.0.self_attn.q_proj.weight"]
        assert isinstance(weight, DTensor) and weight.dtype == torch.bfloat16 and not weight.requires_grad
        assert {p.dtype for n, p in params.items() if p.requires_grad} == {torch.float32}
        assert any(n.endswith(".gamma") for n, p in params.items() if p.requires_grad)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            expected, got = local(**batch).logits, sharded(**batch).logits
        # to bf16 rounding: non-persistent buffers (rotary frequencies) are made in fp32 there, cast to bf16 here
        assert (got.float() - expected.float()).abs().max() < 0.01 * expected.float().abs().max()
    finally:
        dist.destroy_process_group()
