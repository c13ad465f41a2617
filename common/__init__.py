"""Plumbing the data pipeline and model/ both use, so neither reaches into the other: atomic files and Parquet shards
(common.shards), the OpenAI-compatible client (common.llm_client)."""
