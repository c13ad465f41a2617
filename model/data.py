"""Shards → training batches. Streams rows a row group at a time, splits the work by DDP rank and dataloader worker
so no sample is seen twice in an epoch, keeps a held-out split by id hash, and builds chat inputs whose loss falls
only on answer tokens. Text-only samples (no image) go through the same collator."""

from __future__ import annotations

import hashlib
import io
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.parquet as pq
import torch
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

IGNORE_INDEX = -100
IMAGE = "<image>"
USER, ASSISTANT, EOS, PAD = "<|user|>", "<|assistant|>", "<|eos|>", "<|pad|>"
SPECIAL_TOKENS = [PAD, EOS, IMAGE, USER, ASSISTANT]


def is_heldout(sample_id: str, percent: int) -> bool:
    """A stable split: the same id is held out in every run, whatever the shard layout."""
    return int(hashlib.sha1(sample_id.encode()).hexdigest(), 16) % 100 < percent


@dataclass(frozen=True)
class Unit:
    """One row group of one shard (or every `stride`-th row of it from `offset`): what a (rank, worker) reads."""

    file: str
    row_group: int
    rows: int
    offset: int = 0
    stride: int = 1


def units(files: list[str]) -> list[Unit]:
    return [Unit(f, g, meta.row_group(g).num_rows) for f in sorted(files)
            for meta in [pq.ParquetFile(f).metadata] for g in range(meta.num_row_groups)]


class ShardStream(IterableDataset):
    """Rows of `files` for this rank and worker, in an order fixed by (seed, epoch)."""

    def __init__(self, files: list[str | Path], split: str = "train", heldout_percent: int = 5, seed: int = 0,
                 rank: int = 0, world_size: int = 1, columns=("id", "image", "conversations")):
        self.units = units([str(f) for f in files])
        self.split, self.heldout_percent, self.seed = split, heldout_percent, seed
        self.rank, self.world_size, self.columns = rank, world_size, list(columns)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def my_units(self) -> list[Unit]:
        """Whole row groups, dealt round-robin; with fewer row groups than (rank, worker) slots, every slot reads
        every row group and keeps its share of rows — a rank left without rows would hang its peers in DDP."""
        order = list(self.units)
        if self.split == "train":
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        slot, slots = self.rank * workers + worker, self.world_size * workers
        total = sum(unit.rows for unit in order)
        if total < slots:
            raise ValueError(f"{total} rows cannot feed {self.world_size} ranks × {workers} loader workers: every one "
                             "needs rows (use fewer ranks or num_workers, or more data)")
        if len(order) >= slots:
            return order[slot::slots]
        starts = itertools.accumulate((unit.rows for unit in order), initial=0)  # rows dealt as one sequence
        return [replace(unit, offset=(slot - start) % slots, stride=slots) for unit, start in zip(order, starts)]

    def __iter__(self) -> Iterator[dict]:
        want_heldout = self.split == "heldout"
        for unit in self.my_units():
            table = pq.ParquetFile(unit.file).read_row_group(unit.row_group, columns=self.columns)
            for row in table.to_pylist()[unit.offset::unit.stride]:
                if is_heldout(row["id"], self.heldout_percent) == want_heldout:
                    yield row


def decode_image(row: dict) -> Image.Image | None:
    image = row.get("image")
    return Image.open(io.BytesIO(image["bytes"])).convert("RGB") if image else None


class ChatCollator:
    """Rows → padded tensors. Each human turn is `<|user|>` + text, each answer `<|assistant|>` + text + `<|eos|>`;
    labels are IGNORE_INDEX everywhere but the answer tokens. `<image>` expands to as many placeholders as the
    model's `image_inputs` says that image takes (fixed for SigLIP, per image for the Qwen2-VL tower)."""

    def __init__(self, tokenizer, image_inputs, max_length: int = 1024):
        self.tokenizer, self.image_inputs, self.max_length = tokenizer, image_inputs, max_length
        self.ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}

    def encode(self, conversations: list[dict], image_tokens: int = 0, sample_id: str = "") -> tuple[list[int], list[int]]:
        input_ids, labels = [], []
        for turn in conversations:
            text = turn["value"]
            if turn["from"] == "human":
                pieces = [self.ids[USER]]
                for i, part in enumerate(text.split(IMAGE)):
                    if i:
                        if not image_tokens:
                            raise ValueError(f"sample {sample_id}: the conversation has {IMAGE} but the row has no image")
                        pieces += [self.ids[IMAGE]] * image_tokens
                    pieces += self.tokenizer.encode(part, add_special_tokens=False)
                input_ids += pieces
                labels += [IGNORE_INDEX] * len(pieces)
            else:
                prompt = [self.ids[ASSISTANT]]
                answer = self.tokenizer.encode(text, add_special_tokens=False) + [self.ids[EOS]]
                input_ids += prompt + answer
                labels += [IGNORE_INDEX] + answer
        kept = input_ids[: self.max_length]
        if kept.count(self.ids[IMAGE]) != input_ids.count(self.ids[IMAGE]):
            raise ValueError(f"sample {sample_id}: max_length={self.max_length} cuts through its "
                             f"{input_ids.count(self.ids[IMAGE])} image tokens; raise max_length or lower max_pixels")
        return kept, labels[: self.max_length]

    def __call__(self, rows: list[dict]) -> dict:
        images = [decode_image(row) for row in rows]
        present = [img for img in images if img is not None]
        vision, counts = self.image_inputs(present) if present else ({}, [])
        tokens = iter(counts)
        encoded = [self.encode(row["conversations"], next(tokens) if img is not None else 0, row["id"])
                   for row, img in zip(rows, images)]
        width = max(len(ids) for ids, _ in encoded)
        pad = self.ids[PAD]
        return {
            "input_ids": torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in encoded]),
            "labels": torch.tensor([lab + [IGNORE_INDEX] * (width - len(lab)) for _, lab in encoded]),
            "attention_mask": torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in encoded]),
            "ids": [row["id"] for row in rows],
        } | vision
