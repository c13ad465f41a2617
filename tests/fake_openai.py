"""A small OpenAI-compatible chat server of the tests' own, on 127.0.0.1, for fault injection and the client
benchmark. It is a fake on purpose: real servers cannot be told to fail on cue. (The real-server test uses llama.cpp.)

`script` is a list of actions taken by successive requests ("step:action" waits for a request of that step,
"step#seed:action" for that step's request with that seed — one sample's, when samples draft at once),
then `default` for the rest (or, with `reply` set, every answer is `reply(request body)` as free text); with
`capacity` set, a request beyond that many at once gets a 429 straight away. The Batch API's endpoints (files,
batches, output files) answer every line of a batch the same way, at once, unless `hold_batches` is set:
  "ok"          a valid answer for the step (the step is the json_schema name)
  "429"/"500"   that HTTP status          "hang"       never answer (client timeout)
  "400"         context_length_exceeded   "429-after-N" a 429 with Retry-After: N
  "newline"     a raw line break inside a JSON string (strict JSON forbids it)
  "truncated"   JSON cut in half          "wrong_shape" JSON of another shape
  "wrong_answer" QA answers that disagree with the table; "absurd" data with NaN-like / absurd values
  "same_topic"  every topic the same text  "glyph"      a title and labels with a character no font draws
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FakeServer:
    script: list[str] = field(default_factory=list)
    default: str = "ok"
    delay_s: float = 0.0
    requests: int = 0
    port: int = 0
    bodies: list[dict] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # when each request arrived (time.monotonic)
    reply: Callable[[dict], str] | None = None
    created: int = 1700000000  # GET /models says when the model served as "fake" was made
    capacity: int | None = None  # requests served at once; more get a 429 at once, as a rate-limited provider does
    busy: int = 0
    refused: int = 0
    files: dict[str, bytes] = field(default_factory=dict)  # the Batch API: uploaded and output files
    batches: dict[str, dict] = field(default_factory=dict)
    batch_bodies: list[list[dict]] = field(default_factory=list)  # each batch's requests, in the order created
    hold_batches: bool = False  # batches stay "in_progress" while set (a provider still working)

    def start(self) -> FakeServer:
        ready = threading.Event()

        def run():
            self.loop = asyncio.new_event_loop()
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        async def shutdown():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        self.thread.join(10)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"GET /v1/models"):
                    writer.write(_http(200, {"object": "list", "data": [
                        {"id": "fake", "object": "model", "created": self.created, "owned_by": "tests"}]}))
                    await writer.drain()
                    continue
                method, path = head.split(b" ", 2)[:2]
                if method == b"GET":  # the Batch API's batch status and output files
                    writer.write(self._batch_get(path.decode()))
                    await writer.drain()
                    continue
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
                raw = await reader.readexactly(length)
                if path in (b"/v1/files", b"/v1/batches"):
                    writer.write(self._batch_post(path.decode(), head, raw))
                    await writer.drain()
                    continue
                body = json.loads(raw)
                full = self.capacity is not None and self.busy >= self.capacity
                action = "429" if full else self._next_action(body)
                self.requests += 1
                self.refused += full
                self.bodies.append(body)
                self.times.append(time.monotonic())
                self.busy += not full
                if self.delay_s and not full:
                    await asyncio.sleep(self.delay_s)
                self.busy -= not full
                if action == "hang":
                    await asyncio.sleep(3600)
                wait = action.removeprefix("429-after-") if action.startswith("429-after-") else None
                status, payload = self._answer("429" if wait else action, body)
                data = json.dumps(payload, ensure_ascii=False).encode()
                extra = b"Retry-After: %s\r\n" % wait.encode() if wait else b""
                writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
                             % (status, extra, len(data)) + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    def _batch_post(self, path: str, head: bytes, raw: bytes) -> bytes:
        """POST /files (multipart, purpose "batch") or /batches: answers are made at once, shown when not held."""
        if path == "/v1/files":
            boundary = re.search(rb"boundary=([^\r\n;]+)", head).group(1)
            part = next(p for p in raw.split(b"--" + boundary) if b'name="file"' in p)
            file_id = f"file-{len(self.files)}"
            self.files[file_id] = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
            return _http(200, {"id": file_id, "object": "file", "purpose": "batch"})
        asked = json.loads(raw)
        lines = [json.loads(line) for line in self.files[asked["input_file_id"]].decode().splitlines() if line]
        self.batch_bodies.append([line["body"] for line in lines])
        out = []
        for line in lines:
            body = line["body"]
            action = self._next_action(body)
            self.requests += 1
            self.bodies.append(body)
            self.times.append(time.monotonic())
            status, payload = self._answer("429" if action.startswith("429") else action, body)
            out.append({"id": f"req-{len(out)}", "custom_id": line["custom_id"],
                        "response": {"status_code": status, "body": payload}, "error": None})
        batch_id = f"batch-{len(self.batches)}"
        output = f"file-{len(self.files)}"
        self.files[output] = "\n".join(json.dumps(o, ensure_ascii=False) for o in out).encode()
        self.batches[batch_id] = {"id": batch_id, "object": "batch", "endpoint": asked["endpoint"],
                                  "input_file_id": asked["input_file_id"], "output_file_id": output,
                                  "completion_window": asked["completion_window"]}
        return _http(200, self._batch_state(batch_id))

    def _batch_state(self, batch_id: str) -> dict:
        state = dict(self.batches[batch_id], status="in_progress" if self.hold_batches else "completed")
        if self.hold_batches:
            state["output_file_id"] = None
        return state

    def _batch_get(self, path: str) -> bytes:
        if path.startswith("/v1/batches/"):
            return _http(200, self._batch_state(path.removeprefix("/v1/batches/")))
        content = self.files[path.removeprefix("/v1/files/").removesuffix("/content")]
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/jsonl\r\nContent-Length: %d\r\n\r\n" % len(content) + content

    def _next_action(self, body: dict) -> str:
        step = _step(body)
        for i, item in enumerate(self.script):
            wanted, _, action = item.rpartition(":")
            name, _, seed = wanted.partition("#")  # "data#123:glyph": only the data request sent with seed 123
            if name in ("", step) and (not seed or int(seed) == body.get("seed")):
                return self.script.pop(i).rpartition(":")[2]
        return self.default

    def _answer(self, action: str, body: dict) -> tuple[int, dict]:
        if action in ("429", "500"):
            return int(action), {"error": {"message": f"injected {action}"}}
        if action == "400":
            return 400, {"error": {"message": "This model's maximum context length is 8 tokens",
                                   "code": "context_length_exceeded"}}
        step = _step(body)
        prompt = step_prompt(body)
        if self.reply:
            content, prompt = self.reply(body), json.dumps(prompt)
        else:
            content = json.dumps(step_answer(step, prompt, body.get("seed", 0), action, _asked(body)),
                                 ensure_ascii=False)
        if action == "truncated":
            content = content[: len(content) // 2]
        if action == "newline":  # what llama.cpp's JSON grammar lets through: a raw line break inside a string
            content = content.replace('", "', '\n", "', 1)
        return 200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(content),
                               "total_tokens": len(prompt) + len(content)}}


def _http(status: int, payload: dict) -> bytes:
    data = json.dumps(payload, ensure_ascii=False).encode()
    return b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (status, len(data)) + data


REPAIRS = ("The JSON you returned", "返したJSON")


def step_prompt(body: dict) -> str:
    """The step's own request: the last user turn that is not a repair (worked examples come before it)."""
    texts = [m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])  # multimodal: parts
             for m in body["messages"] if m["role"] == "user"]
    return ([t for t in texts if not t.startswith(REPAIRS)] or texts or [""])[-1]


