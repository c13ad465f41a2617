import json
import re
import subprocess
import sys


def chartsynth(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "chartsynth", *args], capture_output=True, text=True, cwd=cwd)


def test_generate_then_inspect_end_to_end(tmp_path):
    out = tmp_path / "ds"
    made = chartsynth("generate", "--out", str(out), "--n", "12", "--shard-size", "6", "--workers", "2", "--lang", "ja")
    assert made.returncode == 0, made.stderr
    landed = int(re.search(r"(\d+) samples in 2 shards", made.stderr).group(1))
    rejected = sum(int(n) for n in re.findall(r": (\d+)", made.stderr.split("rejects:")[1].split(";")[0])) \
        if "rejects: none" not in made.stderr else 0
    assert landed + rejected == 12 and landed >= 10 and "samples/s" in made.stderr
    shown = chartsynth("inspect", str(out), "--json", "--html", str(tmp_path / "report.html"))
    summary = json.loads(shown.stdout)
    assert summary["rows"] == landed and summary["by_lang"] == {"ja": landed}
    assert sum(summary["by_chart_type"].values()) == landed
    assert "src='data:image/png;base64," in (tmp_path / "report.html").read_text()
    again = chartsynth("generate", "--out", str(out), "--n", "12", "--shard-size", "6", "--lang", "ja")
    assert "(0 made by this run, 2 finished by an earlier run and kept)" in again.stderr and "nothing to do: every shard was already finished" in again.stderr
    assert "samples/s" not in again.stderr  # not a rate made of kept shards over a second of checking
    shard = out / "data" / "shard-00001.parquet"
    whole = shard.read_bytes()
    shard.write_bytes(whole[:1000] + bytes(b ^ 0xFF for b in whole[1000:1400]) + whole[1400:])  # 400 flipped bytes
    damaged = chartsynth("inspect", str(out))
    assert damaged.returncode == 2 and len(damaged.stderr.strip().splitlines()) == 1
    assert "data/shard-00001.parquet: digest mismatch" in damaged.stderr
    shard.write_bytes(whole[: len(whole) // 2])  # truncated, and not checked against the digest
    truncated = chartsynth("inspect", str(out), "--no-verify")
    assert truncated.returncode == 2 and "shard-00001.parquet: not a readable Parquet file" in truncated.stderr
    assert "Traceback" not in truncated.stderr
    repaired = chartsynth("generate", "--out", str(out), "--n", "12", "--shard-size", "6", "--lang", "ja")
    assert "data/shard-00001.parquet: digest mismatch (the file changed or is damaged): rebuilt" in repaired.stderr
    assert shard.read_bytes() == whole  # rebuilt exactly


def test_bad_options_give_one_clear_line(tmp_path):
    (tmp_path / "run" / "final").mkdir(parents=True)  # what `train` leaves: the model is in final/
    for args, expected in [
        (["generate", "--out", str(tmp_path / "x"), "--n", "0"], "--n 0"),
        (["generate", "--out", str(tmp_path / "x"), "--n", "3", "--lang", "fr"], "--lang 'fr'"),
        (["generate", "--out", "/proc/forbidden", "--n", "3"], "/proc/forbidden"),
        (["generate", "--out", str(tmp_path / "x"), "--n", "3", "--step-temperature", "qq=0.2"],
         "--step-temperature 'qq': Input should be 'persona', 'topic', 'description', 'data' or 'qa'"),
        (["generate", "--out", str(tmp_path / "x"), "--n", "3", "--step-max-tokens", "data"], "write STEP=VALUE"),
        (["generate", "--out", str(tmp_path / "x"), "--n", "3", "--timeout", "0"], "--timeout 0.0"),
        (["generate", "--out", str(tmp_path / "x"), "--n", "3", "--workers", "0"], "--workers 0: at least 1"),
        (["generate", "--out", str(tmp_path / "x"), "--n", "3", "--generator", "llm"],
         "generator 'llm' needs a server and a model: base_url (--base-url URL) and model (--model NAME)"),
        (["generate", "--out", str(tmp_path / "x"), "--n", "3", "--generator", "llm", "--model", "m",
          "--base-url", "http://127.0.0.1:9/v1"], "cannot connect to http://127.0.0.1:9/v1 (--base-url)"),
        (["inspect", str(tmp_path)], "no manifest.json"),
        (["eval", "--checkpoint", str(tmp_path / "run"), "--data", "x.parquet", "--out", str(tmp_path / "e")],
         f"a training run's directory; its model is {tmp_path / 'run' / 'final'}"),
        # square brackets in a path or value reach the user as typed, not eaten as console markup
        (["inspect", str(tmp_path / "[train]")], f"{tmp_path / '[train]'}"),
    ]:
        result = chartsynth(*args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr


def test_version():
    from pipeline import __version__

    shown = chartsynth("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"chartsynth {__version__}"


def test_changed_options_into_existing_dir_are_refused(tmp_path):
    out = str(tmp_path / "ds")
    assert chartsynth("generate", "--out", out, "--n", "2").returncode == 0
    refused = chartsynth("generate", "--out", out, "--n", "2", "--seed", "5")
    assert refused.returncode == 2 and "seed=0 (asked 5)" in refused.stderr


def test_missing_browser_is_one_clear_line_not_a_hang(tmp_path):
    import os

    env = os.environ | {"BROWSER_PATH": str(tmp_path / "no-such-chrome")}
    result = subprocess.run([sys.executable, "-m", "chartsynth", "generate", "--out", str(tmp_path / "ds"), "--n", "2",
                             "--renderer", "plotly"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "BROWSER_PATH=" in result.stderr and "apt-get install chromium" in result.stderr
    assert "Traceback" not in result.stderr


def test_regenerate_command_restyles_selected_rows_only(tmp_path):
    import pyarrow.parquet as pq

    src, dst = tmp_path / "src", tmp_path / "dst"
    assert chartsynth("generate", "--out", str(src), "--n", "8", "--shard-size", "4", "--lang", "ja").returncode == 0
    before = [r for f in sorted((src / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    target = before[0]["id"]
    # a source with a reject of its own: carried over in the reject files, it once counted as the redone row's
    # ("0 landed, 1 rejected" for a row that landed)
    with (src / "rejects" / "shard-00000.jsonl").open("a") as rejects:
        rejects.write(json.dumps({"id": "cs0-000000099", "sample_index": 99, "stage": "render",
                                  "reason": "overlapping_text", "detail": "'a' over 'b'"}) + "\n")
    made = chartsynth("regenerate", str(src), "--out", str(dst), "--id", target, "--style-seed", "4")
    assert made.returncode == 0, made.stderr
    assert f"redone 1 (--id {target}: 1 landed, 0 rejected), carried over {len(before) - 1}" in made.stdout
    after = [r for f in sorted((dst / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    changed = [b["id"] for a, b in zip(before, after) if a != b]
    assert changed == [target]
    refused = chartsynth("regenerate", str(src), "--out", str(src))
    assert refused.returncode == 2 and "must differ" in refused.stderr
    for args, expected in [(["--chart-type", "pi"], "--chart-type 'pi': Input should be 'bar', 'barh'"),
                           (["--lang", "xx"], "--lang 'xx': Input should be 'ja' or 'en'"),
                           (["--id", "bogus"], "matches the selection (--id bogus): nothing to regenerate"),
                           (["--chart-type", "table", "--lang", "en"], "nothing to regenerate")]:
        typo = chartsynth("regenerate", str(src), "--out", str(tmp_path / "typo"), *args)
        assert typo.returncode == 2 and expected in typo.stderr, (args, typo.stderr)
        assert not (tmp_path / "typo").exists()  # nothing written for a selection that selects nothing


def test_generate_through_the_flow_on_a_dask_cluster_matches_the_plain_run(tmp_path):
    distributed = __import__("pytest").importorskip("distributed")
    plain, dask = tmp_path / "plain", tmp_path / "dask"
    args = ["--n", "6", "--shard-size", "3", "--seed", "9"]
    assert chartsynth("generate", "--out", str(plain), *args).returncode == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        made = chartsynth("generate", "--out", str(dask), *args, "--dask-address", cluster.scheduler_address)
    assert made.returncode == 0, made.stderr[-2000:]
    for shard in sorted((plain / "data").glob("*.parquet")):
        assert (dask / "data" / shard.name).read_bytes() == shard.read_bytes()


def test_render_workers_exit_when_generate_is_killed(tmp_path):
    """kill -9 of a running `generate --workers 2` leaves no render worker behind (they watch their parent)."""
    import signal
    import time

    import psutil

    run = subprocess.Popen([sys.executable, "-m", "chartsynth", "generate", "--out", str(tmp_path / "ds"), "--n", "2000",
                            "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(run.pid)
    deadline = time.monotonic() + 120

    def render_workers():
        return [p for p in parent.children() if "spawn_main" in " ".join(p.cmdline())]

    while len(render_workers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = parent.children(recursive=True)  # the render workers and multiprocessing's resource tracker
    assert len(render_workers()) == 2
    run.send_signal(signal.SIGKILL)
    run.wait()
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == [], f"still running after their parent was killed: {[p.cmdline()[:3] for p in alive]}"


def test_help_shows_no_value_for_flags():
    for command in (("inspect", "--help"), ("regenerate", "--help"), ("generate", "--help"), ("--help",)):
        shown = chartsynth(*command).stdout
        assert "--help" in shown and [line for line in shown.splitlines() if "<bool>" in line] == []
