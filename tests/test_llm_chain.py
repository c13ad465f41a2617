"""The LLM chain over a scripted local server (tests/fake_openai.py): faults, repair, verification, cache."""

import json

import pyarrow.parquet as pq
import pytest

from common.llm_client import LLMUnavailable
from pipeline.llm_chain import STEP_SEEDS
from pipeline.run import generate
from schemas import RunConfig
from tests.fake_openai import FakeServer


@pytest.fixture
def server():
    fake = FakeServer().start()
    yield fake
    fake.stop()


def config(server, **changes) -> RunConfig:
    fields = {"n": 4, "seed": 11, "lang": "ja", "generator": "llm", "base_url": [server.url], "model": "fake",
              "llm_mode": "json_schema", "shard_size": 4, "timeout_s": 2.0, "repair_attempts": 1, "outage_s": 0}
    return RunConfig(**(fields | changes))


def shard_rows(out):
    return [r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def rejects(out):
    return [json.loads(line) for f in sorted((out / "rejects").glob("*.jsonl")) for line in f.read_text().splitlines()]


def step(body):
    return body["response_format"]["json_schema"]["name"]


def test_faults_are_retried_repaired_or_rejected_and_no_invalid_row_lands(tmp_path, server):
    server.script = ["429", "500", "hang", "truncated", "wrong_shape", "data:absurd", "qa:wrong_answer"]
    manifest, stats = generate(config(server, n=6, shard_size=6), tmp_path)
    rows, rejected = shard_rows(tmp_path), rejects(tmp_path)
    assert len(rows) + len(rejected) == 6 and rows
    assert all(q["verified"] for r in rows for q in r["qa"])
    assert all(r["reason"] and r["detail"] for r in rejected)
    checked = stats.llm.verification
    assert checked.dropped >= len(rows)  # every fake QA step proposes one question about a row that is not there
    assert checked.corrected >= 1  # the injected wrong answer was rewritten from the table
    assert json.loads(rows[0]["provenance"])["generator"] == "llm"
    assert stats.llm.usage.by_step["persona"]["requests"] >= 4


def test_a_step_that_stays_invalid_is_rejected_with_step_raw_and_error(tmp_path, server):
    server.default = "wrong_shape"
    generate(config(server, n=2, shard_size=2), tmp_path)
    rejected = rejects(tmp_path)
    assert [r["reason"] for r in rejected] == ["llm_persona_invalid"] * 2
    assert all(r["step"] == "persona" and "unexpected" in r["raw"] and "role" in r["detail"] for r in rejected)
    assert server.requests == 2 * 2  # one try and one repair each: bounded


def test_absurd_numbers_never_reach_a_shard(tmp_path, server):
    server.default = "absurd"
    generate(config(server, n=2, shard_size=2, lang="ja"), tmp_path)
    assert shard_rows(tmp_path) == []
    assert [r["reason"] for r in rejects(tmp_path)] == ["llm_data_invalid"] * 2
    assert all("absurd magnitude" in r["detail"] for r in rejects(tmp_path))


def test_a_server_that_stays_down_ends_the_run_with_finished_shards_kept(tmp_path, server):
    generate(config(server, n=2, shard_size=2), tmp_path)  # a finished shard
    server.default = "500"
    before = server.requests
    with pytest.raises(LLMUnavailable):
        generate(config(server, n=4, shard_size=2), tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [s["index"] for s in manifest["shards"]] == [0]
    assert server.requests - before <= 2 * 6  # two samples in flight, six attempts each at most


def test_rerun_after_a_verifier_change_sends_zero_requests(tmp_path, server, monkeypatch):
    _, before = generate(config(server), tmp_path)
    assert before.llm.verification.kept > 0
    sent = server.requests
    first = shard_rows(tmp_path)
    for path in (tmp_path / "data").glob("*"):
        path.unlink()
    (tmp_path / "manifest.json").unlink()
    import pipeline.llm_chain as chain
    from schemas import AnswerFailure

    monkeypatch.setattr(chain, "check_answer", lambda qa, spec, el, lang: AnswerFailure(reason="stricter", detail="all"))
    _, stats = generate(config(server), tmp_path)
    assert server.requests == sent and stats.llm.usage.requests == 0 and stats.llm.usage.cached > 0
    assert stats.llm.verification.kept == 0 and stats.llm.verification.corrected > 0  # the new verifier did run
    assert [r["id"] for r in shard_rows(tmp_path)] == [r["id"] for r in first]


def test_llm_check_reports_modes(server):
    import asyncio

    from common.llm_client import probe_modes

    assert asyncio.run(probe_modes(server.url, "fake")) == {"json_schema": "ok", "json_object": "ok", "text": "ok"}


def test_requests_are_spread_over_replicas(tmp_path):
    a, b = FakeServer().start(), FakeServer().start()
    try:
        generate(RunConfig(n=2, seed=1, generator="llm", base_url=[a.url, b.url], model="fake", llm_mode="json_schema",
                           shard_size=2), tmp_path)
        assert a.requests > 0 and b.requests > 0
    finally:
        a.stop(), b.stop()


def _rejected_for_glyphs(seed: int, script: list[str], out) -> bool:
    probe = FakeServer().start()
    try:
        probe.default, probe.script = "same_topic", script
        generate(config(probe, n=1, shard_size=1, seed=seed), out)
    finally:
        probe.stop()
    return [r["reason"] for r in rejects(out)] == ["missing_glyphs"]


def test_topic_dedup_resumes_exactly_what_an_uninterrupted_run_makes(tmp_path, server):
    """Sample 0's topic is admitted, then the sample is rejected at rendering; sample 1 repeats the topic. Resumed
    after shard 0, the run must still know sample 0's topic (from its reject), as the uninterrupted run did."""
    def glyph_in(seed: int) -> list[str]:  # sample 0's data reply (its title) only, not sample 1's
        return [f"data#{(seed * 1_000_003 + STEP_SEEDS['data']) % 2**31}:glyph"]

    # a run seed whose sample 0 draws its title (a style may leave it off, and then nothing fails)
    seed = next(s for s in range(11, 40) if _rejected_for_glyphs(s, glyph_in(s), tmp_path / f"probe{s}"))
    server.default, server.script = "same_topic", glyph_in(seed)
    generate(config(server, n=1, shard_size=1, seed=seed), tmp_path / "resumed")
    generate(config(server, n=2, shard_size=1, seed=seed), tmp_path / "resumed")
    other = FakeServer().start()
    try:
        other.default, other.script = "same_topic", glyph_in(seed)
        generate(config(other, n=2, shard_size=1, seed=seed), tmp_path / "whole")
    finally:
        other.stop()
    assert [r["reason"] for r in rejects(tmp_path / "whole")] == ["missing_glyphs", "duplicate_topic"]
    for name in ("data/shard-00001.parquet", "rejects/shard-00001.jsonl"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_a_request_the_server_refuses_loses_that_sample_not_the_run(tmp_path, server):
    server.script = ["persona:400"]
    generate(config(server, n=2, shard_size=2), tmp_path)
    refused = rejects(tmp_path)
    assert [r["reason"] for r in refused] == ["llm_persona_refused"]
    assert "maximum context length" in refused[0]["detail"]
    assert len(shard_rows(tmp_path)) == 1


def test_a_429_with_retry_after_is_waited_out_and_the_run_completes(tmp_path, server):
    server.script = ["persona:429-after-1", "persona:429-after-1"]
    generate(config(server, n=1, shard_size=1), tmp_path)
    assert len(shard_rows(tmp_path)) == 1
    persona = [t for t, b in zip(server.times, server.bodies) if step(b) == "persona"]
    assert persona[1] - persona[0] >= 0.95 and persona[2] - persona[1] >= 0.95  # as asked, not 0.5 s of jitter


def test_raw_line_breaks_inside_json_strings_are_read_without_a_repair(tmp_path, server):
    server.script = ["persona:newline"]
    generate(config(server, n=1, shard_size=1), tmp_path)
    assert len(shard_rows(tmp_path)) == 1
    assert [step(b) for b in server.bodies] == ["persona", "topic", "description", "data", "qa"]


def test_each_repair_asks_with_a_new_seed(tmp_path, server):
    server.default = "wrong_shape"
    generate(config(server, n=1, shard_size=1, repair_attempts=2), tmp_path)
    seeds = [b["seed"] for b in server.bodies]
    assert len(seeds) == 3 and len(set(seeds)) == 3


def test_every_chart_family_is_drawn_from_llm_data(tmp_path, server):
    """Scatter (x and y in their own units) and bars + line (a right-hand axis) included."""
    from pipeline.llm_chain import LLMChain, llm_drafts
    from renderers.charts import families
    from schemas import Sample

    run = config(server, n=400, seed=5)
    first = {}  # the first sample planned as each family
    for index in range(400):
        first.setdefault(LLMChain(run, None).plan(index)[1].chart_type, index)
    drafts, _ = llm_drafts(run, sorted(first.values()), tmp_path / "cache")  # drafted, not rendered
    specs = [d.spec.model_dump() for d in drafts if isinstance(d, Sample)]
    assert {s["chart_type"] for s in specs} == {t.value for t in families()}
    scatter = next(s for s in specs if s["chart_type"] == "scatter")
    x, y = scatter["data"]["columns"]
    assert list(scatter["column_units"]) == [x] and scatter["x_title"].startswith(x) and scatter["y_title"].startswith(y)
    bar_line = next(s for s in specs if s["chart_type"] == "bar_line")
    assert bar_line["secondary_series"] == bar_line["data"]["columns"][-1:]
    assert list(bar_line["column_units"]) == bar_line["data"]["columns"][-1:]


def test_each_step_asks_with_its_own_temperature_and_length_limit(tmp_path, server):
    generate(config(server, n=1, shard_size=1, temperature=0.9, max_tokens=500, step_temperature={"qa": 0.1},
                    step_max_tokens={"data": 2000}), tmp_path)
    sent = {step(b): (b["temperature"], b["max_tokens"]) for b in server.bodies}
    assert sent == {"persona": (0.9, 500), "topic": (0.9, 500), "description": (0.9, 500), "data": (0.9, 2000),
                    "qa": (0.1, 500)}


def test_one_cache_file_and_a_ledger_that_keeps_probes_and_stopped_runs(tmp_path, server):
    from common.llm_client import ResponseCache

    def charged():
        ledger = ResponseCache(tmp_path / "cache" / "llm")
        try:
            return ledger.spent()
        finally:
            ledger.close()

    generate(config(server, n=2, shard_size=2, llm_mode="auto"), tmp_path)
    first = charged()
    probes = first.by_step["probe"]["requests"]
    assert probes >= 1  # the auto-mode probes are paid for too
    server.script = ["ok"] * 3 + ["500"] * 60  # three replies, then the server stays down
    with pytest.raises(LLMUnavailable):
        generate(config(server, n=4, shard_size=2, llm_mode="auto"), tmp_path)
    assert charged().requests == first.requests + 3  # paid for though no shard landed
    server.script = []
    _, report = generate(config(server, n=4, shard_size=2, llm_mode="auto"), tmp_path)
    assert report.llm_spent.requests == report.llm.usage.requests + probes + 3
    assert "probes, repairs and stopped runs included" in report.summary()
    cache = tmp_path / "cache" / "llm"
    assert (cache / "replies.sqlite").exists() and not list(cache.rglob("*.json"))  # one file, not one per reply


def test_the_cache_key_ignores_what_only_our_validation_reads():
    from common.llm_client import LLMClient

    client = LLMClient(["http://127.0.0.1:9/v1"], "m", "json_schema", None)
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20, "description": "a name"}}}
    tightened = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10, "description": "x"}}}
    widened = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}
    params = {"temperature": 0.7, "max_tokens": 9, "seed": 1, "name": "persona"}
    key = client.key([], params | {"schema": schema})
    assert client.key([], params | {"schema": tightened}) == key
    assert client.key([], params | {"schema": widened}) != key
    patterned = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^loan"}}}
    assert client.key([], params | {"schema": patterned}) != client.key(  # a decoder writes to a pattern
        [], params | {"schema": {"type": "object", "properties": {"name": {"type": "string", "pattern": "^sales"}}}})


