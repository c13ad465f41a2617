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
INSTALL_HINT = "the LLM client needs httpx2 (or httpx): pip install 'chartsynth[llm]'"
POOL_SIZE = 32
OUTAGE_POLL_S = 15.0  # while paused for a server that is down, ask again this often
log = logging.getLogger("chartsynth.llm")
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LLMUnavailable(RuntimeError):
    """The servers kept failing past the retry budget; the run stops with finished shards kept. `unreachable`: no
    server answered at all (refused, timed out), as opposed to answering 429/5xx."""

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


class ServerBusy(Exception):
    """A 429 or 5xx answer: retried."""

    def __init__(self, response):
        super().__init__(f"HTTP {response.status_code}: {_server_message(response)}")
        self.response = response


def _server_message(response) -> str:
    """The error message a server put in its JSON body ({"error": {"message": …}}), else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    detail = body.get("error", body) if isinstance(body, dict) else body
    message = detail.get("message") if isinstance(detail, dict) else detail
    return str(message)[:500]


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
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: no fsync per reply; a power cut may lose the last few
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


class SchemaForms:
    """A request schema's derived forms (strict, as sent; its shape, for the cache key), made once per schema object:
    walking a QA schema for every request cost more client CPU than the HTTP call."""

    def __init__(self, size: int = 512):
        self._forms: dict[int, tuple[dict, dict, dict]] = {}
        self.size = size

    def __call__(self, schema: dict) -> tuple[dict, dict]:
        found = self._forms.get(id(schema))
        if found is None or found[0] is not schema:
            if len(self._forms) >= self.size:
                self._forms.pop(next(iter(self._forms)))
            found = self._forms[id(schema)] = (schema, strict_schema(schema), schema_walk(schema, KEY_DROPS))
        return found[1], found[2]


def response_format(mode: str, name: str, schema: dict, strict: dict | None = None) -> dict | None:
    """The request's response_format in `mode`; `strict`: the schema's strict form, if already made."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "strict": True,
                                                       "schema": strict or strict_schema(schema)}}
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


def _httpx():
    """httpx2 (its pool hands out connections in O(1); httpx 0.28's is quadratic in waiting requests: most of the
    client's CPU at 256 in flight), else httpx."""
    try:
        import httpx2 as httpx
    except ImportError:
        try:
            import httpx
        except ImportError as error:
            raise RuntimeError(INSTALL_HINT) from error
    return httpx


