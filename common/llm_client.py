"""Async client for any OpenAI-compatible server: bounded requests in flight spread over several base URLs,
timeouts, retries with exponential backoff and jitter, structured output per server, and an on-disk response
cache so a rerun never pays twice. The API key comes from the environment (OPENAI_API_KEY) and is never stored."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import random
import re
import socket
import sqlite3
import time
from pathlib import Path

from schemas.llm import LLMReply, LLMUsage

MODES = ("json_schema", "json_object", "text")
INSTALL_HINT = "the LLM generator needs the openai package: pip install 'chartsynth[llm]'"
POOL_SIZE = 32
OUTAGE_POLL_S = 15.0  # while paused for a server that is down, ask again this often
log = logging.getLogger("chartsynth.llm")
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LLMUnavailable(RuntimeError):
    """The servers kept failing past the retry budget; the run stops with finished shards kept."""


class LLMRequestRejected(RuntimeError):
    """The server refused this one request (a 4xx other than 429: e.g. context_length_exceeded). Retrying cannot
    help and the run need not stop: the sample is rejected with the server's message."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


def retry_after(error) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms headers), if it said."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:  # an HTTP date: wait the backoff instead
        return None
    return None


class ResponseCache:
    """Every reply of a run in one SQLite file (`root`/replies.sqlite, WAL: readers never blocked, a crash loses at
    most the reply being written), not one file per reply. Beside the replies, a ledger of the tokens every fresh
    reply cost — probes, repaired steps and runs that stopped early included."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "replies.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS spent (name TEXT PRIMARY KEY, requests INTEGER NOT NULL, "
                         "prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL)")

    def get(self, key: str) -> LLMReply | None:
        found = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return None if found is None else LLMReply.model_validate_json(found[0]).model_copy(update={"cached": True})

    def put(self, key: str, reply: LLMReply) -> None:
        self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?)", (key, reply.model_dump_json(exclude={"cached"})))

    def spend(self, name: str, reply: LLMReply) -> None:
        """Count a fresh reply's tokens under `name` (a chain step, "probe", "answer")."""
        self._db.execute("INSERT INTO spent VALUES (?, 1, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                         "requests = requests + 1, prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
                         "completion_tokens = completion_tokens + excluded.completion_tokens",
                         (name, reply.prompt_tokens, reply.completion_tokens))

    def spent(self) -> LLMUsage:
        """Every token the runs using this cache were charged for, by name."""
        usage = LLMUsage()
        for name, requests, prompt, completion in self._db.execute("SELECT * FROM spent ORDER BY name"):
            usage.by_step[name] = {"requests": requests, "cached": 0, "prompt_tokens": prompt,
                                   "completion_tokens": completion}
            usage.requests += requests
            usage.prompt_tokens += prompt
            usage.completion_tokens += completion
        return usage

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        self._db.close()


KEY_DROPS = ("description", "title", "examples", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
             "exclusiveMaximum", "pattern")


def schema_walk(node, drops: tuple[str, ...], strict: bool = False, *, keyed: bool = False):
    """`node` without the keywords in `drops`. `strict`: also in the subset OpenAI's `strict: true` accepts — every
    object closed with all its properties required (optional ones are already nullable), `anyOf` for `oneOf`.
    `keyed`: `node` maps names to schemas (properties, $defs), whose keys are names, not keywords."""
    if isinstance(node, list):
        return [schema_walk(item, drops, strict) for item in node]
    if not isinstance(node, dict):
        return node
    if keyed:
        return {name: schema_walk(value, drops, strict) for name, value in node.items()}
    out = {("anyOf" if strict and key == "oneOf" else key): schema_walk(value, drops, strict,
                                                                         keyed=key in ("properties", "$defs"))
           for key, value in node.items() if key not in drops}
    if strict and "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    return out


def strict_schema(schema: dict) -> dict:
    """The schema as sent with `strict: true`: no defaults, string lengths left to our own validation."""
    return schema_walk(schema, ("default", "discriminator", "minLength", "maxLength"), strict=True)


def response_format(mode: str, name: str, schema: dict) -> dict | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": strict_schema(schema)}}
    if mode == "json_object":  # llama.cpp's server: grammar-constrained by the schema given here
        return {"type": "json_object", "schema": schema}
    return None


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> str:
    """The JSON object in a reply: inside a code fence if there is one, else from the first { to its match."""
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    start = text.find("{")
    if start < 0:
        return text.strip()
    depth, in_string, escaped = 0, False, False
    for i, ch in enumerate(text[start:], start):
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]  # truncated: let the JSON parser say so


