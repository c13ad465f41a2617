import json
import subprocess
import sys


def chartsynth(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_generate_then_inspect_end_to_end(tmp_path):
    out = tmp_path / "ds"
    made = chartsynth("generate", "--out", str(out), "--n", "12", "--shard-size", "6", "--workers", "2", "--lang", "ja")
    assert made.returncode == 0, made.stderr
    assert "12 samples in 2 shards" in made.stderr and "samples/s" in made.stderr
    shown = chartsynth("inspect", str(out), "--json", "--html", str(tmp_path / "report.html"))
    summary = json.loads(shown.stdout)
    assert summary["rows"] == 12 and summary["by_lang"] == {"ja": 12}
    assert sum(summary["by_chart_type"].values()) == 12
    assert "<img src='data:image/png;base64," in (tmp_path / "report.html").read_text()
    again = chartsynth("generate", "--out", str(out), "--n", "12", "--shard-size", "6", "--lang", "ja")
    assert "0 built, 2 kept" in again.stderr


def test_bad_options_give_one_clear_line(tmp_path):
    for args, expected in [
        (["generate", "--out", str(tmp_path / "x"), "--n", "0"], "--n 0"),
        (["generate", "--out", str(tmp_path / "x"), "--n", "3", "--lang", "fr"], "--lang 'fr'"),
        (["generate", "--out", "/proc/forbidden", "--n", "3"], "/proc/forbidden"),
        (["inspect", str(tmp_path)], "no manifest.json"),
    ]:
        result = chartsynth(*args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr


def test_changed_options_into_existing_dir_are_refused(tmp_path):
    out = str(tmp_path / "ds")
    assert chartsynth("generate", "--out", out, "--n", "2").returncode == 0
    refused = chartsynth("generate", "--out", out, "--n", "2", "--seed", "5")
    assert refused.returncode == 2 and "seed=0 (asked 5)" in refused.stderr


def test_missing_browser_is_one_clear_line_not_a_hang(tmp_path):
    import os

    env = os.environ | {"BROWSER_PATH": str(tmp_path / "no-such-chrome")}
    result = subprocess.run([sys.executable, "-m", "pipeline.cli", "generate", "--out", str(tmp_path / "ds"), "--n", "2",
                             "--renderer", "plotly"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "BROWSER_PATH=" in result.stderr and "apt-get install chromium" in result.stderr
    assert "Traceback" not in result.stderr
