"""What model/'s recipes report back to the command line and write next to their outputs (report.json,
results.json). Run configs stay in model/: only model/ reads them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Scores(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int
    relaxed_accuracy: float = Field(description="ChartQA's: numbers within 5 %, else exact after normalising")
    containment: float = Field(description="JGraphQA's: the gold answer appears in the output, on number boundaries")
    within_tolerance: float = Field(default=0.0, description="ours: the number is within the tolerance recorded for "
                                    "the question (what the chart lets a careful reader see), or the label is right")


class EvalSummary(BaseModel):
    """Held-out chart QA scores overall and by QA type, chart type and language."""

    model_config = ConfigDict(extra="forbid")
    model: str
    questions: int
    overall: Scores
    by_qa_type: dict[str, Scores] = Field(default_factory=dict)
    by_chart_type: dict[str, Scores] = Field(default_factory=dict)
    by_lang: dict[str, Scores] = Field(default_factory=dict)


class TrainReport(BaseModel):
    """One training stage, as this process (rank) saw it."""

    model_config = ConfigDict(extra="forbid")
    stage: str
    losses: list[float] = Field(description="loss per optimizer step taken by this run (empty if already finished)")
    rank: int
    world_size: int
    resumed_from: int = Field(default=0, description="the checkpoint's step this run started from (0: a fresh run)")
    trainable_parameters: dict[str, int] = Field(default_factory=dict, description="parameters trained per part "
                                                 "(vision, projector, llm); empty if already finished")


class AdaptReport(BaseModel):
    """One adaptation run: what it trained, what it held in memory, how fast, how well (report.json)."""

    model_config = ConfigDict(extra="forbid")
    method: str
    lora_r128_parameters: int = Field(description="what LoRA r=128 on every decoder linear would train")
    llm_weight_bytes_fp: int = Field(description="decoder weights before quantization")
    quantization: dict | None = Field(default=None, description="qslaw: the calibration report (per block MSE)")
    trainable_parameters: int
    trainable_vs_lora_r128: float = Field(description="trainable / (LoRA r=128 + projector)")
    llm_weight_bytes: int = Field(description="decoder weights as trained (quantized for qslaw / qlora)")
    steps: int
    losses: list[float]
    batch_kinds: list[str]
    rank: int = Field(default=0, description="losses, batch kinds and peak memory are this rank's")
    world_size: int = 1
    resumed_from: int = Field(default=0, description="the step the run continued from (0: a new run)")
    mean_step_seconds: float
    peak_memory_bytes: int = Field(description="the GPU's peak allocated memory (on CPU: the process's peak RSS)")
    peak_host_bytes: int = Field(default=0, description="the process's peak resident memory on the host")
    eval: Scores | None = None


class TrainingMemory(BaseModel):
    """Per-GPU memory of a training or adaptation run, estimated from the model's config (model/memory.py)."""

    model_config = ConfigDict(extra="forbid")
    method: str
    gpus: int
    micro_batch: int
    seq_len: int
    activation_checkpointing: bool
    weights_bytes: int = Field(description="parameters as held (fp32 master shards, frozen 16-bit, packed or NF4 "
                                           "codes) plus, sharded, the gathered 16-bit copies of the largest units")
    gradients_bytes: int
    optimizer_bytes: int = Field(description="AdamW's two fp32 moments per trainable parameter")
    activations_bytes: int = Field(description="what backward needs kept: per-layer tensors (only layer inputs "
                                               "with checkpointing, plus one layer recomputed), logits for the loss")
    peak_bytes: int = Field(description="weights + optimizer + the larger of all activations (backward's start) "
                                        "and all gradients plus one layer's activations (its end)")
