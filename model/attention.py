"""Where the model looks when it answers (seed 000, Fig. 2 and 6). For one answer: the attention paid to the image
tokens by the positions that produce the answer's tokens, averaged over every head of the last `layers` decoder
layers and over those positions, renormalised over the image tokens, and laid out on the image's token grid — the
SigLIP tower's fixed patch grid, or the Qwen2-VL tower's merged grid (one token per merge×merge patches of the
image at the resolution the processor chose). Plain averaging, not attention rollout: rollout through the LLM would
mix in the text tokens' own attention to the image, which is not what the answer reads."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from PIL import Image

from model.data import ASSISTANT, IMAGE
from model.quant import decoder_layers

LAST_LAYERS = 4
METHOD = (f"answer tokens' attention over the image tokens, mean over heads and the last {LAST_LAYERS} decoder layers, "
          "renormalised over the image")


@dataclass(frozen=True)
class AttentionMap:
    grid: torch.Tensor  # [rows, cols], sums to 1: the share of the image attention on each token cell
    image_share: float  # the part of the answer's attention that went to image tokens at all


def token_grid(model, vision: dict) -> tuple[int, int]:
    """Rows and columns of image tokens the LLM sees for one image, in the order the tower emits them (row-major)."""
    config = model.config
    if config.model_type == "chartsynth_lmm":
        t, h, w = (int(x) for x in vision["image_grid_thw"][0])
        merge = config.vision_config.spatial_merge_size
        return t * h // merge, w // merge
    side = config.vision_config.image_size // config.vision_config.patch_size
    return side, side


@contextmanager
def eager_attention(model):
    """SDPA returns no attention weights; the eager kernel does. Restored afterwards, so generation stays fast."""
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def answer_attention(model, collator, image: Image.Image, question: str, answer_ids: list[int],
                     layers: int = LAST_LAYERS) -> AttentionMap:
    """The map for `answer_ids` (the model's own answer, as generated) to `question` about `image`."""
    vision, (count,) = collator.image_inputs([image])
    prompt, _ = collator.encode([{"from": "human", "value": f"{IMAGE}\n{question}"}], count)
    prompt = prompt + [collator.ids[ASSISTANT]]
    ids = torch.tensor([prompt + list(answer_ids)], device=next(model.parameters()).device)
    # position p predicts token p+1: the answer comes from the last prompt position up to the one before the last token
    producing = torch.arange(len(prompt) - 1, ids.shape[1] - 1 if answer_ids else len(prompt), device=ids.device)
    image = ids[0] == collator.ids[IMAGE]
    kept = []  # only what the map needs, taken as each of the last layers runs: output_attentions would hold every
    # layer's [heads, tokens, tokens] at once (~90 GB for a 70B LLM over 3,000 tokens)

    def keep(module, args, output):
        kept.append(output[1][0][:, producing][..., image].float().mean(dim=(0, 1)))

    hooks = [layer.self_attn.register_forward_hook(keep) for layer in decoder_layers(model)[-layers:]]
    try:
        with torch.no_grad(), eager_attention(model):
            model(input_ids=ids, attention_mask=torch.ones_like(ids), **{k: v.to(ids.device) for k, v in vision.items()},
                  use_cache=False)
    finally:
        for hook in hooks:
            hook.remove()
    on_image = torch.stack(kept).mean(0)
    rows, cols = token_grid(model, vision)
    if on_image.numel() != rows * cols:
        raise ValueError(f"{on_image.numel()} image tokens do not fill the {rows}×{cols} token grid")
    total = on_image.sum()
    return AttentionMap(grid=(on_image / total).view(rows, cols).cpu(), image_share=float(total))


def overlay(image: Image.Image, grid: torch.Tensor, alpha: float = 0.55) -> Image.Image:
    """The chart with the map over it: one flat cell per image token (no smoothing, so cells read as the tokens they
    are), coloured from transparent-dark (none) to bright (the most-attended cell)."""
    from matplotlib import colormaps

    peak = grid.max()
    scaled = (grid / peak if peak > 0 else grid).numpy()
    colours = (colormaps["inferno"](scaled)[..., :3] * 255).astype("uint8")
    heat = Image.fromarray(colours).resize(image.size, Image.Resampling.NEAREST)
    return Image.blend(image.convert("RGB"), heat, alpha)
