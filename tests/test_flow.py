"""A task's way through the models (engine.flow): every billed call is counted, failures included.

The fake servers keep their own invoice (`bill()`: the usage of every answer they sent, refusals and
unusable replies too), written apart from the provider code; the ledger, `status` and `--budget` must
agree with it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from editforge.cli.app import app
from editforge.config import build_config
from editforge.engine.runner import LocalRunner
from editforge.models.prices import Price, PriceTable
from editforge.records import Usage
from editforge.testing.fake_gemini import FakeGemini
from editforge.testing.fake_openai import FakeOpenAI

KEY = "AIzaTEST-editforge-billing-key-0000000000"
DOABLE = ["color_tone", "film_grain_vintage", "zoom_in", "weather"]  # types the fakes' classical editor does
FAST_RETRIES = {"max_tries": 4, "base_s": 0.01, "max_wait_s": 0.05}


def _run(out: Path, folder: Path, provider: str, **settings) -> LocalRunner:
    values = {
        "out": out,
        "images": folder,
        "per_photo": 1,
        "workers": 1,
        "seed": 5,
        "retries": FAST_RETRIES,
        "roles": {role: {"provider": provider} for role in ("writer", "rewriter", "editor", "judge")},
        **settings,
    }
    runner = LocalRunner(build_config(values, {}), quiet=True)
    runner.summary = runner.run()
    return runner


def _invoice(bill: list[tuple[str, int, int, int]], prices: PriceTable) -> float:
    return sum(prices.cost(m, Usage(input_tokens=i, output_tokens=o, images=n)) for m, i, o, n in bill)


def _ledger(out: Path) -> sqlite3.Connection:
    return sqlite3.connect(out / "ledger.sqlite")


@pytest.fixture
def gemini(monkeypatch: pytest.MonkeyPatch):
    with FakeGemini(api_key=KEY, retry_after=0.02) as server:
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
        yield server


def test_refusals_and_unparsed_replies_on_gemini_are_in_the_ledger_and_status(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    gemini.script("safety", role="writer")
    gemini.script("safety", "image_safety", "text_only", "truncated_image", role="editor")
    gemini.script("bad_json", "bad_json", role="judge")  # asked twice, never parsed: a judge failure
    out = tmp_path / "run"
    # One judge call at a time: both of a call's asks (it asks twice) meet the two scripted bad replies.
    runner = _run(out, photo_dir, "gemini", limits={"gemini-2.5-pro": {"concurrency": 1}})
    assert gemini.errors == [] and runner.summary.counts.get("planned", 0) == 0
    invoice = _invoice(gemini.bill(), PriceTable())
    assert invoice > 0 and runner.summary.spent_usd == pytest.approx(invoice, rel=1e-6)
    failed = _ledger(out).execute("SELECT role, cost_usd FROM calls WHERE status = 'failed'").fetchall()
    assert {role for role, _ in failed} == {"writer", "editor", "judge"} and len(failed) >= 6
    assert all(cost > 0 for _, cost in failed)  # every one of them was answered, so billed
    status = CliRunner().invoke(app, ["status", str(out)])
    assert status.exit_code == 0, status.output
    assert f"{invoice:.4f}" in status.output and f"({len(failed)} calls)" in status.output


def test_refusals_and_unparsed_replies_on_an_openai_server_are_in_the_ledger(
    tmp_path: Path, photo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(api_key=KEY, retry_after=0) as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        server.script("refusal", route="writer")
        server.script("content_filter", route="rewriter")
        server.script("no_image_data", "truncated_b64", route="editor")
        server.script("malformed_json", "malformed_json", route="judge")
        out = tmp_path / "run"
        runner = _run(out, photo_dir, "openai", edit_types=DOABLE, limits={"gpt-6.2-sol": {"concurrency": 1}})
        invoice = _invoice(server.bill(), PriceTable())
        assert server.errors == []
        spoilt = [e for e in server.log if e.route == "editor" and e.fault and e.status == 200]
    assert runner.summary.spent_usd == pytest.approx(invoice, rel=1e-6)
    failed = _ledger(out).execute("SELECT role, cost_usd FROM calls WHERE status = 'failed'").fetchall()
    billed = sorted(role for role, cost in failed if cost > 0)
    assert len(spoilt) == 2 and billed == ["editor"] * len(spoilt) + ["judge", "rewriter", "writer"]


def test_the_budget_counts_refused_edits(tmp_path: Path, photo_dir: Path, gemini: FakeGemini) -> None:
    gemini.script(*(["image_safety"] * 40), role="editor")  # every edit refused, every refusal billed
    prices = {"gemini-2.5-flash-image": Price(input_per_mtok=100.0, per_image=0.039)}
    out = tmp_path / "run"
    runner = _run(
        out, photo_dir, "gemini", budget_usd=0.3, prices=prices,
        limits={"gemini-2.5-flash-image": {"concurrency": 1}},
    )  # fmt: skip
    invoice = _invoice(gemini.bill(), PriceTable(prices))
    assert gemini.count(role="editor", fault="image_safety") >= 2
    assert runner.summary.stopped and "budget" in runner.summary.stopped
    assert invoice <= 0.3 and runner.summary.spent_usd == pytest.approx(invoice, rel=1e-6)


def test_a_timed_out_call_is_recorded_as_possibly_billed(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    gemini.hang_s = 20
    gemini.script("hang", role="judge")  # no reply: the server may still have done (and billed) it
    out = tmp_path / "run"
    runner = _run(out, photo_dir, "gemini", timeout_s=4.0)  # roomy: the local prefilter has the same limit
    assert runner.summary.counts.get("planned", 0) == 0  # the retry went through
    rows = _ledger(out).execute("SELECT role, status, cost_usd FROM calls WHERE possibly_billed = 1").fetchall()
    assert len(rows) == 1 and rows[0][:2] == ("judge", "timeout") and rows[0][2] > 0
    invoice = _invoice(gemini.bill(), PriceTable())
    assert runner.summary.spent_usd == pytest.approx(invoice + rows[0][2], rel=1e-6)  # counted on top
    status = CliRunner().invoke(app, ["status", str(out)])
    assert "timed out, possibly billed" in status.output and "(1 calls)" in status.output


def test_a_retry_is_told_why_the_judge_rejected_the_last_attempt(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    import json

    from editforge.models.prompting import RETRY_NOTE

    gemini.script("blank", role="editor")  # the first edit comes back a flat grey: rejected as broken
    out = tmp_path / "run"
    _run(out, photo_dir, "gemini", photos=1)
    db = _ledger(out)
    (task_id,) = db.execute("SELECT task_id FROM attempts WHERE idx = 2").fetchone()
    first, second = (json.loads(js) for (js,) in db.execute(
        "SELECT json FROM attempts WHERE task_id = ? ORDER BY idx LIMIT 2", (task_id,)))  # fmt: skip
    rejected = json.loads(db.execute("SELECT json FROM verdicts WHERE attempt_id = ?", (first["attempt_id"],))
                          .fetchone()[0])  # fmt: skip
    assert rejected["passed"] is False and rejected["rationale"]
    assert first["feedback"] is None and second["feedback"] == rejected["rationale"]
    assert second["instruction"] == first["instruction"]  # the recorded (and exported) instruction stays clean
    prompts = [c.prompt for c in gemini.calls if c.role == "editor"]
    retry = [p for p in prompts if RETRY_NOTE in p]
    assert len(retry) == 1 and retry[0].startswith(first["instruction"]) and rejected["rationale"][:40] in retry[0]


def test_a_task_failing_twice_the_same_way_gets_no_third_attempt(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    from editforge.engine.flow import SAME_FAILURE_NOTE

    gemini.script("unchanged", "unchanged", "unchanged", role="editor")  # the first task: the photo handed back
    out = tmp_path / "run"
    _run(out, photo_dir, "gemini", photos=1)
    db = _ledger(out)
    (task_id, reason) = db.execute("SELECT task_id, reason FROM tasks WHERE status = 'failed'").fetchone()
    assert SAME_FAILURE_NOTE in reason
    assert db.execute("SELECT COUNT(*) FROM attempts WHERE task_id = ?", (task_id,)).fetchone()[0] == 2
    assert gemini.count(role="editor", fault="unchanged") == 2  # the third edit was never bought


def test_a_billed_first_ask_is_counted_when_the_second_ask_fails_transiently(
    tmp_path: Path, photo_dir: Path, gemini: FakeGemini
) -> None:
    gemini.script("bad_json", "503", role="judge")  # ask 1 answered (billed) but unreadable; ask 2: a 503
    out = tmp_path / "run"
    runner = _run(out, photo_dir, "gemini", photos=1, judge_prefilter=False, edit_types=DOABLE)
    invoice = _invoice(gemini.bill(), PriceTable())
    assert gemini.count(role="judge", fault="503") == 1 and runner.summary.counts.get("planned", 0) == 0
    assert runner.summary.spent_usd == pytest.approx(invoice, rel=1e-6)  # the retried judge call's first ask too
    rows = _ledger(out).execute("SELECT role, status, cost_usd FROM calls WHERE error LIKE '%503%'").fetchall()
    assert len(rows) == 1 and rows[0][:2] == ("judge", "failed") and rows[0][2] > 0
