"""Builders for the LMM and its tokenizer: from local pretrained directories (real use) or small configs (tests, CPU).
Both layouts are vision tower → projector (Linear-GELU-Linear, LLaVA's mlp2x_gelu) → causal LM: LLaVA with a SigLIP
tower (fixed image tokens), or model.lmm's Qwen2-VL tower (dynamic resolution, variable image tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

import model.lmm  # noqa: F401  registers chartsynth_lmm with the Auto classes before any Auto* lookup (tokenizers too)
from model.data import IMAGE, PAD, SPECIAL_TOKENS


class TinyVision(BaseModel):
    """Sizes of a vision tower built from scratch (tests, CPU). `image_size` is SigLIP's fixed input; the Qwen2-VL
    tower takes images at their own resolution within ModelConfig's pixel bounds (patch 14, 2×2 merge)."""

    model_config = ConfigDict(extra="forbid")
    hidden_size: int = 32
    layers: int = 2
    heads: int = 2
    image_size: int = 64
    patch_size: int = 16


class TinyText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden_size: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2


class ModelConfig(BaseModel):
    """Where the LMM comes from: a saved LMM (`pretrained`), a Qwen2-VL checkpoint's tower + a causal LM
    (`vision_pretrained` + `text_pretrained`), or tiny sizes built from scratch."""

    model_config = ConfigDict(extra="forbid")
    vision_tower: Literal["siglip", "qwen2_vl"] = Field(
        default="siglip", description="qwen2_vl: native dynamic resolution, a variable number of image tokens per image")
    pretrained: str | None = Field(default=None, description="local directory of a saved LMM (LLaVA or chartsynth_lmm)")
    vision_pretrained: str | None = Field(default=None, description="local Qwen2-VL checkpoint whose vision tower to use")
    text_pretrained: str | None = Field(default=None, description="local causal LM directory to join to the tower")
    tokenizer: str | None = Field(default=None, description="local tokenizer directory (default: the LM's)")
    min_pixels: int = Field(default=56 * 56, ge=56 * 56, description="qwen2_vl: smallest image area fed to the tower")
    max_pixels: int = Field(default=28 * 28 * 1280, description="qwen2_vl: largest image area (bounds image tokens)")
    vision: TinyVision = Field(default_factory=TinyVision)
    text: TinyText = Field(default_factory=TinyText)

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if self.pretrained and (self.vision_pretrained or self.text_pretrained):
            raise ValueError("model: give either `pretrained` or `vision_pretrained` + `text_pretrained`, not both")
        if (self.vision_pretrained or self.text_pretrained) and self.vision_tower != "qwen2_vl":
            raise ValueError("model.vision_pretrained/text_pretrained join a Qwen2-VL tower to a causal LM: set "
                             "vision_tower = 'qwen2_vl' (for SigLIP give a LLaVA checkpoint as `pretrained`)")
        if bool(self.vision_pretrained) != bool(self.text_pretrained):
            raise ValueError("model: vision_pretrained and text_pretrained go together")
        if self.max_pixels < self.min_pixels:
            raise ValueError(f"model.max_pixels={self.max_pixels} is below min_pixels={self.min_pixels}")
        return self


