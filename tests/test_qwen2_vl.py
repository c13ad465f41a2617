"""The Qwen2-VL-tower LMM (dynamic resolution), assembly from local checkpoints, and evaluation paths beyond a local
checkpoint: an OpenAI-compatible vision endpoint and the lmms-eval task export. CPU, tiny models, no hub."""

import base64
import importlib.util
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from model.build import ImageInputs, ModelConfig, add_chat_tokens, build_lmm, load_lmm, train_tokenizer  # noqa: E402
from model.data import IMAGE, ChatCollator, ShardStream  # noqa: E402
from model.train import TrainConfig, set_trainable, train  # noqa: E402
from tests.fake_openai import FakeServer  # noqa: E402

SMALL_IMAGES = {"vision_tower": "qwen2_vl", "max_pixels": 56 * 56 * 4}  # ≤ 16 image tokens after the 2×2 merge


def rows(dataset: Path, n: int) -> list[dict]:
    files = sorted((dataset / "data").glob("*.parquet"))
    return list(ShardStream(files, heldout_percent=0, columns=("id", "image", "conversations")))[:n]


def tiny_qwen2_vl():
    tokenizer = train_tokenizer(["グラフ 2021 年 億円 chart value"], 300)
    return build_lmm(ModelConfig(**SMALL_IMAGES), tokenizer), tokenizer


