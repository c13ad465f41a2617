"""Merge the LLM of an LMM checkpoint with another LLM of the same shape (a causal LM, or another LMM's LLM), tensor
by tensor: the vision tower and projector stay the base's. Seed 000 (Table 3, No. 11) gained +0.02 JGraphQA this way.

Methods, each on one tensor at a time (so a 70B merge holds one file's worth of tensors, not the model):
- linear: (1 − w)·A + w·B.
- slerp: spherical interpolation between A and B flattened, at t = w (Shoemake); nearly parallel tensors
  (|cos| > 0.9995) interpolate linearly, as the usual implementations do.
- ties: TIES-merging (Yadav et al., 2023) over a common ancestor C: task vectors τ = A − C and B − C, each trimmed
  to its `density` share of largest magnitudes, a sign elected per entry (the sign of the trimmed vectors' sum),
  the mean of the entries agreeing with it, then C + w·τ_merged (w is the paper's λ). Deviation: the paper trims
  over the whole task vector; this trims within each tensor, which streaming needs.

Computed in fp32, written in the base's dtype, into the base's file layout."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Literal

import torch

Method = Literal["linear", "slerp", "ties"]
RECORD = "merge.json"  # written last: the merge finished, and from what
PARALLEL = 0.9995  # |cos| above this: slerp falls back to linear (the sine ratio loses precision)


class MergeError(ValueError):
    pass


def linear(a: torch.Tensor, b: torch.Tensor, w: float) -> torch.Tensor:
    return (1.0 - w) * a + w * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    if torch.equal(a, b):
        return a.clone()
    flat_a, flat_b = a.flatten(), b.flatten()
    norms = flat_a.norm() * flat_b.norm()
    cos = float((flat_a @ flat_b) / norms) if norms > 0 else 1.0
    if abs(cos) > PARALLEL:
        return linear(a, b, t)
    omega = math.acos(max(-1.0, min(1.0, cos)))
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def trim(task: torch.Tensor, density: float) -> torch.Tensor:
    """The `density` share of entries with the largest magnitudes kept, the rest zero."""
    keep = max(1, int(round(density * task.numel())))
    if keep >= task.numel():
        return task
    threshold = task.abs().flatten().kthvalue(task.numel() - keep + 1).values
    return torch.where(task.abs() >= threshold, task, torch.zeros_like(task))


def ties(a: torch.Tensor, b: torch.Tensor, ancestor: torch.Tensor, w: float, density: float) -> torch.Tensor:
    tasks = torch.stack([trim(a - ancestor, density), trim(b - ancestor, density)])
    elected = torch.sign(tasks.sum(dim=0))
    agree = (torch.sign(tasks) == elected) & (tasks != 0)
    merged = (tasks * agree).sum(dim=0) / agree.sum(dim=0).clamp(min=1)
    return ancestor + w * merged


# ------------------------------------------------------------------ checkpoints read tensor by tensor

class Checkpoint:
    """A saved model's tensors by name, opened lazily (safetensors), and which of them are the LLM's under the
    causal-LM names (model.layers.0…, lm_head.weight) whatever the checkpoint calls them."""

    def __init__(self, directory: Path, flag: str):
        from safetensors import safe_open

        self.directory, self.flag = directory, flag
        index = directory / "model.safetensors.index.json"
        if index.exists():
            weight_map = json.loads(index.read_text())["weight_map"]
        else:
            files = sorted(directory.glob("*.safetensors"))
            if not files:
                raise MergeError(f"{flag} {directory}: no *.safetensors weights (save the model with "
                                 "save_pretrained first)")
            weight_map = {}
            for file in files:
                with safe_open(file, "pt") as handle:
                    weight_map |= dict.fromkeys(handle.keys(), file.name)
        self.files = sorted(set(weight_map.values()))
        self.file_of = weight_map
        self._open = {}
        self.llm = self._llm_names(list(weight_map))

    @staticmethod
    def _llm_names(names: list[str]) -> dict[str, str]:
        """causal-LM name → this checkpoint's name, for the LLM's tensors only."""
        prefixes = [("language_model.model.", "model."), ("language_model.lm_head.", "lm_head."),  # LMM, saved
                    ("model.language_model.", "model."), ("lm_head.", "lm_head.")]  # LMM in memory's names
        if not any(n.startswith(("language_model.", "model.language_model.")) for n in names):
            prefixes = [("model.", "model."), ("lm_head.", "lm_head.")]  # a causal LM
        found = {}
        for name in names:
            for prefix, causal in prefixes:
                if name.startswith(prefix):
                    found[causal + name[len(prefix):]] = name
                    break
        return found

    def _handle(self, name: str):
        from safetensors import safe_open

        file = self.file_of[name]
        if file not in self._open:
            self._open[file] = safe_open(self.directory / file, "pt")
        return self._open[file]

    def tensor(self, name: str) -> torch.Tensor:
        return self._handle(name).get_tensor(name)

    def shape(self, name: str) -> tuple[int, ...]:
        """From the file's header: checking shapes reads no weights."""
        return tuple(self._handle(name).get_slice(name).get_shape())

    def llm_tensor(self, causal: str) -> torch.Tensor:
        """The LLM tensor under its causal-LM name; an output head the model ties to its embedding is that."""
        if causal not in self.llm and causal == "lm_head.weight" and "model.embed_tokens.weight" in self.llm:
            causal = "model.embed_tokens.weight"
        return self.tensor(self.llm[causal])


