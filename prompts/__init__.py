"""Prompt and phrasing files: plain JSON a person can read and edit, versioned; loaded once per process."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files


@lru_cache(maxsize=None)
def load(name: str) -> dict:
    """Load `prompts/<name>.json`; its "version" field goes into every sample's provenance."""
    return json.loads(files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
