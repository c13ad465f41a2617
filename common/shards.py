"""Parquet shards: columns derived from schemas.ShardRow, images in the Hugging Face `Image` convention,
written atomically (temporary name, fsync, rename) and fingerprinted with sha256 for the manifest."""

from __future__ import annotations

import hashlib
import json
import os
import types
import typing
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from schemas import ShardRow

_SCALARS = {str: (pa.string(), "string"), bytes: (pa.binary(), "binary"), bool: (pa.bool_(), "bool"),
            int: (pa.int64(), "int64"), float: (pa.float64(), "float64")}


def _arrow_and_feature(annotation) -> tuple[pa.DataType, dict]:
    """Arrow type and Hugging Face feature description of one pydantic annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _arrow_and_feature(inner)
    if origin is typing.Literal:
        return pa.string(), {"dtype": "string", "_type": "Value"}
    if origin is list:
        arrow, feature = _arrow_and_feature(typing.get_args(annotation)[0])
        return pa.list_(arrow), {"feature": feature, "_type": "List"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = [(f.alias or name, *_arrow_and_feature(f.annotation)) for name, f in annotation.model_fields.items()]
        return pa.struct([pa.field(n, a) for n, a, _ in fields]), {n: f for n, _, f in fields}
    arrow, dtype = _SCALARS[annotation]
    return arrow, {"dtype": dtype, "_type": "Value"}


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """Columns of `model`'s fields; its `image` field carries the Hugging Face `Image` feature."""
    fields, features = [], {}
    for name, field in model.model_fields.items():
        arrow, feature = _arrow_and_feature(field.annotation)
        fields.append(pa.field(name, arrow))
        features[name] = feature
    features["image"] = {"_type": "Image"}  # datasets decodes the {bytes, path} struct into a PIL image
    return pa.schema(fields, metadata={"huggingface": json.dumps({"info": {"features": features}})})


ROW_SCHEMA = arrow_schema(ShardRow)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_shard(path: Path, rows: list[BaseModel], schema: pa.Schema = ROW_SCHEMA) -> str:
    """Write rows (ShardRow unless another `schema` is given) to `path` atomically; return the file's sha256."""
    records = [row.model_dump(by_alias=True) for row in rows]
    table = pa.Table.from_pylist(records, schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=256)
    data = sink.getvalue().to_pybytes()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()
