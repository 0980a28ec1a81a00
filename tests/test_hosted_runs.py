"""Whole runs with every role on a hosted provider — through the real SDKs, against fake servers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from editforge.config import build_config
from editforge.engine.runner import RunSummary
from editforge.export.picobanana import SFT_KEYS
from editforge.pipeline import run
from editforge.testing.fake_gemini import FakeGemini
from editforge.testing.fake_openai import FakeOpenAI

KEY = "AIzaTEST-editforge-planted-key-7f3a9c1e5b"
FAST_RETRIES = {"max_tries": 8, "base_s": 0.01, "max_wait_s": 0.05}


def _run(out: Path, photos: Path, provider: str, **settings) -> RunSummary:
    config = build_config(
        {
            "out": out,
            "images": photos,
            "per_photo": 2,
            "workers": 1,
            "seed": 3,
            "retries": FAST_RETRIES,
            "roles": {role: {"provider": provider} for role in ("writer", "rewriter", "editor", "judge")},
            **settings,
        },
        {},
    )
    return run(config, quiet=True)


def _sft(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]


def _assert_no_key_anywhere(out: Path) -> None:
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"the API key leaked into {path}"


@pytest.fixture
def gemini(monkeypatch: pytest.MonkeyPatch):
    with FakeGemini(api_key=KEY, retry_after=0.05) as server:
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
        yield server


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch):
    with FakeOpenAI(api_key=KEY, retry_after=0) as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


def test_full_run_on_gemini_makes_a_priced_dataset_and_pays_nothing_twice(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    out = tmp_path / "run"
    runner = _run(out, photo_dir, "gemini")
    assert runner.counts.get("planned", 0) == 0 and runner.stopped is None
    rows = _sft(out)
    assert rows and all(tuple(r) == SFT_KEYS and (out / r["output_image"]).is_file() for r in rows)
    meta = [json.loads(line) for line in (out / "sft.meta.jsonl").read_text().splitlines()]
    assert {m["editor"]["model"] for m in meta} == {"gemini-2.5-flash-image"}
    assert {m["judge"]["model"] for m in meta} == {"gemini-2.5-pro"}
    assert all(m["judge"]["prompt_version"] == "judge.v1" for m in meta)
    assert runner.spent_usd > 0
    db = sqlite3.connect(out / "ledger.sqlite")
    assert db.execute("SELECT COUNT(*) FROM calls WHERE cost_usd > 0 AND provider = 'gemini'").fetchone()[0] > 0
    assert gemini.paid_twice() == [] and gemini.errors == []
    _assert_no_key_anywhere(out)
    # Content labels describe the photo as the writer saw it: asked in the writer's own call (writer.v2).
    longs = {
        task: json.loads(js) for task, js in db.execute("SELECT task_id, json FROM instructions WHERE kind = 'long'")
    }
    assert all(i["labels"] is not None and i["model"]["prompt_version"] == "writer.v2" for i in longs.values())
    assert {label for i in longs.values() for label in i["labels"]} - {"people", "text_signage"}, "sky / nature"
    for m in meta:  # the writer's labels, and only what photo analysis detects besides
        said = set(longs[m["task_id"]]["labels"])
        assert said <= set(m["labels"]) and set(m["labels"]) - said <= {"people", "text_signage"}

    sent = len(gemini.calls)
    again = _run(out, photo_dir, "gemini")  # a rerun of a finished run pays for nothing
    assert len(gemini.calls) == sent
    assert _sft(out) == rows and again.spent_usd == pytest.approx(runner.spent_usd)


def test_full_run_on_openai_compatible_server(tmp_path: Path, photo_dir: Path, openai_server: FakeOpenAI) -> None:
    out = tmp_path / "run"
    runner = _run(out, photo_dir, "openai")
    assert runner.counts.get("planned", 0) == 0
    rows = _sft(out)
    assert rows and all(tuple(r) == SFT_KEYS for r in rows)
    meta = [json.loads(line) for line in (out / "sft.meta.jsonl").read_text().splitlines()]
    assert all(m["judge"]["provider"] == "openai" and m["scores"] for m in meta)
    assert openai_server.paid_twice() == []
    _assert_no_key_anywhere(out)


def test_transient_errors_are_retried_and_nothing_is_lost(tmp_path: Path, photo_dir: Path) -> None:
    with FakeGemini(api_key=KEY, retry_after=0.02, fault_rates={"429": 0.15, "503": 0.1, "drop": 0.05}, seed=1) as s:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GEMINI_API_KEY", KEY)
            mp.delenv("GOOGLE_API_KEY", raising=False)
            mp.setenv("GOOGLE_GEMINI_BASE_URL", s.base_url)
            runner = _run(tmp_path / "run", photo_dir, "gemini")
        assert s.count(fault="429") + s.count(fault="503") + s.count(fault="drop") > 0
        assert s.paid_twice() == []
    counts = runner.counts
    assert counts.get("planned", 0) == 0 and sum(counts.values()) == 8  # every task accounted for


def test_prefilter_keeps_unchanged_edits_away_from_the_paid_judge(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    gemini.script(*(["unchanged"] * 8), role="editor")  # every task's first edit hands the photo back
    out = tmp_path / "run"
    _run(out, photo_dir, "gemini")
    db = sqlite3.connect(out / "ledger.sqlite")
    verdicts = [json.loads(js) for (js,) in db.execute("SELECT json FROM verdicts")]
    by_prefilter = [v for v in verdicts if v["model"]["model"] == "metric-judge"]
    assert len(by_prefilter) == 8 and all("no visible change" in v["rationale"] for v in by_prefilter)
    assert all(v["passed"] is False for v in by_prefilter)
    paid_judge_calls = gemini.count(role="judge")
    assert paid_judge_calls == len(verdicts) - 8  # the unchanged ones never reached gemini-2.5-pro


def test_budget_stops_the_run_cleanly_and_a_larger_budget_resumes_it(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    out = tmp_path / "run"
    first = _run(out, photo_dir, "gemini", budget_usd=0.05)
    assert first.stopped and "budget" in first.stopped
    assert first.spent_usd <= 0.05
    assert first.counts.get("planned", 0) > 0  # work left for later, none lost
    second = _run(out, photo_dir, "gemini", budget_usd=100)
    assert second.stopped is None and second.counts.get("planned", 0) == 0
    assert gemini.paid_twice() == []


def test_a_bad_key_stops_the_run_with_a_clear_reason(tmp_path: Path, photo_dir: Path, gemini: FakeGemini) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEMINI_API_KEY", "AIzaWRONG-key-000000000000")
        runner = _run(tmp_path / "run", photo_dir, "gemini")
    assert runner.stopped and "no retry can fix" in runner.stopped
    assert "AIzaWRONG" not in runner.stopped


def test_a_planted_key_is_nowhere_in_logs_exports_or_report(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    import subprocess
    import sys

    gemini.script("429", "500", "drop", None, "bad_json", role="judge")  # errors get logged: none may carry the key
    out = tmp_path / "run"
    env = {**__import__("os").environ, "GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": gemini.base_url}
    args = ["run", "--images", str(photo_dir), "--out", str(out), "--provider", "gemini", "--per-photo", "1",
            "--multi-turn", "1", "--workers", "1"]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "editforge", *args], env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    for fmt in ("hf", "webdataset"):
        subprocess.run([sys.executable, "-m", "editforge", "export", str(out), "--format", fmt], check=True,
                       capture_output=True, timeout=300)  # fmt: skip
    report = subprocess.run([sys.executable, "-m", "editforge", "report", str(out)], capture_output=True, timeout=300)
    assert report.returncode == 0, report.stderr.decode()[-2000:]
    assert (out / "hf").is_dir() and (out / "webdataset").is_dir() and (out / "report" / "index.html").is_file()
    for stream in (done.stdout, done.stderr, report.stdout, report.stderr):
        assert KEY.encode() not in stream
    _assert_no_key_anywhere(out)


def test_an_edit_identical_to_an_earlier_attempt_is_not_judged_again(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    gemini.script(*(["unchanged"] * 24), role="editor")  # every attempt of 8 tasks: the photo handed back
    out = tmp_path / "run"
    _run(out, photo_dir, "gemini")
    db = sqlite3.connect(out / "ledger.sqlite")
    reused = db.execute("SELECT COUNT(*) FROM verdicts WHERE json_extract(json, '$.rationale') LIKE 'same image%'")
    # attempt 2 of every task: the verdict of attempt 1, not a new call; and no attempt 3, since attempts
    # 1 and 2 failed the same way
    assert reused.fetchone()[0] == 8
    assert db.execute("SELECT MAX(idx) FROM attempts").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM calls WHERE role IN ('judge', 'prefilter')").fetchone()[0] == 8
    assert gemini.count(role="judge") == 0  # and the prefilter kept the unchanged photos from the paid judge


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli_run(tmp_path: Path, photos: Path, provider: str, env: dict[str, str], **settings) -> tuple[int, str, float]:
    import os
    import subprocess
    import sys
    import time

    import yaml

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "images": str(photos), "out": str(tmp_path / "run"), "per_photo": 2, "workers": 1,
        "roles": {role: {"provider": provider} for role in ("writer", "rewriter", "editor", "judge")}, **settings,
    }))  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "editforge", "run", str(config), "-q"],
        env={**clean, **env, "COLUMNS": "300"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.returncode, done.stderr, time.monotonic() - started


@pytest.mark.parametrize(
    "provider, endpoint, env",
    [  # a closed local port (connection refused), and a host that never resolves (.invalid, RFC 2606)
        ("gemini", "http://127.0.0.1:{closed_port}", {"GEMINI_API_KEY": KEY}),
        ("openai", "http://editforge-no-such-host.invalid/v1", {"OPENAI_API_KEY": KEY}),
    ],
    ids=["gemini-refused", "openai-unresolvable"],
)
def test_no_connection_stops_at_once_naming_the_endpoint(
    tmp_path: Path, photo_dir: Path, provider: str, endpoint: str, env: dict[str, str]
) -> None:
    endpoint = endpoint.format(closed_port=_closed_port() if "{closed_port}" in endpoint else "")
    base_url = {"gemini": "GOOGLE_GEMINI_BASE_URL", "openai": "OPENAI_BASE_URL"}[provider]
    code, err, _ = _cli_run(
        tmp_path, photo_dir, provider, {**env, base_url: endpoint},
        retries={"max_tries": 6, "base_s": 0.5, "max_wait_s": 2.0},
    )  # fmt: skip
    assert code not in (0, 130), err
    stopped = [line for line in err.splitlines() if line.startswith("stopped:")]
    assert len(stopped) == 1 and f"cannot connect to {endpoint}" in stopped[0], err
    assert "rate limit" not in err and "deferred" not in err and "run the same command again" not in err, err
    assert KEY not in err


def test_a_rejected_key_says_so_and_not_to_resume(tmp_path: Path, photo_dir: Path, gemini: FakeGemini) -> None:
    code, err, _ = _cli_run(
        tmp_path, photo_dir, "gemini", {"GEMINI_API_KEY": "AIzaWRONG-key-000000000000",
                                        "GOOGLE_GEMINI_BASE_URL": gemini.base_url},
    )  # fmt: skip
    assert code not in (0, 130), err
    assert "API key not valid" in err and "GEMINI_API_KEY" in err, err
    assert "run the same command again" not in err and "AIzaWRONG" not in err, err