def test_values_the_measure_cannot_have_are_rejected_and_shares_are_made_to_fill_100(tmp_path, server):
    """The plan fixes labels, series and units; what the model writes can still be wrong: magnitudes the measure
    cannot have (a deposit balance of 0.001 億円) are sent back and rejected with the reason; shares that do not fill
    100 % are scaled to fill it, their proportions kept (ChartFamily.settle: the arithmetic is the program's)."""
    from pipeline.llm_chain import LLMChain, llm_drafts
    from schemas import Reject

    server.reply = lambda body: json.dumps(_shrunk_answer(body), ensure_ascii=False)
    run = config(server, n=400, seed=5)
    plans = {index: LLMChain(run, None).plan(index) for index in range(100)}
    planned = {index: family for index, (_, family, _) in plans.items()}
    shares = [i for i, f in planned.items() if f.round or f.shares_per_category][:2]
    levels = [i for i, f in planned.items() if f.chart_type in ("line", "bar", "grouped_bar")
              and not plans[i][2].topic.signed and plans[i][2].topic.axis != "share"][:2]  # levels, not shares or
    # signed rates (a CPI 前年比 may be tiny)
    drafts, _ = llm_drafts(run, shares + levels, tmp_path / "cache")
    assert all(isinstance(d, Reject) and d.reason == "llm_data_invalid" for d in drafts[2:])
    assert all("is not a plausible value" in d.detail for d in drafts[2:])
    for sample in drafts[:2]:  # a pie's or a band's halved shares, scaled back to fill 100
        assert not isinstance(sample, Reject), sample
        wholes = ([sum(row) for row in sample.spec.data.data] if len(sample.spec.data.columns) > 1
                  else [sum(row[0] for row in sample.spec.data.data)])
        assert all(total == pytest.approx(100) for total in wholes)