def train_tokenizer(texts, vocab_size: int):
    """A byte-level BPE trained on `texts` (no hub), with chartsynth's chat and image tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD, additional_special_tokens=SPECIAL_TOKENS[1:])


def add_chat_tokens(tokenizer):
    """A pretrained LM's tokenizer plus chartsynth's chat and image tokens (build_lmm grows the embeddings to match)."""
    missing = [t for t in SPECIAL_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = PAD
    return tokenizer


def local_dir(path: str, field: str) -> str:
    """No hub here or on many clusters: a missing directory must not turn into a hub lookup and its odd error."""
    if not Path(path).is_dir():
        raise FileNotFoundError(f"{field} = {path!r}: no such local directory")
    return path


def build_lmm(config: ModelConfig, tokenizer):
    """The LMM `config` describes, with an embedding row for every token of `tokenizer`."""
    for field in ("pretrained", "vision_pretrained", "text_pretrained", "tokenizer"):
        if getattr(config, field):
            local_dir(getattr(config, field), f"model.{field}")
    if config.pretrained:
        model = load_lmm(config.pretrained)
    elif config.vision_pretrained:
        from transformers import AutoModelForCausalLM

        from model.lmm import assemble, load_qwen2_vl_tower

        model = assemble(load_qwen2_vl_tower(config.vision_pretrained),
                         AutoModelForCausalLM.from_pretrained(config.text_pretrained),
                         tokenizer.convert_tokens_to_ids(IMAGE), config.min_pixels, config.max_pixels)
    else:
        return _tiny_qwen2_vl(config, tokenizer) if config.vision_tower == "qwen2_vl" else _tiny_llava(config, tokenizer)
    image_id = tokenizer.convert_tokens_to_ids(IMAGE)
    if model.config.image_token_id != image_id:
        raise ValueError(f"{config.pretrained or config.vision_pretrained}: the model's image_token_id is "
                         f"{model.config.image_token_id} but the tokenizer's {IMAGE} is {image_id}")
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:  # the chat and image tokens were added
        model.resize_token_embeddings(len(tokenizer))
    return model


def _tiny_text(config: ModelConfig, tokenizer):
    from transformers import Qwen2Config

    t = config.text
    return Qwen2Config(vocab_size=len(tokenizer), hidden_size=t.hidden_size, intermediate_size=t.hidden_size * 2,
                       num_hidden_layers=t.layers, num_attention_heads=t.heads, num_key_value_heads=t.kv_heads,
                       max_position_embeddings=4096, pad_token_id=tokenizer.pad_token_id)


def _tiny_llava(config: ModelConfig, tokenizer):
    from transformers import LlavaConfig, LlavaForConditionalGeneration, SiglipVisionConfig

    v = config.vision
    vision = SiglipVisionConfig(hidden_size=v.hidden_size, intermediate_size=v.hidden_size * 2, num_hidden_layers=v.layers,
                                num_attention_heads=v.heads, image_size=v.image_size, patch_size=v.patch_size)
    return LlavaForConditionalGeneration(LlavaConfig(
        vision_config=vision, text_config=_tiny_text(config, tokenizer), image_token_id=tokenizer.convert_tokens_to_ids(IMAGE),
        vision_feature_select_strategy="full", vision_feature_layer=-1,
        image_seq_length=(v.image_size // v.patch_size) ** 2, projector_hidden_act="gelu"))


def _tiny_qwen2_vl(config: ModelConfig, tokenizer):
    from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig

    from model.lmm import ChartLMMConfig, ChartLMMForConditionalGeneration

    v = config.vision
    vision = Qwen2VLVisionConfig(depth=v.layers, embed_dim=v.hidden_size, hidden_size=v.hidden_size * 2,
                                 num_heads=v.heads, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    return ChartLMMForConditionalGeneration(ChartLMMConfig(
        vision_config=vision, text_config=_tiny_text(config, tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE), min_pixels=config.min_pixels, max_pixels=config.max_pixels))


def load_lmm(directory: str):
    """A saved LMM of either layout, or a QSLAW-quantized export."""
    local_dir(directory, "checkpoint")
    from transformers import AutoModelForImageTextToText

    from model.quant import QUANT_FILE, load_packed

    if (Path(directory) / QUANT_FILE).exists():
        return load_packed(directory)
    return AutoModelForImageTextToText.from_pretrained(directory)


class ImageInputs:
    """Images → the tensors the model's vision tower takes, and how many `<image>` tokens each image fills:
    a fixed count for SigLIP, (t·h·w)/merge² of each image's patch grid for the Qwen2-VL tower."""

    def __init__(self, model):
        config = model.config
        if config.model_type == "chartsynth_lmm":
            from transformers import Qwen2VLImageProcessorPil

            v = config.vision_config
            self.merge = v.spatial_merge_size
            self.processor = Qwen2VLImageProcessorPil(
                size={"shortest_edge": config.min_pixels, "longest_edge": config.max_pixels},
                patch_size=v.patch_size, merge_size=v.spatial_merge_size, temporal_patch_size=v.temporal_patch_size)
            self.fixed_tokens = None
        else:
            from transformers import LlavaImageProcessorPil

            size = config.vision_config.image_size
            self.processor = LlavaImageProcessorPil(size={"height": size, "width": size},
                                                    crop_size={"height": size, "width": size}, do_center_crop=False)
            self.fixed_tokens = config.image_seq_length

    def __call__(self, images) -> tuple[dict, list[int]]:
        out = dict(self.processor(images=images, return_tensors="pt"))
        if self.fixed_tokens is not None:
            return {"pixel_values": out["pixel_values"]}, [self.fixed_tokens] * len(images)
        grid = out["image_grid_thw"]
        return ({"pixel_values": out["pixel_values"], "image_grid_thw": grid},
                (grid.prod(-1) // self.merge**2).tolist())
