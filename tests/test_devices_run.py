"""Whole runs with roles on device workers (test-only device providers, tests/device_support.py): the
release is written, a crashed worker loses nothing, a resumed run pays nothing twice, and the end table
shows device-seconds per kept example."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from device_support import PROVIDER
from editforge.config import build_config
from editforge.models.registry import PROVIDERS
from editforge.pipeline import run


@pytest.fixture(autouse=True)
def testdevice_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS, *PROVIDER)


def _config(out: Path, photos: Path, state: Path, editor: dict[str, Any]) -> Any:
    device = {"provider": "testdevice", "options": {"state_dir": str(state), "batch_wait_s": 0.2}}
    return build_config(
        {
            "out": str(out),
            "images": str(photos),
            "per_photo": 2,
            "seed": 3,
            "workers": 1,
            "roles": {
                "rewriter": {**device, "options": {**device["options"], "batch_size": 4}},
                "editor": {**device, "options": {**device["options"], "batch_size": 4, **editor}},
            },
            "retries": {"base_s": 0.01, "max_wait_s": 0.05},
        },
        {},
    )


def _calls(out: Path) -> list[tuple[str, str, float]]:
    db = sqlite3.connect(out / "ledger.sqlite")
    rows = db.execute("SELECT role, status, device_seconds FROM calls ORDER BY id").fetchall()
    db.close()
    return rows


def test_a_run_on_device_workers_survives_a_crash_and_resumes_paying_nothing_twice(
    tmp_path: Path, photo_dir: Path
) -> None:
    out, state = tmp_path / "run", tmp_path / "state"
    state.mkdir()
    text = io.StringIO()
    console = Console(file=text, width=200)
    summary = run(_config(out, photo_dir, state, {"crash_once": True}), console=console)
    assert summary.stopped is None and summary.deferred == 0
    assert summary.tasks == 8 and summary.counts.get("planned", 0) == 0
    assert summary.counts.get("passed", 0) >= 1
    assert (state / "crashed").exists() and "died (exit code 3)" in text.getvalue()
    sft = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    assert len(sft) == summary.counts["passed"]
    calls = _calls(out)
    device_calls = [c for c in calls if c[0] in ("rewriter", "editor")]
    assert device_calls and all(seconds > 0 for _, _, seconds in device_calls)
    assert "device-s / kept" in text.getvalue() and "models" in text.getvalue()
    db = sqlite3.connect(out / "ledger.sqlite")
    raws = [json.loads(j)["raw_reply"] for (j,) in db.execute("SELECT json FROM instructions WHERE kind = 'short'")]
    db.close()
    assert max(int(r.split()[0].removeprefix("batch=")) for r in raws) > 1  # tasks' rewrites met in a batch

    # resumed on other devices with another batch size: where a model runs is no plan setting
    resumed = _config(out, photo_dir, state, {"crash_once": True, "devices": ["cpu"], "batch_size": 2})
    again = run(resumed, console=Console(file=io.StringIO()))
    assert again.counts == summary.counts
    assert _calls(out) == calls  # resumed: not one model call made twice
