"""GPTQ and AWQ (model/calibration.py) against their papers' equations, and as initialisations of QSLAW layers."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import model.calibration as calibration  # noqa: E402
from model.calibration import awq_block, awq_scale, gptq  # noqa: E402
from model.quant import (FaithfulQSLAWLinear, PackedQSLAWLinear, QSLAW_LAYERS, QuantConfig, decoder_layers,  # noqa: E402
                         fake_quant, quantize_llm, step_and_zero)


def correlated_inputs(tokens: int, width: int, seed: int = 0) -> torch.Tensor:
    """Inputs whose channels are strongly correlated, as activations are: GPTQ's error feedback has something to use."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(width, width, generator=generator) * 0.3 + torch.eye(width)
    return torch.randn(tokens, width, generator=generator) @ mixing


def hessian(x: torch.Tensor) -> torch.Tensor:
    return 2 * x.T @ x / x.shape[0]


def gptq_by_the_equations(weight, x, bits, group):
    """Frantar et al. (2022), Eq. 2–3 one column at a time, with the explicit Gaussian-elimination update of H⁻¹ (Eq. 3)
    instead of the Cholesky form and lazy batches: w ← w − (w_q − quant(w_q))/[H⁻¹]_qq · H⁻¹_{:,q}."""
    w = weight.double().clone()
    h = 2 * x.double().T @ x.double() / x.shape[0]
    h += calibration.GPTQ_DAMPENING * torch.mean(torch.diag(h)) * torch.eye(h.shape[0], dtype=torch.double)
    h_inv = torch.linalg.inv(h)
    out = torch.zeros_like(w)
    for q in range(w.shape[1]):
        if q % group == 0:
            delta, zero = step_and_zero(w[:, q:q + group], bits, group)
        codes = (torch.round(w[:, q] / delta[:, 0]) + zero[:, 0]).clamp(0, 2**bits - 1)
        out[:, q] = (codes - zero[:, 0]) * delta[:, 0]
        error = (w[:, q] - out[:, q]) / h_inv[q, q]
        w -= error[:, None] * h_inv[:, q][None]
        h_inv -= h_inv[:, q:q + 1] @ h_inv[q:q + 1, :] / h_inv[q, q]
    return out


