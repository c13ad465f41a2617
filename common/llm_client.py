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
import sqlite3
import time
from pathlib import Path

from common.http import HTTPClient, TransportError
from schemas.llm import LLMReply, LLMUsage

MODES = ("json_schema", "json_object", "text")
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
        self._db.execute("CREATE TABLE IF NOT EXISTS batched (key TEXT PRIMARY KEY, batch TEXT NOT NULL)")

    def get(self, key: str) -> LLMReply | None:
        found = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return None if found is None else LLMReply.model_validate_json(found[0]).model_copy(update={"cached": True})

    def keep(self, key: str, name: str, reply: LLMReply) -> None:
        """A fresh reply and what it cost, in one transaction (one WAL commit)."""
        self._db.execute("BEGIN")
        try:
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?)",
                             (key, reply.model_dump_json(exclude={"cached"})))
            self.spend(name, reply)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def batched(self) -> dict[str, str]:
        """Request key → the Batch API batch still answering it (sent by this run or one that stopped)."""
        return dict(self._db.execute("SELECT key, batch FROM batched"))

    def batch_sent(self, batch: str, keys: list[str]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO batched VALUES (?, ?)", [(key, batch) for key in keys])

    def batch_done(self, batch: str) -> None:
        self._db.execute("DELETE FROM batched WHERE batch = ?", (batch,))

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
             "exclusiveMaximum")  # not "pattern": grammar-constrained decoders (llama.cpp, OpenAI strict) write to it


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
    """A request schema's derived forms, made once per schema object — walking and serialising a QA schema for every
    request cost more client CPU than the HTTP call: its shape as JSON (for the cache key) and, per mode and name,
    its response_format as JSON (as sent)."""

    def __init__(self, size: int = 512):
        self._forms: dict[int, tuple[dict, str, dict]] = {}
        self.size = size

    def _entry(self, schema: dict) -> tuple[dict, str, dict]:
        found = self._forms.get(id(schema))
        if found is None or found[0] is not schema:
            if len(self._forms) >= self.size:
                self._forms.pop(next(iter(self._forms)))
            shape = json.dumps(schema_walk(schema, KEY_DROPS), sort_keys=True, ensure_ascii=False)
            found = self._forms[id(schema)] = (schema, shape, {})
        return found

    def shape_json(self, schema: dict) -> str:
        return self._entry(schema)[1]

    def format_json(self, mode: str, name: str, schema: dict) -> str | None:
        formats = self._entry(schema)[2]
        if (mode, name) not in formats:
            fmt = response_format(mode, name, schema)
            formats[mode, name] = None if fmt is None else json.dumps(fmt, ensure_ascii=False)
        return formats[mode, name]


def response_format(mode: str, name: str, schema: dict) -> dict | None:
    """The request's response_format in `mode`."""
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


class PerMinute:
    """A token bucket for a provider's stated limit (requests or tokens per minute): refilled continuously, holding at
    most a minute's worth. Takers queue in order, so a big request is not starved by small ones."""

    def __init__(self, per_minute: int, clock=time.monotonic, sleep=asyncio.sleep):
        self.capacity, self.rate = float(per_minute), per_minute / 60.0
        self.level, self.clock, self.sleep = self.capacity, clock, sleep
        self.stamp = clock()
        self._turn = asyncio.Lock()

    async def take(self, amount: float) -> None:
        amount = min(amount, self.capacity)  # larger than a minute's budget: waits for a full bucket
        async with self._turn:
            while True:
                now = self.clock()
                self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.level >= amount:
                    self.level -= amount
                    return
                await self.sleep((amount - self.level) / self.rate)