def _step(body: dict) -> str:
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "probe")


def _table(prompt: str) -> tuple[list[str], list[str], list[list[float]]]:
    lines = [line for line in prompt.splitlines() if " | " in line]
    columns = [c.strip() for c in lines[0].split("|")[1:]]
    rows = [[c.strip() for c in line.split("|")] for line in lines[1:]]
    return [r[0] for r in rows], columns, [[float(v) for v in r[1:]] for r in rows]


def _asked(body: dict) -> str:
    """The request's schema as text (the prompt no longer spells the shape out where the schema is enforced)."""
    return json.dumps(body.get("response_format") or {})


def _integer_series(schema: str) -> set[str]:
    """The series the data step's schema types as integers (their $ref is IntSeries); none without a schema."""
    def values(node):
        if isinstance(node, dict):
            if "Values" in node.get("$defs", {}):
                return node["$defs"]["Values"]["properties"]
            return next((found for child in node.values() if (found := values(child))), None)
        return None

    found = values(json.loads(schema)) if schema else None
    return {name for name, ref in (found or {}).items() if ref.get("$ref", "").endswith("IntSeries")}


def step_answer(step: str, prompt: str, seed: int, action: str, schema: str = "") -> dict:
    if action == "wrong_shape":
        return {"unexpected": [1, 2, 3]}
    tag = hashlib.sha256(str(seed).encode()).hexdigest()[:12]
    if step == "probe":
        return {"answer": 5}
    if step == "persona":
        domain = re.search(r"(?:分野|Domain): (\S+)", prompt)
        job = re.search(r"(?:職務|Job): (.+)", prompt)
        return {"domain": domain.group(1) if domain else "banking", "role": f"{job.group(1) if job else '投資判断担当'} {tag}"}
    measure = re.search(r"(?:指標|Measure): (.+)", prompt)
    metric = measure.group(1).strip() if measure else "預金等残高"
    if step == "topic":
        # same_topic: one long text for every sample, whose measure changes only its last few characters
        same = ("部門別・地域別・顧客別に見た主要な経営指標の長期的な推移を、前年差と構成比の変化も添えて社内向けに比較したグラフで、"
                "経営会議の資料として四半期ごとに更新し、予算との乖離や季節要因、為替の影響についても担当者が注記を加えたうえで、"
                "翌期の計画策定に使う基礎データとして関係部署へ共有する")  # long enough that any measure's name is a small part
        return {"text": f"{same}{metric}" if action == "same_topic" else f"{metric}の推移 {tag}", "metric": metric}
    if step == "description":
        return {"text": f"{metric}は増加した。"}
    if step == "data":  # one rising series per unit line ("- name: unit (usually low–high)"), shares for a pie
        kind = re.search(r"「(\w+)」|of an? (\w+) chart", prompt)
        kind = next(g for g in kind.groups() if g)
        labels = json.loads(re.search(r"(?:区分|Categories): (\[.*\])", prompt).group(1))
        lines = re.findall(r"^- (.+): .* \((?:通常|usually) (-?[\d.]+)–(-?[\d.]+)\)$", prompt, re.M)
        glyph = "\U0001F004" if action == "glyph" else ""  # a mahjong tile: no font here draws it
        if kind in ("pie", "donut"):
            shares = [100 - 10 * (len(labels) - 1)] + [10] * (len(labels) - 1)
            columns = {lines[0][0]: shares}
        elif kind == "band":  # every label's shares over the series fill 100; the first part grows, the second shrinks
            first = 100 - 10 * (len(lines) - 1)
            wave = [i % 2 if len(lines) > 2 else 0 for i in range(len(labels))]  # moved from the first part to the third
            columns = {name: [first + i - wave[i] if j == 0 else 10 - i if j == 1 else 10 + wave[i] * (j == 2)
                              for i in range(len(labels))] for j, (name, _, _) in enumerate(lines)}
        elif kind == "change":  # signed, rising
            columns = {name: [2.0 * i - 3 for i in range(len(labels))] for name, _, _ in lines}
        elif kind in ("histogram", "pyramid"):  # counts in one hump over the bins, as the chart rule asks
            n = len(labels)
            columns = {name: [float(high) * (0.2 + 0.15 * min(i, n - 1 - i)) * (1 + 0.1 * j) for i in range(n)]
                       for j, (name, _, high) in enumerate(lines)}
        elif kind == "waterfall":  # a level, signed changes, and the level they add up to, as the chart rule asks
            name, _, high = lines[0]
            level, changes = float(high) / 2, [float(high) * (-0.03 if i % 2 else 0.05) for i in range(len(labels) - 2)]
            columns = {name: [level, *changes, level + sum(changes)]}
        else:
            columns = {name: [float(low) * (1.2 + 0.01 * j) + abs(float(low)) * 0.25 * i for i in range(len(labels))]
                       for j, (name, low, _) in enumerate(lines)}  # rising, from a negative usual low too
        whole = _integer_series(schema)  # series counted in whole units take integers, as the schema says
        if action == "absurd":
            first = next(iter(columns.values()))
            first[:2] = [1e300, -1e300]
        return {"title": f"{metric}{glyph}",
                "values": {name: {label: round(v) if name in whole else round(v, 2) for label, v in zip(labels, values)}
                           for name, values in columns.items()}}
    if step == "qa":
        index, columns, data = _table(prompt)
        value = data[0][0]
        unit = re.search(r"(?:単位|unit): ([^)）]*)", prompt).group(1).strip().strip("-")
        shown = next(line for line in prompt.splitlines() if " | " in line and line.startswith(index[0])).split(" | ")[1]
        right = {"question": "最初の値は？", "qa_type": "retrieval",
                 "program": {"op": "value", "row": index[0], "col": columns[0]}, "answer": f"{shown}{unit}"}
        if action == "wrong_answer":
            right["answer"] = f"{value + 999:.0f}{unit}"
        unknown = {"question": "存在しない行は？", "qa_type": "retrieval",
                   "program": {"op": "value", "row": "1999", "col": columns[0]}, "answer": "1億円"}
        return {"items": [right, unknown]}
    raise ValueError(step)
