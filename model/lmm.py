"""The Qwen2-VL-tower LMM: Qwen2-VL's vision transformer (native dynamic resolution, 2D RoPE) → projector
(Linear-GELU-Linear) → any transformers causal LM. transformers has no class for this pairing (its Qwen2-VL model is
tied to Qwen2-VL's own M-RoPE LM), so it is defined here and registered with the Auto classes, so
`AutoModelForImageTextToText.from_pretrained` reads a saved one back.

Module names follow LLaVA (`model.vision_tower`, `model.multi_modal_projector`, `model.language_model`, `lm_head`), so
stage freezing and quantization skip lists treat both layouts alike. The tower keeps Qwen2-VL's own patch merger (the
2×2 token merge it was pretrained with); the projector after it is ours and is what stage 1 trains.
"""

import json
from pathlib import Path

import torch
from torch import nn
from transformers import (AutoConfig, AutoModel, AutoModelForImageTextToText, GenerationMixin, PreTrainedConfig,
                          PreTrainedModel)
from transformers.configuration_utils import SubConfigSpec
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VisionTransformerPretrainedModel


class ChartLMMConfig(PreTrainedConfig):
    model_type = "chartsynth_lmm"
    sub_configs_defaults = {
        "vision_config": Qwen2VLVisionConfig,
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen2"),
    }

    vision_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    image_token_id: int = 0
    projector_hidden_act: str = "gelu"
    min_pixels: int = 56 * 56
    max_pixels: int = 28 * 28 * 1280
    tie_word_embeddings: bool = False


class ChartLMMModel(PreTrainedModel):
    config: ChartLMMConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: ChartLMMConfig):
        super().__init__(config)
        self.vision_tower = Qwen2VisionTransformerPretrainedModel._from_config(config.vision_config)
        vision_out, text_hidden = config.vision_config.hidden_size, config.text_config.hidden_size
        self.multi_modal_projector = nn.Sequential(nn.Linear(vision_out, text_hidden), nn.GELU(),
                                                   nn.Linear(text_hidden, text_hidden))
        self.language_model = AutoModel.from_config(config.text_config)
        self.post_init()

    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    def image_features(self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor) -> torch.Tensor:
        """One row per image token, in image order: (t·h·w / merge²) rows for each image."""
        merged = self.vision_tower(pixel_values.to(self.vision_tower.dtype), grid_thw=image_grid_thw).pooler_output
        return self.multi_modal_projector(merged)

    def forward(self, input_ids=None, pixel_values=None, image_grid_thw=None, attention_mask=None, position_ids=None,
                past_key_values=None, inputs_embeds=None, **kwargs):
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        if pixel_values is not None:
            features = self.image_features(pixel_values, image_grid_thw).to(inputs_embeds.dtype)
            slots = (input_ids == self.config.image_token_id).unsqueeze(-1)
            if int(slots.sum()) != features.shape[0]:
                raise ValueError(f"{int(slots.sum())} image tokens in the text but {features.shape[0]} image features: "
                                 "each <image> must expand to (t*h*w)/merge² tokens of its image_grid_thw")
            inputs_embeds = inputs_embeds.masked_scatter(slots.expand_as(inputs_embeds), features)
        return self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                   position_ids=position_ids, past_key_values=past_key_values, **kwargs)


class ChartLMMForConditionalGeneration(PreTrainedModel, GenerationMixin):
    config: ChartLMMConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

    def __init__(self, config: ChartLMMConfig):
        super().__init__(config)
        self.model = ChartLMMModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self):
        return self.lm_head

    def forward(self, input_ids=None, pixel_values=None, image_grid_thw=None, attention_mask=None, position_ids=None,
                past_key_values=None, inputs_embeds=None, labels=None, use_cache=None, logits_to_keep: int = 0,
                **kwargs):
        outputs = self.model(input_ids=input_ids, pixel_values=pixel_values, image_grid_thw=image_grid_thw,
                             attention_mask=attention_mask, position_ids=position_ids,
                             past_key_values=past_key_values, inputs_embeds=inputs_embeds, use_cache=use_cache,
                             **kwargs)
        hidden = outputs.last_hidden_state
        logits = self.lm_head(hidden[:, -logits_to_keep:] if logits_to_keep else hidden)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size)
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=outputs.past_key_values,
                                      hidden_states=outputs.hidden_states, attentions=outputs.attentions)


AutoConfig.register(ChartLMMConfig.model_type, ChartLMMConfig)
AutoModel.register(ChartLMMConfig, ChartLMMModel)
AutoModelForImageTextToText.register(ChartLMMConfig, ChartLMMForConditionalGeneration)


def _state_dict_files(directory: Path) -> list[Path]:
    index = directory / "model.safetensors.index.json"
    if index.exists():
        return sorted({directory / f for f in json.loads(index.read_text())["weight_map"].values()})
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{directory}: no *.safetensors weights")
    return files


def load_qwen2_vl_tower(directory: str | Path) -> Qwen2VisionTransformerPretrainedModel:
    """The vision transformer of a Qwen2-VL checkpoint (e.g. Qwen2-VL-7B-Instruct) or of a saved bare tower.

    `Qwen2VisionTransformerPretrainedModel.from_pretrained` on a full Qwen2-VL directory finds none of its weights
    (they sit under `model.visual.` or `visual.`) and silently initialises a random tower, so the prefix is
    stripped here and any missing weight is an error."""
    from safetensors import safe_open

    directory = Path(directory)
    config = AutoConfig.from_pretrained(directory)
    vision_config = getattr(config, "vision_config", config)
    if not isinstance(vision_config, Qwen2VLVisionConfig):
        raise ValueError(f"{directory}/config.json: model_type {config.model_type!r} is not Qwen2-VL "
                         "(expected qwen2_vl or qwen2_vl_vision)")
    tower = Qwen2VisionTransformerPretrainedModel._from_config(vision_config)
    wanted = set(tower.state_dict())
    state = {}
    for file in _state_dict_files(directory):
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                name = key.removeprefix("model.").removeprefix("visual.")
                if name in wanted and (key.startswith(("model.visual.", "visual.")) or key == name):
                    state[name] = f.get_tensor(key)
    missing = sorted(wanted - set(state))
    if missing:
        raise ValueError(f"{directory}: no Qwen2-VL vision weights for {missing[:3]}{' …' if len(missing) > 3 else ''}")
    tower.load_state_dict(state)
    return tower


def assemble(vision: Qwen2VisionTransformerPretrainedModel, language_model: PreTrainedModel, image_token_id: int,
             min_pixels: int, max_pixels: int) -> ChartLMMForConditionalGeneration:
    """Join a loaded tower and a loaded causal LM; only the projector starts from random weights."""
    text_config = language_model.config
    config = ChartLMMConfig(vision_config=vision.config, text_config=text_config, image_token_id=image_token_id,
                            min_pixels=min_pixels, max_pixels=max_pixels,
                            tie_word_embeddings=getattr(text_config, "tie_word_embeddings", False))
    from model.parallel import parameters_on_meta

    with parameters_on_meta():  # the loaded parts' tensors are taken over, not copied into a second random model
        lmm = ChartLMMForConditionalGeneration(config)
    lmm.model.vision_tower.load_state_dict(vision.state_dict(), assign=True)
    lmm.model.language_model.load_state_dict(language_model.get_decoder().state_dict(), assign=True)
    lmm.lm_head.load_state_dict(language_model.get_output_embeddings().state_dict(), assign=True)
    projector = lmm.model.multi_modal_projector.to_empty(device=lmm.lm_head.weight.device)
    projector.apply(lmm._init_weights)
    lmm.tie_weights()
    return lmm