class Throttle:
    """How many requests may be in flight, found from the server's answers: a 429 halves the limit (once per burst:
    the 429s of requests sent before the last cut do not cut again), each limit's worth of 200s in a row raises it by
    one, up to `max_in_flight` (additive increase, multiplicative decrease, as TCP does). Where the provider states
    its limits, requests and tokens per minute are also kept to (token buckets; tokens counted as OpenAI counts them
    at request time: the prompt's estimate plus max_tokens)."""

    def __init__(self, slots: int, clients: int, requests_per_minute: int | None = None,
                 tokens_per_minute: int | None = None):
        self.max_in_flight = self.limit = slots
        self._free: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(slots):
            self._free.put_nowait(slot % clients)
        self._held: list[int] = []  # slots taken out of circulation while the limit is below max_in_flight
        self._epoch, self._good = 0, 0
        self.cuts = 0
        self._requests = PerMinute(requests_per_minute) if requests_per_minute else None
        self._tokens = PerMinute(tokens_per_minute) if tokens_per_minute else None

    async def acquire(self, tokens: int) -> tuple[int, int]:
        """A slot (which client to send on) and the epoch the request starts in, once the limits allow it."""
        if self._requests:
            await self._requests.take(1)
        if self._tokens:
            await self._tokens.take(tokens)
        return await self._free.get(), self._epoch

    def release(self, slot: int) -> None:
        if self.max_in_flight - len(self._held) > self.limit:
            self._held.append(slot)
        else:
            self._free.put_nowait(slot)

    def answered(self, epoch: int, busy: bool) -> None:
        """Adapt the limit to one answer: `busy` is a 429, and `epoch` the one the request was sent in."""
        if busy:
            if epoch == self._epoch and self.limit > 1:
                self.limit, self._epoch, self._good, self.cuts = max(1, self.limit // 2), self._epoch + 1, 0, self.cuts + 1
                log.warning("LLM server says 429 (too many requests): at most %d in flight from now on", self.limit)
            return
        if self.limit < self.max_in_flight:
            self._good += 1
            if self._good >= self.limit:
                self.limit, self._good = self.limit + 1, 0
                if self._held:
                    self._free.put_nowait(self._held.pop())


class Batches:
    """The OpenAI Batch API as a transport (half the price; answers within the 24 h completion window). Requests are
    collected while the chain runs — every drafting sample is at some step, so a batch holds mostly one step across
    all of them (persona batch, topic batch, …) — and sent when `size` wait or none has joined for `linger_s`: the
    JSONL is uploaded (POST /files, purpose "batch"), the batch created (POST /batches), polled every `poll_s`, and
    its output file read; each request gets its own answer, or its own error. Which batch answers which request is
    kept in the cache database, so a run stopped while batches run polls them when resumed instead of paying again.
    A batch that fails or expires rejects its unanswered requests with the provider's reason (those samples land in
    rejects/, as any refused request does)."""

    ENDPOINT = "/v1/chat/completions"

    def __init__(self, client: LLMClient, cache: ResponseCache | None, size: int = 5000, linger_s: float = 2.0,
                 poll_s: float = 30.0):
        self.client, self.cache = client, cache
        self.size, self.linger_s, self.poll_s = size, linger_s, poll_s
        self._waiting: dict[str, tuple[dict, asyncio.Future]] = {}
        self._flush_at: asyncio.TimerHandle | None = None
        self._keys: dict[str, list[str]] = {}  # batch id → the requests it answers, while it is polled
        self._tasks: set[asyncio.Task] = set()
        self._answers: dict[str, asyncio.Future] = {}  # key → the answer of a batch already sent
        self.sent: list[str] = []  # batches this client created
        self._earlier = cache.batched() if cache is not None else {}  # sent by a run that stopped
        self._early: dict[str, dict] = {}  # answers of such batches that came before this run asked for them
        self._bodies: dict[str, dict] = {}  # what this run sent, by key: a line refused for now goes in the next batch
        self._tries: dict[str, int] = {}

    async def ask(self, key: str, body: dict) -> dict:
        """The chat completion for `body` (its JSON), through a batch."""
        loop = asyncio.get_running_loop()
        if key in self._early:
            return self._early.pop(key)
        earlier = self._earlier.pop(key, None)
        if earlier is not None:  # sent by a run that stopped: wait for that batch
            if key not in self._answers:
                self._answers[key] = loop.create_future()
            self._poll(earlier, [key])
            return await asyncio.shield(self._answers[key])
        future = loop.create_future()
        self._bodies[key] = body
        self._queue(key, body, future)
        return await asyncio.shield(future)

    def _queue(self, key: str, body: dict, future: asyncio.Future) -> None:
        loop = asyncio.get_running_loop()
        self._waiting[key] = (body, future)
        if len(self._waiting) >= self.size:
            self._flush()
        else:
            if self._flush_at is not None:
                self._flush_at.cancel()
            self._flush_at = loop.call_later(self.linger_s, self._flush)

    def _flush(self) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        waiting, self._waiting = self._waiting, {}
        if waiting:
            self._start(self._send(waiting))

    def _start(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, waiting: dict[str, tuple[dict, asyncio.Future]]) -> None:
        for key, (_, future) in waiting.items():
            self._answers[key] = future
        try:
            lines = [json.dumps({"custom_id": key, "method": "POST", "url": self.ENDPOINT, "body": body},
                                ensure_ascii=False) for key, (body, _) in waiting.items()]
            upload = await self.client.request("files", data={"purpose": "batch"},
                                               files={"file": ("chartsynth.jsonl", "\n".join(lines).encode(),
                                                               "application/jsonl")})
            batch = await self.client.request("batches", json={"input_file_id": upload["id"],
                                                              "endpoint": self.ENDPOINT, "completion_window": "24h"})
        except Exception as error:  # noqa: BLE001 - every waiter gets the reason
            for key in waiting:
                self._settle(key, error=error)
            return
        self.sent.append(batch["id"])
        if self.cache is not None:
            self.cache.batch_sent(batch["id"], list(waiting))
        log.info("sent batch %s: %d requests", batch["id"], len(waiting))
        self._poll(batch["id"], list(waiting))

    def _poll(self, batch: str, keys: list[str]) -> None:
        if batch not in self._keys:
            self._keys[batch] = []
            self._start(self._until_done(batch))
        self._keys[batch] += keys

    async def _until_done(self, batch: str) -> None:
        try:
            while True:
                state = await self.client.request(f"batches/{batch}", method="GET")
                if state.get("status") in ("completed", "failed", "expired", "cancelled"):
                    break
                await asyncio.sleep(self.poll_s)
            for file in ("output_file_id", "error_file_id"):
                if state.get(file):
                    text = await self.client.request(f"files/{state[file]}/content", method="GET", read="text")
                    for line in text.splitlines():
                        if line.strip():
                            self._answer(json.loads(line))
            why = state.get("errors") or {}
            reason = f"batch {batch} {state.get('status')}" + (f": {json.dumps(why)[:300]}" if why else "")
            for key in self._keys.pop(batch):
                self._settle(key, error=LLMRequestRejected(0, f"{reason}; no answer for this request"))
            if self.cache is not None:
                self.cache.batch_done(batch)
        except Exception as error:  # noqa: BLE001 - the waiters get the reason; the batch stays recorded to resume
            for key in self._keys.pop(batch, []):
                self._settle(key, error=error)

    def _answer(self, line: dict) -> None:
        key, response = line.get("custom_id"), line.get("response") or {}
        if key not in self._answers:
            if response.get("status_code") == 200 and self._earlier.pop(key, None) is not None:
                self._early[key] = response.get("body") or {}  # asked for later in this run
            return
        status = response.get("status_code")
        tries = self._tries[key] = self._tries.get(key, 0) + 1
        if status in RETRY_STATUS and key in self._bodies and tries <= self.client.max_retries:
            self._queue(key, self._bodies[key], self._answers.pop(key))  # e.g. a 429 in the batch: the next one
        elif status == 200:
            self._settle(key, result=response.get("body") or {})
        else:
            body = response.get("body") or {}
            message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
            message = message or json.dumps(line.get("error") or body)[:300]
            self._settle(key, error=LLMRequestRejected(response.get("status_code") or 0, message))

    def _settle(self, key: str, result: dict | None = None, error: Exception | None = None) -> None:
        future = self._answers.pop(key, None)
        if future is None or future.done():  # none: already settled, or queued again for the next batch
            return
        self._bodies.pop(key, None)
        self._tries.pop(key, None)
        if error is not None:
            future.set_exception(error)
            future.exception()  # retrieved: its waiter may be gone
        else:
            future.set_result(result)

    async def close(self) -> None:
        """Stop polling (batches keep running at the provider; a rerun picks them up)."""
        if self._flush_at is not None:
            self._flush_at.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class LLMClient:
    def __init__(self, base_urls: list[str], model: str, mode: str, cache: ResponseCache | None, *,
                 max_in_flight: int = 16, timeout_s: float = 120.0, max_retries: int = 5, backoff_s: float = 0.5,
                 outage_s: float = 0.0, requests_per_minute: int | None = None, tokens_per_minute: int | None = None,
                 batch_poll_s: float | None = None):
        """`batch_poll_s`: send chat requests through the Batch API, polling batches this often (None: directly)."""
        key = os.environ.get("OPENAI_API_KEY") or "not-needed"
        # plain HTTP/1.1 (common.http), not the openai SDK or httpx: their request and response layers cost more
        # client CPU than the call. Each slot in the throttle's queue is the right to one request on one base URL.
        per_url = max(1, math.ceil(max_in_flight / len(base_urls)))
        self._clients = [HTTPClient(url, headers={"Authorization": f"Bearer {key}"}, timeout_s=timeout_s,
                                    max_connections=per_url) for url in base_urls]
        self.throttle = Throttle(max_in_flight, len(self._clients), requests_per_minute, tokens_per_minute)
        self.model, self.mode, self.cache = model, mode, cache
        self.identity = model  # what the cache key says about the model: the server's description once identified
        self.max_retries, self.backoff_s = max_retries, backoff_s
        self.outage_s, self._paused = outage_s, False  # how long to wait out a server that stays down
        self._forms = SchemaForms()
        self._asking: dict[str, asyncio.Future] = {}  # requests in flight by key, for identical ones to wait on
        self._batches = (None if batch_poll_s is None else  # a batch goes out when no request joined for a while
                         Batches(self, cache, linger_s=min(2.0, batch_poll_s), poll_s=batch_poll_s))

    async def identify(self) -> None:
        """Key replies by the server's own description of the model (GET /models: its id and, where given, creation
        time, owner, llama.cpp's size and parameter count), so replies of another model served under the same name
        are not reused. Where the server gives none, the name asked for is the identity."""
        try:
            response = await self._clients[0].request("GET", "models")
            entries = response.json().get("data") or [] if response.status_code == 200 else []
        except (ValueError, AttributeError, TransportError):
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
        shape = self._forms.shape_json(params["schema"]) if params.get("schema") else "null"
        blob = json.dumps({"model": self.identity, "mode": self.mode, "messages": messages, **params, "schema": None},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(f"{blob}\n{shape}".encode()).hexdigest()

    async def chat(self, messages: list[dict], *, name: str, schema: dict | None, temperature: float, max_tokens: int,
                   seed: int) -> LLMReply:
        """One reply: JSON for `schema` in this client's structured-output mode, or free text when schema is None."""
        params = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "schema": schema, "name": name}
        key = self.key(messages, params)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit
        if key in self._asking:  # the same request is in flight (fan-out: samples sharing a persona): one answer
            return (await asyncio.shield(self._asking[key])).model_copy(update={"cached": True})
        self._asking[key] = asyncio.get_running_loop().create_future()
        try:
            reply = await self._ask(messages, key, name, schema, temperature, max_tokens, seed)
        except BaseException as error:
            waiting = self._asking.pop(key)
            if isinstance(error, asyncio.CancelledError):
                waiting.cancel()
            else:
                waiting.set_exception(error)
                waiting.exception()  # retrieved: nobody may be waiting
            raise
        self._asking.pop(key).set_result(reply)
        return reply

    async def _ask(self, messages: list[dict], key: str, name: str, schema: dict | None, temperature: float,
                   max_tokens: int, seed: int) -> LLMReply:
        fmt = self._forms.format_json(self.mode, name, schema) if schema is not None else None
        body = {"model": self.model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens,
                "seed": seed}
        if self._batches is not None:
            data = await self._batches.ask(key, body | ({"response_format": json.loads(fmt)} if fmt else {}))
        else:
            sent = json.dumps(body, ensure_ascii=False)  # the schema's part was serialised once, with the schema
            payload = (f'{sent[:-1]}, "response_format": {fmt}}}' if fmt else sent).encode()
            data = await self._with_retries(lambda client: client.request(
                "POST", "chat/completions", content=payload, headers={"Content-Type": "application/json"}),
                tokens=len(payload) // 4 + max_tokens)
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
            self.cache.keep(key, name, reply)
        return reply

    async def request(self, path: str, method: str = "POST", read: str = "json", **send) -> dict | str:
        """Another endpoint of the API (files, batches), with the same retries: its JSON, or its text."""
        return await self._with_retries(lambda client: client.request(method, path, **send), read=read)

    async def _with_retries(self, call, tokens: int = 0, read: str = "json") -> dict | str:
        """The JSON body of a 200 answer to `call(client)`: retried on timeouts, connection errors, 429 and 5xx (the
        server's Retry-After, else backoff with jitter), then paused while the server stays down. Each answer
        adapts how many requests go out at once (Throttle)."""
        attempt, down_since = 0, None
        while True:
            # a retry takes a fresh slot, usually on another pool or replica
            slot, epoch = await self.throttle.acquire(tokens)
            try:
                response = await call(self._clients[slot])
                self.throttle.answered(epoch, busy=response.status_code == 429)
                if response.status_code == 200:
                    if down_since is not None and self._paused:
                        self._paused = False
                        log.warning("LLM server answers again after %.0f s; the run goes on",
                                    time.monotonic() - down_since)
                    return response.json() if read == "json" else response.text
                if response.status_code not in RETRY_STATUS:
                    raise LLMRequestRejected(response.status_code, _server_message(response))
                last: Exception = ServerBusy(response)
            except TransportError as error:  # timeouts, refused or dropped connections
                last = error
            finally:
                self.throttle.release(slot)
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
        if self._batches is not None:
            await self._batches.close()
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
