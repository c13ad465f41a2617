"""Run by tests/test_model.py under torchrun: train a few steps (DDP or FSDP over gloo) and report what this rank
saw and its losses. A second argument N stops both ranks when they reach batch N + 1 (an interrupted run)."""

import hashlib
import json
import sys

import torch

from model.build import load_lmm
from model.train import TrainConfig, train

cfg = TrainConfig.model_validate_json(sys.argv[1])
stop_after = int(sys.argv[2]) if len(sys.argv) > 2 else None
seen: list[str] = []


def observe(ids: list[str]) -> None:
    if stop_after is not None and len(seen) >= stop_after * cfg.batch_size:
        raise SystemExit(3)  # every rank stops at the same step, as a killed job would
    seen.extend(ids)


result = train(cfg, observe=observe)
state = load_lmm(f"{cfg.out}/final").state_dict()
digest = hashlib.sha256(b"".join(t.float().numpy().tobytes() for _, t in sorted(state.items()))).hexdigest()
rank = result.rank
with open(f"{cfg.out}/rank{rank}.json", "w") as f:
    json.dump({"seen": seen, "world_size": result.world_size, "weights": digest, "losses": result.losses,
               "resumed_from": result.resumed_from}, f)
torch.distributed.barrier()  # both reports written before either rank leaves
torch.distributed.destroy_process_group()