def _check_shapes(base: Checkpoint, other: Checkpoint, extra: Checkpoint | None) -> None:
    """Refuse before writing anything, naming the first tensor that does not line up."""
    for causal, name in base.llm.items():
        for source in [other] + ([extra] if extra else []):
            key = source.llm.get(causal) or (source.llm.get("model.embed_tokens.weight")
                                              if causal == "lm_head.weight" else None)
            if key is None:
                raise MergeError(f"{source.flag} {source.directory}: no tensor for {causal} (the base's {name}): "
                                 "not an LLM of the base's architecture")
            if source.shape(key) != base.shape(name):
                raise MergeError(f"{source.flag} {source.directory}: {causal} has shape {source.shape(key)}, the base's "
                                 f"{name} {base.shape(name)}: not the same architecture")


def merge(base_dir: Path, other_dir: Path, out: Path, method: Method, weight: float,
          ancestor_dir: Path | None = None, density: float = 0.2) -> dict:
    """Write the merged checkpoint to `out` (via a temporary directory, renamed when complete). Returns the record
    kept in out/merge.json; a rerun of the same finished merge says so and writes nothing."""
    asked = {"base": str(base_dir), "other": str(other_dir), "method": method, "weight": weight,
             "ancestor": str(ancestor_dir) if ancestor_dir else None, "density": density if method == "ties" else None}
    if out.exists() and any(out.iterdir()) and not (out / RECORD).exists():
        raise MergeError(f"--out {out}: exists and holds something else; choose a new directory")
    if (out / RECORD).exists():
        done = json.loads((out / RECORD).read_text())
        if {k: done.get(k) for k in asked} == asked:
            return done | {"already_done": True}
        raise MergeError(f"--out {out}: holds another merge ({done['method']} of {done['base']} and {done['other']}); "
                         "choose a new directory")
    if not 0.0 <= weight <= 1.0 and method != "ties":
        raise MergeError(f"--weight {weight}: must be between 0 (the base) and 1 (the other model)")
    if method == "ties" and ancestor_dir is None:
        raise MergeError("--method ties needs --ancestor: the model both were fine-tuned from")
    if not 0.0 < density <= 1.0:
        raise MergeError(f"--density {density}: must be in (0, 1]")
    if (base_dir / "quant.json").exists():
        raise MergeError(f"--base {base_dir}: a quantized checkpoint; merge the 16-bit model, then quantize")
    base, other = Checkpoint(base_dir, "--base"), Checkpoint(other_dir, "--other")
    ancestor = Checkpoint(ancestor_dir, "--ancestor") if ancestor_dir else None
    if not base.llm:
        raise MergeError(f"--base {base_dir}: no LLM tensors found")
    _check_shapes(base, other, ancestor)
    llm_of = {name: causal for causal, name in base.llm.items()}
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for item in base_dir.iterdir():  # config, tokenizer, generation config, index: the base's
        if item.is_file() and item.suffix != ".safetensors" and item.name != RECORD:
            shutil.copy2(item, staging / item.name)
    from safetensors.torch import save_file

    merged = 0
    for file in base.files:  # one output file at a time: host memory holds one file's worth
        part = {}
        for name in (n for n, f in base.file_of.items() if f == file):
            a = base.tensor(name)
            if name not in llm_of:
                part[name] = a  # vision tower, projector: the base's
                continue
            causal = llm_of[name]
            b = other.llm_tensor(causal).float()
            if method == "linear":
                value = linear(a.float(), b, weight)
            elif method == "slerp":
                value = slerp(a.float(), b, weight)
            else:
                value = ties(a.float(), b, ancestor.llm_tensor(causal).float(), weight, density)
            part[name] = value.to(a.dtype).contiguous()
            merged += 1
        save_file(part, str(staging / file), metadata={"format": "pt"})
    record = asked | {"merged_tensors": merged, "kept_tensors": len(base.file_of) - merged}
    (staging / RECORD).write_text(json.dumps(record, indent=1))
    if out.exists():
        out.rmdir()  # empty (checked above)
    staging.rename(out)
    return record