def test_hessians_summed_batch_by_batch_equal_the_hessian_of_all_tokens():
    """GPTQ keeps [in, in] per linear, not every calibration token's input row."""
    import model.quant as quant

    llm = tiny_llm()
    block = decoder_layers(llm)[0]
    inputs = quant._block_inputs(llm, calibration_batches() * 2)
    rows = calibration.linear_inputs(block, inputs)
    for name, h in calibration.linear_hessians(block, inputs).items():
        assert torch.allclose(h, hessian(rows[name]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("block", [128, 8])  # one lazy batch, and batches of 8 columns across groups of 12
def test_gptq_equals_the_papers_column_by_column_update(monkeypatch, block):
    monkeypatch.setattr(calibration, "GPTQ_BLOCK", block)
    torch.manual_seed(0)
    weight, x = torch.randn(6, 24), correlated_inputs(200, 24)
    quantized, delta, zero = gptq(weight, hessian(x), bits=3, group_size=12)
    assert torch.allclose(quantized.double(), gptq_by_the_equations(weight, x, 3, 12), atol=1e-4)
    # on the grid: RTN with the returned Δ, z gives it back
    assert torch.allclose(fake_quant(quantized, delta, zero, 3, 12), quantized, atol=1e-5)


def test_gptq_is_rtn_when_the_inputs_are_uncorrelated_and_better_when_they_are():
    torch.manual_seed(0)
    weight = torch.randn(16, 32)
    delta, zero = step_and_zero(weight, 3, 16)
    rtn = fake_quant(weight, delta, zero, 3, 16)
    orthogonal = torch.eye(32).repeat(4, 1)  # H diagonal: no error to feed forward
    assert torch.allclose(gptq(weight, hessian(orthogonal), 3, 16)[0], rtn, atol=1e-6)
    x = correlated_inputs(400, 32)
    error = lambda w: (x @ (w - weight).T).pow(2).mean().item()  # noqa: E731  the layer-wise objective ‖ŴX − WX‖²
    assert error(gptq(weight, hessian(x), 3, 16)[0]) < 0.8 * error(rtn)


def test_awq_scales_protect_salient_channels():
    """AWQ's premise (Lin et al., §2): with a few input channels of large activation, scaling them up before rounding
    lowers the output error; the search over α returns the best of its grid, so never worse than α = 0 (no scale)."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 32, bias=False)
    x = torch.randn(256, 64)
    x[:, :3] *= 30  # salient channels
    cfg = QuantConfig(bits=3, group_size=32)

    def error(s):
        scaled = linear.weight.detach() * s
        delta, zero = step_and_zero(scaled, 3, 32)
        return ((x / s) @ fake_quant(scaled, delta, zero, 3, 32).T - x @ linear.weight.detach().T).pow(2).mean().item()

    s = awq_scale([linear], x, cfg)
    assert s[:3].min() > s[3:].max()  # the salient channels get the largest scales
    assert error(s) < 0.9 * error(torch.ones(64))


def tiny_llm(kind: str = "llama"):
    from transformers import Gemma3TextConfig, Gemma3ForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    sizes = dict(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2)
    if kind == "gemma":
        return Gemma3ForCausalLM(Gemma3TextConfig(**sizes, head_dim=16)).eval()
    return LlamaForCausalLM(LlamaConfig(**sizes)).eval()


def calibration_batches():
    ids = torch.randint(0, 64, (2, 32), generator=torch.Generator().manual_seed(1))
    return [{"input_ids": ids, "attention_mask": torch.ones_like(ids)}]


def test_awq_folds_its_scales_without_changing_the_full_precision_model(monkeypatch):
    """Scales folded into the norm before q/k/v and gate/up and into up_proj before down_proj: with clipping off,
    the block computes what it did (v_proj → o_proj is skipped: grouped-query attention, shapes differ)."""
    import model.quant as quant

    monkeypatch.setattr(calibration, "AWQ_CLIP_RATIOS", [1.0])
    llm = tiny_llm()
    block = decoder_layers(llm)[0]
    inputs = quant._block_inputs(llm, calibration_batches())
    before = quant.run_block(block, inputs)
    norm = block.input_layernorm.weight.detach().clone()
    awq_block(block, inputs, QuantConfig(bits=3, group_size=32))
    assert not torch.allclose(block.input_layernorm.weight, norm)  # something was folded
    assert torch.allclose(quant.run_block(block, inputs)[0], before[0], rtol=1e-4, atol=1e-5)


def test_awq_runs_on_a_bf16_model():
    """A 16-bit model's fold rounds its scaled weights (output drift ~3e-3): that is not a norm AWQ cannot fold into."""
    llm = tiny_llm().to(torch.bfloat16)
    report = quantize_llm(llm, QuantConfig(bits=4, group_size=32, init="awq"), calibration_batches())
    assert report["quantized_layers"] == 14


def test_awq_refuses_a_layer_whose_norm_it_cannot_fold_into():
    """Gemma 3 normalises the MLP input with its own pre_feedforward_layernorm and scales by (1 + w): the fold check
    catches it instead of silently changing the model."""
    with pytest.raises(ValueError, match="folding the scales into Gemma3DecoderLayer changed its output"):
        quantize_llm(tiny_llm("gemma"), QuantConfig(bits=4, group_size=32, init="awq"), calibration_batches())


@pytest.mark.parametrize("init", ["gptq", "awq"])
@pytest.mark.parametrize("mode", ["faithful", "packed"])
def test_gptq_and_awq_initialise_qslaw_layers_in_either_mode(init, mode):
    llm = tiny_llm()
    batches = calibration_batches()
    reference = llm(**batches[0]).logits
    rtn = tiny_llm()
    quantize_llm(rtn, QuantConfig(bits=3, group_size=32), batches)
    report = quantize_llm(llm, QuantConfig(bits=3, group_size=32, init=init, mode=mode), batches)
    layers = [m for m in llm.modules() if isinstance(m, QSLAW_LAYERS)]
    assert report["quantized_layers"] == 14 and all(
        isinstance(m, FaithfulQSLAWLinear if mode == "faithful" else PackedQSLAWLinear) for m in layers)
    with torch.no_grad():
        error = (llm(**batches[0]).logits - reference).pow(2).mean()
        rtn_error = (rtn(**batches[0]).logits - reference).pow(2).mean()
    assert error < rtn_error  # on the calibration text itself, both beat plain rounding


def test_gptq_and_awq_need_calibration():
    with pytest.raises(ValueError, match="quant.init = 'gptq' needs calibration batches"):
        quantize_llm(tiny_llm(), QuantConfig(bits=4, group_size=32, init="gptq"))


@pytest.mark.parametrize("init", ["rtn", "gptq"])
def test_per_channel_is_one_group_per_row_of_every_layer(init):
    llm = tiny_llm()
    quantize_llm(llm, QuantConfig(bits=4, group_size=0, init=init, mode="packed"), calibration_batches())
    layers = [m for m in llm.modules() if isinstance(m, PackedQSLAWLinear)]
    assert {m.in_features for m in layers} == {64, 128}  # down_proj is wider than the rest
    assert all(m.group_size == m.in_features and m.delta.shape == (m.out_features, 1) for m in layers)


def test_a_group_too_small_is_refused_by_name():
    with pytest.raises(ValueError, match="quant.group_size = 4"):
        QuantConfig(group_size=4)