class LLMClient:
    def __init__(self, base_urls: list[str], model: str, mode: str, cache: ResponseCache | None, *,
                 max_in_flight: int = 16, timeout_s: float = 120.0, max_retries: int = 5, backoff_s: float = 0.5,
                 outage_s: float = 0.0):
        httpx = _httpx()
        key = os.environ.get("OPENAI_API_KEY") or "not-needed"
        # httpx's pool costs O(requests waiting × connections) per request: many small pools instead of one big one.
        # Each slot in the queue is the right to one request on one pool; slots alternate over the base URLs.
        per_url = max(1, math.ceil(max_in_flight / len(base_urls) / POOL_SIZE))
        limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
        # TCP_NODELAY: headers and body go out in two writes; with Nagle the body waits for a delayed ACK (~40 ms)
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        # plain HTTP, not the openai SDK: its request and response transforms cost more client CPU than the call
        self._clients = [httpx.AsyncClient(base_url=url.rstrip("/") + "/", timeout=timeout_s,
                                           headers={"Authorization": f"Bearer {key}"},
                                           transport=httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay))
                         for _ in range(per_url) for url in base_urls]
        self._slots: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(max_in_flight):
            self._slots.put_nowait(slot % len(self._clients))
        self.model, self.mode, self.cache = model, mode, cache
        self.identity = model  # what the cache key says about the model: the server's description once identified
        self.max_retries, self.backoff_s = max_retries, backoff_s
        self.outage_s, self._paused = outage_s, False  # how long to wait out a server that stays down
        self._forms = SchemaForms()

    async def identify(self) -> None:
        """Key replies by the server's own description of the model (GET /models: its id and, where given, creation
        time, owner, llama.cpp's size and parameter count), so replies of another model served under the same name
        are not reused. Where the server gives none, the name asked for is the identity."""
        try:
            response = await self._clients[0].get("models")
            entries = response.json().get("data") or [] if response.status_code == 200 else []
        except (ValueError, AttributeError, _httpx().HTTPError):
            return
        mine = [e for e in entries if isinstance(e, dict) and e.get("id") == self.model] or (
            entries if len(entries) == 1 and isinstance(entries[0], dict) else [])
        if mine:
            entry = mine[0]
            self.identity = json.dumps({k: entry[k] for k in ("id", "created", "owned_by", "meta") if k in entry},
                                       sort_keys=True, ensure_ascii=False)

    def key(self, messages: list[dict], params: dict) -> str:
        """The request's identity: model, mode, messages, sampling and the schema's shape — not its descriptions or
        value limits, which only our validation reads, so tightening a validator re-checks cached replies instead
        of paying for them again."""
        shape = self._forms(params["schema"])[1] if params.get("schema") else None
        blob = json.dumps({"model": self.identity, "mode": self.mode, "messages": messages, **params, "schema": shape},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def chat(self, messages: list[dict], *, name: str, schema: dict | None, temperature: float, max_tokens: int,
                   seed: int) -> LLMReply:
        """One reply: JSON for `schema` in this client's structured-output mode, or free text when schema is None."""
        params = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "schema": schema, "name": name}
        key = self.key(messages, params)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit
        fmt = response_format(self.mode, name, schema, self._forms(schema)[0]) if schema is not None else None
        body = {"model": self.model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens,
                "seed": seed, **({"response_format": fmt} if fmt else {})}
        payload = json.dumps(body, ensure_ascii=False).encode()
        data = await self._with_retries(lambda client: client.post(
            "chat/completions", content=payload, headers={"Content-Type": "application/json"}))
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as error:
            raise LLMRequestRejected(200, f"not a chat completion: {str(data)[:300]}") from error
        if self.mode == "text" and schema is not None:
            text = extract_json(text)
        usage = data.get("usage") or {}
        reply = LLMReply(text=text, prompt_tokens=usage.get("prompt_tokens") or 0,
                         completion_tokens=usage.get("completion_tokens") or 0)
        if self.cache is not None:
            self.cache.spend(name, reply)
            self.cache.put(key, reply)
        return reply

    async def _with_retries(self, call) -> dict:
        """The JSON body of a 200 answer to `call(client)`: retried on timeouts, connection errors, 429 and 5xx (the
        server's Retry-After, else backoff with jitter), then paused while the server stays down."""
        httpx = _httpx()

        attempt, down_since = 0, None
        while True:
            slot = await self._slots.get()  # a retry takes a fresh slot, usually on another pool or replica
            try:
                response = await call(self._clients[slot])
                if response.status_code == 200:
                    if down_since is not None and self._paused:
                        self._paused = False
                        log.warning("LLM server answers again after %.0f s; the run goes on",
                                    time.monotonic() - down_since)
                    return response.json()
                if response.status_code not in RETRY_STATUS:
                    raise LLMRequestRejected(response.status_code, _server_message(response))
                last: Exception = ServerBusy(response)
            except httpx.TransportError as error:  # timeouts, refused or dropped connections
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
                                     f"{f' and {waited:.0f} s paused' if self.outage_s else ''}: {last}",
                                     unreachable=not isinstance(last, ServerBusy))
            if not self._paused:
                self._paused = True
                log.warning("LLM server not answering (%s: %s); pausing, asking again every %.0f s for up to %.0f s",
                            type(last).__name__, str(last)[:200], OUTAGE_POLL_S, self.outage_s)
            await asyncio.sleep(min(OUTAGE_POLL_S, self.outage_s - waited))

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


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
            kind = "unreachable" if getattr(error, "unreachable", False) else type(error).__name__
            results[mode] = f"{kind}: {str(error)[:120]}"
        finally:
            await client.close()
    return results
