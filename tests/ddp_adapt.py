"""Run by tests/test_model.py under torchrun: adapt a few steps (DDP or FSDP over gloo) and report this rank's
losses. A second argument N stops both ranks in their step N + 1, after the step-N checkpoint (an interrupted run)."""

import json
import sys

import torch

from model.adapt import AdaptConfig, adapt

cfg = AdaptConfig.model_validate_json(sys.argv[1])
if len(sys.argv) > 2:
    stop_at, calls, scheduler_step = int(sys.argv[2]), [], torch.optim.lr_scheduler.LambdaLR.step

    def crash_after_checkpoint(self, *args, **kwargs):
        calls.append(1)  # once when the schedule is built, then once per training step
        if len(calls) == stop_at + 2:
            raise SystemExit(3)  # every rank stops at the same step, as a killed job would
        return scheduler_step(self, *args, **kwargs)

    torch.optim.lr_scheduler.LambdaLR.step = crash_after_checkpoint
result = adapt(cfg)
with open(f"{cfg.out}/rank{result.rank}.json", "w") as f:
    json.dump({"world_size": result.world_size, "losses": result.losses, "resumed_from": result.resumed_from,
               "trainable": result.trainable_parameters}, f)
torch.distributed.barrier()  # both reports written before either rank leaves
torch.distributed.destroy_process_group()
