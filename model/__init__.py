"""The chart-reading LMM, trained and adapted from the shards: data loading (data), building (build, lmm), the
3-stage training recipe (train), cheap adaptation — QSLAW, QLoRA, full — (adapt, quant), post-training quantization
(ptq), evaluation (evaluate, metrics, lmms_eval_task). Shared recipe plumbing lives in recipe."""
