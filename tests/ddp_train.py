"""Run by tests/test_model.py under torchrun: train a few steps with DDP (gloo) and report what this rank saw."""

import hashlib
import json
import sys

import torch

from model.build import load_lmm
from model.train import TrainConfig, train

cfg = TrainConfig.model_validate_json(sys.argv[1])
seen: list[str] = []
result = train(cfg, observe=seen.extend)
state = load_lmm(f"{cfg.out}/final").state_dict()
digest = hashlib.sha256(b"".join(t.numpy().tobytes() for _, t in sorted(state.items()))).hexdigest()
rank = result.rank
with open(f"{cfg.out}/rank{rank}.json", "w") as f:
    json.dump({"seen": seen, "world_size": result.world_size, "weights": digest}, f)
torch.distributed.barrier()  # both reports written before either rank leaves
torch.distributed.destroy_process_group()
