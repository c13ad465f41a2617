"""chartsynth merge (model/merge.py): the LLM of an LMM merged with another LLM of its shape, tensor by tensor."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from model.build import ModelConfig, build_lmm, load_lmm, train_tokenizer  # noqa: E402
from model.merge import MergeError, merge, ties  # noqa: E402


def files_state(directory: Path) -> dict:
    from safetensors.torch import load_file

    state = {}
    for file in sorted(directory.glob("*.safetensors")):
        state |= load_file(file)
    return state


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Two tiny LMMs of one architecture (different seeds) and a causal LM cut from the second one's LLM."""
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("merge")
    tokenizer = train_tokenizer(["グラフ 2021 年 億円"], 300)
    dirs = {}
    for name, seed in (("base", 0), ("other", 1)):
        torch.manual_seed(seed)
        lmm = build_lmm(ModelConfig(), tokenizer)
        lmm.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        dirs[name] = root / name
    other = load_lmm(dirs["other"])
    causal = AutoModelForCausalLM.from_config(other.config.text_config)
    causal.model.load_state_dict(other.model.language_model.state_dict())
    causal.lm_head.load_state_dict(other.lm_head.state_dict())
    causal.save_pretrained(root / "causal")
    dirs["causal"] = root / "causal"
    wider = AutoModelForCausalLM.from_config(other.config.text_config.__class__(
        **(other.config.text_config.to_dict() | {"intermediate_size": other.config.text_config.intermediate_size * 2})))
    wider.save_pretrained(root / "wider")
    dirs["wider"] = root / "wider"
    return dirs


def llm_and_rest(directory: Path) -> tuple[dict, dict]:
    model = load_lmm(directory).state_dict()
    llm = {k: v for k, v in model.items() if k.startswith("model.language_model.") or k.startswith("lm_head.")}
    return llm, {k: v for k, v in model.items() if k not in llm}


def test_linear_at_0_and_1_returns_the_inputs_bit_exactly_and_keeps_the_base_vision(checkpoints, tmp_path):
    base_llm, base_rest = llm_and_rest(checkpoints["base"])
    other_llm, _ = llm_and_rest(checkpoints["other"])
    assert any(not torch.equal(base_llm[k], other_llm[k]) for k in base_llm)
    for w, expected in ((0.0, base_llm), (1.0, other_llm)):
        for other in ("other", "causal"):  # another LMM's LLM, or a causal LM under its own names
            record = merge(checkpoints["base"], checkpoints[other], tmp_path / f"{other}{w}", "linear", w)
            llm, rest = llm_and_rest(tmp_path / f"{other}{w}")
            assert record["merged_tensors"] == len(base_llm)
            assert all(torch.equal(llm[k], expected[k]) for k in expected), (other, w)
            assert all(torch.equal(rest[k], base_rest[k]) for k in base_rest)
    merge(checkpoints["base"], checkpoints["causal"], tmp_path / "half", "linear", 0.5)
    half, _ = llm_and_rest(tmp_path / "half")
    key = next(k for k in base_llm if not torch.equal(base_llm[k], other_llm[k]))
    assert torch.allclose(half[key], (base_llm[key] + other_llm[key]) / 2)


def test_slerp_of_a_model_with_itself_is_the_model_and_otherwise_keeps_the_norm_between(checkpoints, tmp_path):
    merge(checkpoints["base"], checkpoints["base"], tmp_path / "self", "slerp", 0.3)
    merged, base = files_state(tmp_path / "self"), files_state(checkpoints["base"])
    assert merged.keys() == base.keys() and all(torch.equal(v, base[k]) for k, v in merged.items())
    from model.merge import slerp

    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = slerp(a, b, 0.5)
    assert torch.allclose(mid, torch.tensor([2**-0.5, 2**-0.5]))  # on the arc, not the chord's midpoint (0.5, 0.5)


def test_ties_trims_elects_a_sign_and_averages_the_agreeing_entries():
    """The paper's three steps by hand: density 0.5 keeps |3|, |2| of A's task vector and |−3|, |−2| of B's; the
    sums' signs elect (+, −, 0, +); each entry averages the kept values of that sign."""
    a, b, ancestor = torch.tensor([3.0, -1.0, 0.1, 2.0]), torch.tensor([-2.0, -3.0, 0.2, 1.0]), torch.zeros(4)
    assert torch.equal(ties(a, b, ancestor, 1.0, 0.5), torch.tensor([3.0, -3.0, 0.0, 2.0]))
    assert torch.equal(ties(a + 1, b + 1, ancestor + 1, 0.5, 0.5), torch.tensor([2.5, -0.5, 1.0, 2.0]))


def test_mismatched_or_foreign_inputs_are_refused_naming_the_tensor_or_flag(checkpoints, tmp_path):
    with pytest.raises(MergeError, match=r"--other .*model\.layers\.0\.mlp\.\w+_proj\.weight has shape"):
        merge(checkpoints["base"], checkpoints["wider"], tmp_path / "wide", "linear", 0.5)
    assert not (tmp_path / "wide").exists() and not (tmp_path / "wide.partial").exists()
    with pytest.raises(MergeError, match="--method ties needs --ancestor"):
        merge(checkpoints["base"], checkpoints["other"], tmp_path / "t", "ties", 1.0)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(MergeError, match="--out .*busy: exists and holds something else"):
        merge(checkpoints["base"], checkpoints["other"], tmp_path / "busy", "linear", 0.5)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_merge_command_writes_a_loadable_checkpoint_and_a_rerun_says_it_is_done(checkpoints, tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "chartsynth", "merge", "--base", str(checkpoints["base"]),
                               "--other", str(checkpoints["other"]), "--out", str(tmp_path / "m"), *args],
                              capture_output=True, text=True, timeout=300)

    first = run("--method", "ties", "--ancestor", str(checkpoints["base"]), "--weight", "1.0", "--density", "0.5")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "LLM tensors merged" in first.stdout
    record = json.loads((tmp_path / "m" / "merge.json").read_text())
    assert record["method"] == "ties" and record["density"] == 0.5
    merged = load_lmm(tmp_path / "m")
    ids = torch.tensor([[1, 2, 3]])
    assert torch.isfinite(merged(input_ids=ids).logits).all()
    again = run("--method", "ties", "--ancestor", str(checkpoints["base"]), "--weight", "1.0", "--density", "0.5")
    assert again.returncode == 0 and "already there" in again.stdout
    bad = run("--method", "average")
    assert bad.returncode == 2 and "--method 'average': choose linear, slerp or ties" in bad.stderr