def _shrunk_answer(body):
    """The fake's normal answers, except that shares are halved (no longer filling 100) and levels are a thousandth
    of themselves (a change on the previous year is left as it is: a tiny change is a real one)."""
    from tests.fake_openai import _asked, _step, step_answer, step_prompt

    prompt = step_prompt(body)
    answer = step_answer(_step(body), prompt, body.get("seed", 0), "ok", _asked(body))
    if _step(body) == "data" and "前年比" not in prompt:
        factor = 2 if "0.1–100)" in prompt else 1000
        answer["values"] = {s: {k: round(v / factor) if isinstance(v, int) else round(v / factor, 3)
                                for k, v in row.items()} for s, row in answer["values"].items()}
    return answer


def test_a_server_that_goes_down_pauses_the_run_until_it_is_back(tmp_path, server, monkeypatch, caplog):
    import common.llm_client

    monkeypatch.setattr(common.llm_client, "OUTAGE_POLL_S", 0.2)
    server.script = ["500"] * 8  # six attempts, then two more while paused
    with caplog.at_level("WARNING", logger="chartsynth.llm"):
        generate(config(server, n=1, shard_size=1, outage_s=60), tmp_path)
    assert len(shard_rows(tmp_path)) == 1
    said = [r.getMessage() for r in caplog.records]
    assert any("pausing, asking again every" in m for m in said) and any("answers again" in m for m in said)


