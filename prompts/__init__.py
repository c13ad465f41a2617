"""Prompt and phrasing files: plain JSON a person can read and edit, versioned; loaded once per process."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files


@lru_cache(maxsize=None)
def load(name: str) -> dict:
    """Load `prompts/<name>.json`; its "version" field goes into every sample's provenance."""
    return json.loads(files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def seeds():
    """prompts/seeds.json as a validated `schemas.Seeds`; a bad edit fails here naming the field."""
    from pydantic import ValidationError

    from schemas.seeds import Seeds

    try:
        return Seeds.model_validate(load("seeds"))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ValueError(f"prompts/seeds.json: {where} = {first.get('input')!r}: {first['msg']}") from error


@lru_cache(maxsize=None)
def _llm_file(name: str) -> str:
    return files(__package__).joinpath("llm", name).read_text(encoding="utf-8")


def llm_version() -> str:
    return _llm_file("VERSION").strip()


def llm_prompt(step: str, lang: str, **values: object) -> str:
    """Fill `prompts/llm/<step>.<lang>.md` ($name placeholders, so JSON examples need no escaping)."""
    from string import Template

    return Template(_llm_file(f"{step}.{lang}.md")).substitute({k: str(v) for k, v in values.items()}).strip()


@lru_cache(maxsize=None)
def llm_shots(step: str, lang: str) -> tuple[tuple[str, str], ...]:
    """The worked examples of a step (prompts/llm/shots.json): each its filled prompt and the answer shown for it
    (as JSON text). Made once per process, not per request."""
    shots = json.loads(_llm_file("shots.json"))[lang].get(step, [])
    return tuple((llm_prompt(step, lang, **shot["ask"]), json.dumps(shot["reply"], ensure_ascii=False))
                 for shot in shots)


def chart_rule(chart_type: str, lang: str) -> str:
    return json.loads(_llm_file("chart_rules.json"))[lang].get(chart_type, "")