def test_each_image_gets_its_own_number_of_tokens_and_the_batch_trains(tiny_dataset):
    model, tokenizer = tiny_qwen2_vl()
    batch_rows = rows(tiny_dataset, 12)
    collator = ChatCollator(tokenizer, ImageInputs(model))
    batch = collator(batch_rows)
    per_row = (batch["input_ids"] == tokenizer.convert_tokens_to_ids(IMAGE)).sum(1).tolist()
    expected = (batch["image_grid_thw"].prod(-1) // 4).tolist()
    assert per_row == expected and len(set(per_row)) > 1  # the charts' aspect ratios differ, so do their token counts
    assert batch["pixel_values"].shape == (int(batch["image_grid_thw"].prod(-1).sum()), 3 * 2 * 14 * 14)
    set_trainable(model, {"vision": 1e-3, "projector": 1e-3, "llm": 1e-3})
    out = model(**{k: v for k, v in batch.items() if k != "ids"})
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert model.model.vision_tower.patch_embed.proj.weight.grad.abs().sum() > 0  # image features reached the loss


def test_image_token_count_mismatch_is_refused():
    model, tokenizer = tiny_qwen2_vl()
    from PIL import Image

    vision, (tokens,) = ImageInputs(model)([Image.new("RGB", (200, 100), "white")])
    ids = [tokenizer.convert_tokens_to_ids(IMAGE)] * (tokens - 1)
    with pytest.raises(ValueError, match=f"{tokens - 1} image tokens in the text but {tokens} image features"):
        model(input_ids=torch.tensor([ids]), **vision)


def test_truncation_through_an_image_is_refused_with_the_sample_id(tiny_dataset):
    model, tokenizer = tiny_qwen2_vl()
    with pytest.raises(ValueError, match=rf"sample {rows(tiny_dataset, 1)[0]['id']}: max_length=5 cuts through"):
        ChatCollator(tokenizer, ImageInputs(model), max_length=5)(rows(tiny_dataset, 1))


@pytest.mark.parametrize("stage", ["1", "2"])
def test_stage_freezing_with_the_qwen2_vl_tower(stage):
    model, _ = tiny_qwen2_vl()
    lrs = TrainConfig(data=["x"], out="o", stage=stage).part_lrs()
    groups = {g["name"]: sum(p.numel() for p in g["params"]) for g in set_trainable(model, lrs)}
    projector = sum(p.numel() for p in model.model.multi_modal_projector.parameters())
    vision = sum(p.numel() for p in model.model.vision_tower.parameters())
    if stage == "1":
        assert groups == {"projector": projector}
    else:
        assert groups == {"vision": vision, "projector": projector,
                          "llm": sum(p.numel() for p in model.parameters()) - vision - projector}


def test_train_save_reload_and_eval_a_qwen2_vl_checkpoint(tiny_dataset, tmp_path):
    from model.evaluate import evaluate
    from model.lmm import ChartLMMForConditionalGeneration

    cfg = TrainConfig(data=[str(tiny_dataset / "data" / "*.parquet")], out=str(tmp_path / "run"), steps=3, batch_size=2,
                      lr=3e-3, heldout_percent=20, vocab_size=400, model=ModelConfig(**SMALL_IMAGES))
    train(cfg)
    model = load_lmm(str(tmp_path / "run" / "final"))
    assert isinstance(model, ChartLMMForConditionalGeneration)
    state = torch.load(tmp_path / "run" / "checkpoint" / "trainer.pt", weights_only=False)["model"]
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # from_pretrained reads it back
    summary = evaluate([cfg.data[0]], str(tmp_path / "eval"), checkpoint=str(tmp_path / "run" / "final"),
                       heldout_percent=20, limit=4, max_new_tokens=4)
    assert summary.questions == 4 and "| overall |" in (tmp_path / "eval" / "results.md").read_text()


def test_assemble_from_a_qwen2_vl_checkpoint_and_a_causal_lm(tmp_path):
    from transformers import (AutoTokenizer, Qwen2Config, Qwen2ForCausalLM, Qwen2VLConfig,
                              Qwen2VLForConditionalGeneration)

    from model.lmm import load_qwen2_vl_tower

    qwen2_vl = Qwen2VLForConditionalGeneration(Qwen2VLConfig(
        vision_config={"depth": 1, "embed_dim": 32, "hidden_size": 48, "num_heads": 2},
        text_config={"hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "num_key_value_heads": 1, "vocab_size": 64,
                     "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}}))
    qwen2_vl.save_pretrained(tmp_path / "qwen2vl")
    plain = train_tokenizer(["plain text only"], 280)
    plain.save_pretrained(tmp_path / "lm")  # a tokenizer without our chat and image tokens, as real LMs ship
    lm = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(plain), hidden_size=64, intermediate_size=96, num_hidden_layers=1,
                                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False))
    lm.save_pretrained(tmp_path / "lm")

    tower = load_qwen2_vl_tower(tmp_path / "qwen2vl")
    assert all(torch.equal(v, qwen2_vl.model.visual.state_dict()[k]) for k, v in tower.state_dict().items())
    tokenizer = add_chat_tokens(AutoTokenizer.from_pretrained(tmp_path / "lm"))
    model = build_lmm(ModelConfig(vision_tower="qwen2_vl", vision_pretrained=str(tmp_path / "qwen2vl"),
                                  text_pretrained=str(tmp_path / "lm")), tokenizer)
    assert model.get_input_embeddings().weight.shape[0] >= len(tokenizer)
    assert model.config.image_token_id == tokenizer.convert_tokens_to_ids(IMAGE) != tokenizer.unk_token_id
    layer = "layers.0.self_attn.q_proj.weight"
    assert torch.equal(model.model.language_model.state_dict()[layer], lm.model.state_dict()[layer])
    assert torch.equal(model.model.vision_tower.blocks[0].attn.qkv.weight, qwen2_vl.model.visual.blocks[0].attn.qkv.weight)


def test_tower_loader_names_what_is_wrong(tmp_path):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from model.lmm import load_qwen2_vl_tower

    Qwen2ForCausalLM(Qwen2Config(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1)).save_pretrained(tmp_path / "lm")
    with pytest.raises(ValueError, match=r"lm/config.json: model_type 'qwen2' is not Qwen2-VL"):
        load_qwen2_vl_tower(tmp_path / "lm")
    with pytest.raises(ValueError, match="vision_tower = 'qwen2_vl'"):
        ModelConfig(vision_pretrained="a", text_pretrained="b")


def answer_key(dataset: Path) -> dict[tuple[str, str], str]:
    """(image digest, question text) → gold answer, for the scripted endpoint: a question such as "このグラフの出典は
    どこか。" is asked of many charts, each with its own answer."""
    import hashlib

    return {(hashlib.sha256(row["image"]["bytes"]).hexdigest(), qa["question"]): qa["answer"]
            for f in (dataset / "data").glob("*.parquet")
            for row in pq.read_table(f, columns=["image", "qa"]).to_pylist() for qa in row["qa"]}


def test_eval_against_an_openai_compatible_vision_endpoint(tiny_dataset, tmp_path, monkeypatch):
    """The endpoint is tests/fake_openai.py (no vision model runs here): it answers right on even-numbered requests'
    questions and wrong on the others, so the scores are known; it also checks what a vision server would receive."""
    import hashlib

    from PIL import Image

    from model.evaluate import Endpoint, evaluate

    key, images = answer_key(tiny_dataset), []

    def reply(body: dict) -> str:
        (content,) = [m["content"] for m in body["messages"] if m["role"] == "user"]
        url = next(part["image_url"]["url"] for part in content if part["type"] == "image_url")
        png = base64.b64decode(url.removeprefix("data:image/png;base64,"))
        images.append(Image.open(io.BytesIO(png)).size)
        question = next(part["text"] for part in content if part["type"] == "text").split("\n")[0]
        return key[hashlib.sha256(png).hexdigest(), question] if len(question) % 2 == 0 else "わかりません"

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    server = FakeServer(reply=reply).start()
    try:
        summary = evaluate([str(tiny_dataset / "data" / "*.parquet")], str(tmp_path / "eval"),
                           endpoint=Endpoint(server.url, "qwen2-vl-7b"), heldout_percent=30, limit=10)
        sent = server.requests
        again = evaluate([str(tiny_dataset / "data" / "*.parquet")], str(tmp_path / "eval"),
                         endpoint=Endpoint(server.url, "qwen2-vl-7b"), heldout_percent=30, limit=10)
    finally:
        server.stop()
    records = json.loads((tmp_path / "eval" / "results.json").read_text())["records"]
    right = sum(len(r["question"]) % 2 == 0 for r in records)
    assert summary.questions == 10 and sent == 10 and server.requests == 10  # the rerun came from the cache
    assert summary.overall.relaxed_accuracy == round(right / 10, 4) == again.overall.relaxed_accuracy
    assert all(size[0] >= 480 for size in images)  # the chart itself, not a thumbnail
    assert "sk-test-secret" not in (tmp_path / "eval" / "results.json").read_text()


def test_lmms_eval_export_loads_and_scores_with_our_metrics(tiny_dataset, tmp_path):
    """lmms-eval itself is not installed here (it pulls torchvision, which does not import beside torch 2.13); this
    checks the parts it would use: the YAML, datasets loading the Parquet with decoded images, and utils.py."""
    import datasets
    import yaml

    from model.lmms_eval_task import export_lmms_eval, metric_names
    from model.metrics import relaxed_match

    written = export_lmms_eval([str(tiny_dataset / "data" / "*.parquet")], tmp_path / "task", heldout_percent=30)

    class TaskLoader(yaml.SafeLoader):
        pass

    TaskLoader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))
    task = yaml.load(Path(written["yaml"]).read_text(), Loader=TaskLoader)
    assert task["process_results"] == ("function", "utils.process_results")
    assert [m["metric"] for m in task["metric_list"]] == metric_names()
    docs = datasets.load_dataset(task["dataset_path"], **task["dataset_kwargs"])[task["test_split"]]
    assert len(docs) == written["questions"] > 0 and len(set(docs["id"])) == len(docs)

    spec = importlib.util.spec_from_file_location("utils", tmp_path / "task" / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    doc = docs[0]
    assert utils.doc_to_visual(doc)[0].size == doc["image"].size
    assert utils.doc_to_text(doc, task["lmms_eval_specific_kwargs"]["default"]).startswith(doc["question"] + "\n")
    for prediction in (doc[task["doc_to_target"]], "12345678", "わかりません"):
        scores = utils.process_results(doc, [prediction])
        assert scores["relaxed_accuracy"] == float(relaxed_match(prediction, doc["answer"]))
        assert set(scores) == {"relaxed_accuracy", "containment", f"relaxed_{doc['qa_type']}"}
    assert utils.process_results(doc, [doc["answer"]])["containment"] == 1.0