def test_worked_examples_are_earlier_turns_and_the_shape_is_spelled_out_only_where_no_decoder_enforces_it(
        tmp_path, server):
    import prompts

    generate(config(server, n=1, shard_size=1), tmp_path)  # json_schema mode
    persona = next(b for b in server.bodies if step(b) == "persona")
    shots = prompts.llm_shots("persona", "ja")
    roles = [m["role"] for m in persona["messages"]]
    assert roles == ["system"] + ["user", "assistant"] * len(shots) + ["user"] and len(shots) >= 2
    assert persona["messages"][2]["content"] == shots[0][1]
    assert not any(m["content"].startswith("JSON") or "\nJSON" in m["content"] for m in persona["messages"])
    domain = persona["response_format"]["json_schema"]["schema"]["properties"]["domain"]
    assert domain.get("const") or domain.get("enum")  # the requested domain, written by the decoder
    server.bodies.clear()
    generate(config(server, n=1, shard_size=1, llm_mode="text"), tmp_path / "text")
    persona = next(b for b in server.bodies if "分野" in b["messages"][-1]["content"])
    assert "\nJSON" in persona["messages"][-1]["content"]


def test_the_next_shard_is_drafted_while_a_shard_renders(tmp_path, server):
    """The server works while samples render: requests for shard 1 reach it before shard 0 is written (before, shard
    1 was drafted only after shard 0 was finished), and every shard still comes out."""
    import time

    server.delay_s = 0.02
    finished = []
    generate(config(server, n=8, shard_size=4, seed=0), tmp_path, on_samples=lambda k: finished.append(time.monotonic()))
    shard_of = [(body["seed"] % 2**31) // 10 // 4 for body in server.bodies]  # a step's seed encodes its sample index
    first_for_shard_1 = server.times[shard_of.index(1)]
    assert first_for_shard_1 < finished[3]  # the 4th sample reported is shard 0's last
    assert len(shard_rows(tmp_path)) + len(rejects(tmp_path)) == 8


def test_a_run_that_fails_while_shards_draft_ends_without_hanging(tmp_path, server, monkeypatch):
    """An error while later shards are still drafting cancels them: their threads must not wait forever."""
    import threading

    from pipeline.run import GenerateJob

    def broken_render(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(GenerateJob, "finish", broken_render)
    server.delay_s = 0.5  # shard 1 is still drafting when shard 0's render fails
    raised = []

    def run():
        try:
            generate(config(server, n=8, shard_size=2), tmp_path)
        except RuntimeError as error:
            raised.append(error)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive() and [str(e) for e in raised] == ["render failed"]


def test_another_model_under_the_same_name_is_asked_again(tmp_path, server):
    """The cache key holds the server's description of the model (GET /models), not only the name asked for."""
    def again():  # the same dataset made again from scratch, its cache kept
        for path in [*(tmp_path / "data").glob("*"), tmp_path / "manifest.json"]:
            path.unlink()
        generate(config(server), tmp_path)

    generate(config(server), tmp_path)
    sent = server.requests
    again()  # same server, same model: every reply from the cache
    assert server.requests == sent
    server.created += 1  # the server now serves another build under the name "fake"
    again()
    assert server.requests == 2 * sent


def test_an_unexpected_error_in_one_sample_loses_that_sample_not_the_run(tmp_path, server, monkeypatch):
    import pipeline.llm_chain as chain

    real = chain.contradiction
    calls = []

    def fails_once(description, spec):
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a reply no check foresaw")
        return real(description, spec)

    monkeypatch.setattr(chain, "contradiction", fails_once)
    generate(config(server, n=4), tmp_path)
    rejected = [r for r in rejects(tmp_path) if r["reason"] == "internal_error"]
    assert len(rejected) == 1 and "KeyError" in rejected[0]["detail"] and "foresaw" in rejected[0]["detail"]
    assert len(shard_rows(tmp_path)) + len(rejects(tmp_path)) == 4


def test_a_provider_that_refuses_beyond_its_capacity_gets_fewer_requests_at_once_not_a_storm(server):
    """16 slots against a server that serves 3 at once: 429s halve the requests in flight, so most requests are
    served on their first or second try (without adapting, 13 of every 16 sent are refused, round after round)."""
    import asyncio

    from common.llm_client import LLMClient

    server.capacity, server.delay_s, server.reply = 3, 0.05, lambda body: "ok"

    async def ask_all():
        client = LLMClient([server.url], "fake", "text", None, max_in_flight=16, backoff_s=0.02, max_retries=20)
        try:
            await asyncio.gather(*(client.chat([{"role": "user", "content": str(i)}], name="t", schema=None,
                                               temperature=0, max_tokens=16, seed=i) for i in range(60)))
        finally:
            await client.close()
        return client.throttle

    throttle = asyncio.run(ask_all())
    assert server.requests - server.refused == 60
    assert server.refused <= 30, server.refused
    assert throttle.cuts >= 1 and throttle.limit <= 8


def test_fan_out_asks_once_per_persona_and_topic_and_every_chart_lands(tmp_path, server):
    """8 samples, 2 topics per persona, 2 charts per topic: 2 persona and 4 topic requests (identical requests in
    flight are sent once), 8 of every later step; charts of one topic share it and are not refused as duplicates."""
    _, report = generate(config(server, n=8, shard_size=4, topics_per_persona=2, charts_per_topic=2), tmp_path)
    asked = [step(b) for b in server.bodies]
    assert (asked.count("persona"), asked.count("topic"), asked.count("description"), asked.count("data")) == (2, 4, 8, 8)
    rows = sorted(shard_rows(tmp_path), key=lambda r: r["id"])
    assert len(rows) == 8 and not rejects(tmp_path)
    assert len({r["persona"] for r in rows[:4]}) == 1 and rows[0]["persona"] != rows[4]["persona"]
    assert [len({r["topic"] for r in rows[i:i + 2]}) for i in range(0, 8, 2)] == [1, 1, 1, 1]
    assert len({r["topic"] for r in rows}) == 4
    assert len({json.loads(r["provenance"])["sample_index"] for r in rows}) == 8
    assert report.llm.distinct_topics == 4


def test_fan_out_needs_the_llm_generator():
    with pytest.raises(ValueError, match="--topics-per-persona"):
        RunConfig(n=4, charts_per_topic=2)


def test_the_batch_api_makes_the_rows_direct_requests_make_one_step_per_batch(tmp_path, server):
    """Against the fake's Batch endpoints (files, batches, output files — a fake: no provider here runs batches on
    cue): the same rows as direct requests, no direct chat request, and each batch one step across the samples."""
    generate(config(server, n=6, shard_size=3), tmp_path / "direct")
    direct = shard_rows(tmp_path / "direct")
    server.bodies.clear()
    generate(config(server, n=6, shard_size=3, batch=True, batch_poll_s=0.05), tmp_path / "batched")
    assert shard_rows(tmp_path / "batched") == direct
    batched = [body for batch in server.batch_bodies for body in batch]
    assert len(batched) == len(server.bodies) > 0  # every request went through a batch
    assert all(len({step(body) for body in batch}) == 1 for batch in server.batch_bodies)
    assert (tmp_path / "batched" / "cache" / "llm" / "replies.sqlite").exists()


def test_a_run_stopped_while_its_batch_runs_picks_the_batch_up_instead_of_paying_again(tmp_path, server):
    import asyncio

    from common.llm_client import LLMClient, ResponseCache

    server.reply, server.hold_batches = (lambda body: "fine"), True
    ask = dict(name="t", schema=None, temperature=0, max_tokens=16, seed=1)
    messages = [{"role": "user", "content": "hello"}]

    async def stopped():
        client = LLMClient([server.url], "fake", "text", ResponseCache(tmp_path), batch_poll_s=0.05)
        asking = asyncio.create_task(client.chat(messages, **ask))
        while not server.batches:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # polled: still in progress
        asking.cancel()
        await client.close()

    async def resumed():
        client = LLMClient([server.url], "fake", "text", ResponseCache(tmp_path), batch_poll_s=0.05)
        try:
            return await client.chat(messages, **ask)
        finally:
            await client.close()

    asyncio.run(stopped())
    server.hold_batches = False
    reply = asyncio.run(resumed())
    assert reply.text == "fine" and len(server.batches) == 1  # the first run's batch answered; none sent again
    assert ResponseCache(tmp_path).batched() == {}


def test_a_batch_line_refused_for_now_goes_in_the_next_batch(tmp_path, server):
    import asyncio

    from common.llm_client import LLMClient

    server.reply, server.script = (lambda body: "fine"), ["429"]

    async def ask():
        client = LLMClient([server.url], "fake", "text", None, batch_poll_s=0.05)
        try:
            return await client.chat([{"role": "user", "content": "hello"}], name="t", schema=None, temperature=0,
                                     max_tokens=16, seed=1)
        finally:
            await client.close()

    assert asyncio.run(ask()).text == "fine"
    assert len(server.batches) == 2


def test_a_topic_repeated_inside_a_shard_is_refused_before_its_later_steps_are_paid_for(tmp_path, server):
    """Every topic the same, 4 samples in one shard: sample 0 goes on; 1–3 stop at their topic (no description,
    data or QA request), in index order whatever order the replies come in."""
    server.default = "same_topic"
    generate(config(server, n=4, shard_size=4), tmp_path)
    asked = [step(b) for b in server.bodies]
    assert (asked.count("topic"), asked.count("description"), asked.count("data")) == (4, 1, 1)
    assert len(shard_rows(tmp_path)) == 1 and json.loads(shard_rows(tmp_path)[0]["provenance"])["sample_index"] == 0
    refused = rejects(tmp_path)
    assert [(r["sample_index"], r["reason"]) for r in refused] == [(1, "duplicate_topic"), (2, "duplicate_topic"),
                                                                   (3, "duplicate_topic")]
    assert "not asked" in refused[0]["detail"]
