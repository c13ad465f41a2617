"""LMM training, evaluation and quantization over the shards (later issues)."""
