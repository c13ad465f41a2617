"""Builders for the LMM and its tokenizer: from local pretrained directories (real use) or small configs (tests, CPU).
LLaVA layout: vision tower → projector (Linear-GELU-Linear, LLaVA's mlp2x_gelu) → any causal LM."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from model.data import IMAGE, PAD, SPECIAL_TOKENS


class TinyVision(BaseModel):
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
    """Either `pretrained` directories (a LLaVA checkpoint, or a vision tower + a causal LM) or tiny configs."""

    model_config = ConfigDict(extra="forbid")
    pretrained: str | None = Field(default=None, description="local directory of a LLaVA-layout checkpoint")
    tokenizer: str | None = Field(default=None, description="local tokenizer directory (default: `pretrained`)")
    vision: TinyVision = Field(default_factory=TinyVision)
    text: TinyText = Field(default_factory=TinyText)


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


def build_lmm(config: ModelConfig, tokenizer):
    """LlavaForConditionalGeneration from `config.pretrained`, or a new one of the tiny sizes in `config`."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration, Qwen2Config, SiglipVisionConfig

    if config.pretrained:
        return LlavaForConditionalGeneration.from_pretrained(config.pretrained)
    v, t = config.vision, config.text
    vision = SiglipVisionConfig(hidden_size=v.hidden_size, intermediate_size=v.hidden_size * 2, num_hidden_layers=v.layers,
                                num_attention_heads=v.heads, image_size=v.image_size, patch_size=v.patch_size)
    text = Qwen2Config(vocab_size=len(tokenizer), hidden_size=t.hidden_size, intermediate_size=t.hidden_size * 2,
                       num_hidden_layers=t.layers, num_attention_heads=t.heads, num_key_value_heads=t.kv_heads,
                       max_position_embeddings=2048, pad_token_id=tokenizer.pad_token_id)
    image_tokens = (v.image_size // v.patch_size) ** 2
    return LlavaForConditionalGeneration(LlavaConfig(
        vision_config=vision, text_config=text, image_token_id=tokenizer.convert_tokens_to_ids(IMAGE),
        vision_feature_select_strategy="full", vision_feature_layer=-1, image_seq_length=image_tokens,
        projector_hidden_act="gelu"))


def image_processor_for(model):
    """The PIL image processor sized for the model's vision tower (torchvision is not needed)."""
    from transformers import LlavaImageProcessorPil

    size = model.config.vision_config.image_size
    return LlavaImageProcessorPil(size={"height": size, "width": size}, crop_size={"height": size, "width": size},
                                  do_center_crop=False)


def image_tokens_for(model) -> int:
    return model.config.image_seq_length