class LLMClient:
    def __init__(self, base_urls: list[str], model: str, mode: str, cache: ResponseCache | None, *,
                 max_in_flight: int = 16, timeout_s: float = 120.0, max_retries: int = 5, backoff_s: float = 0.5,
                 outage_s: float = 0.0):
        try:
            from openai import AsyncOpenAI, DefaultAsyncHttpxClient
        except ImportError as error:
            raise RuntimeError(INSTALL_HINT) from error
        try:  # openai 3 ships on httpx2, earlier releases on httpx
            from httpx2 import AsyncHTTPTransport, Limits
        except ImportError:
            from httpx import AsyncHTTPTransport, Limits
        key = os.environ.get("OPENAI_API_KEY") or "not-needed"
        # httpx's pool costs O(requests waiting × connections) per request: many small pools instead of one big one.
        # Each slot in the queue is the right to one request on one pool; slots alternate over the base URLs.
        per_url = max(1, math.ceil(max_in_flight / len(base_urls) / POOL_SIZE))
        limits = Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
        # TCP_NODELAY: headers and body go out in two writes; with Nagle the body waits for a delayed ACK (~40 ms)
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        self._clients = [AsyncOpenAI(base_url=url, api_key=key, max_retries=0, timeout=timeout_s,
                                     http_client=DefaultAsyncHttpxClient(
                                         transport=AsyncHTTPTransport(limits=limits, socket_options=nodelay)))
                         for _ in range(per_url) for url in base_urls]
        self._slots: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(max_in_flight):
            self._slots.put_nowait(slot % len(self._clients))
        self.model, self.mode, self.cache = model, mode, cache
        self.max_retries, self.backoff_s = max_retries, backoff_s
        self.outage_s, self._paused = outage_s, False  # how long to wait out a server that stays down

    def key(self, messages: list[dict], params: dict) -> str:
        """The request's identity: model, mode, messages, sampling and the schema's shape — not its descriptions or
        value limits, which only our validation reads, so tightening a validator re-checks cached replies instead
        of paying for them again."""
        shape = schema_walk(params["schema"], KEY_DROPS) if params.get("schema") else None
        blob = json.dumps({"model": self.model, "mode": self.mode, "messages": messages, **params, "schema": shape},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def chat(self, messages: list[dict], *, name: str, schema: dict | None, temperature: float, max_tokens: int,
                   seed: int) -> LLMReply:
        """One reply: JSON for `schema` in this client's structured-output mode, or free text when schema is None."""
        params = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "schema": schema, "name": name}
        key = self.key(messages, params)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit
        fmt = response_format(self.mode, name, schema) if schema is not None else None
        # sent as extra_body: the SDK would otherwise walk the whole JSON Schema through its type transforms on
        # every request (most of its CPU cost at hundreds of requests in flight), and llama.cpp's "schema" key is
        # not in its types anyway
        extra = {"extra_body": {"response_format": fmt}} if fmt else {}
        response = await self._with_retries(lambda client: client.chat.completions.create(
            model=self.model, messages=messages, temperature=temperature, max_tokens=max_tokens, seed=seed, **extra))
        text = response.choices[0].message.content or ""
        if self.mode == "text" and schema is not None:
            text = extract_json(text)
        usage = response.usage
        reply = LLMReply(text=text, prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                         completion_tokens=getattr(usage, "completion_tokens", 0) or 0)
        if self.cache is not None:
            self.cache.spend(name, reply)
            self.cache.put(key, reply)
        return reply

    async def _with_retries(self, call):
        import openai

        attempt, down_since = 0, None
        while True:
            slot = await self._slots.get()  # a retry takes a fresh slot, usually on another pool or replica
            try:
                reply = await call(self._clients[slot])
                if down_since is not None and self._paused:
                    self._paused = False
                    log.warning("LLM server answers again after %.0f s; the run goes on", time.monotonic() - down_since)
                return reply
            except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                    openai.InternalServerError) as error:
                last = error
            except openai.APIStatusError as error:
                if error.status_code not in RETRY_STATUS:
                    body = error.body if isinstance(error.body, dict) else {}
                    detail = body.get("error", body)
                    message = detail.get("message") if isinstance(detail, dict) else None
                    raise LLMRequestRejected(error.status_code, str(message or error.message)[:500]) from error
                last = error
            finally:
                self._slots.put_nowait(slot)
            if attempt < self.max_retries:  # the server's Retry-After, else full jitter (spreads retries apart)
                asked = retry_after(last)
                await asyncio.sleep(asked if asked is not None else random.uniform(0, self.backoff_s * 2**attempt))
                attempt += 1
                continue
            # retries spent: the server looks down — pause (asking again every `OUTAGE_POLL_S`) until it is back or
            # `outage_s` has passed; then stop, finished shards kept
            down_since = down_since or time.monotonic()
            waited = time.monotonic() - down_since
            if waited >= self.outage_s:
                raise LLMUnavailable(f"{type(last).__name__} after {self.max_retries + 1} attempts"
                                     f"{f' and {waited:.0f} s paused' if self.outage_s else ''}: {last}")
            if not self._paused:
                self._paused = True
                log.warning("LLM server not answering (%s: %s); pausing, asking again every %.0f s for up to %.0f s",
                            type(last).__name__, str(last)[:200], OUTAGE_POLL_S, self.outage_s)
            await asyncio.sleep(min(OUTAGE_POLL_S, self.outage_s - waited))

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


async def probe_modes(base_url: str, model: str, timeout_s: float = 60.0, ledger: ResponseCache | None = None
                      ) -> dict[str, str]:
    """Which structured-output modes a server accepts and honours: "ok", or why not. Never answered from a cache
    (the server is what is asked about); what the probes cost is counted in `ledger` as "probe"."""
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    messages = [{"role": "user", "content": 'What is 2 + 3? Reply as JSON: {"answer": <integer>}'}]
    results = {}
    for mode in MODES:
        client = LLMClient([base_url], model, mode, cache=None, timeout_s=timeout_s, max_retries=0)
        try:
            reply = await client.chat(messages, name="probe", schema=schema, temperature=0, max_tokens=32, seed=0)
            if ledger is not None:
                ledger.spend("probe", reply)
            value = json.loads(reply.text)
            results[mode] = "ok" if isinstance(value, dict) and "answer" in value else f"ignored: {reply.text[:60]!r}"
        except Exception as error:  # a probe reports every failure as a result
            results[mode] = f"{type(error).__name__}: {str(error)[:120]}"
        finally:
            await client.close()
    return results
