"""kill -9 in the middle of `editforge import picobanana`, then the same command again: nothing verified
is fetched twice and every row ends up imported."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from editforge.testing.fake_web import FakeWeb
from picobanana_support import build_many

ROWS = 24


def _command(release, out: Path) -> list[str]:
    return [sys.executable, "-m", "editforge", "import", "picobanana", "--out", str(out), "--splits", "sft",
            "--base-url", release.base_url, "--manifest-dir", str(release.manifests), "--openimages-dir",
            str(release.tar), "--openimages-csv", str(release.csv), "--allow-private-urls", "--connections", "2",
            "--exports", ""]  # fmt: skip


def _verified(out: Path) -> set[str]:
    if not (out / "ledger.sqlite").exists():
        return set()
    try:
        db = sqlite3.connect(f"file:{out / 'ledger.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            return {key for (key,) in db.execute("SELECT key FROM import_images WHERE ok = 1 AND key LIKE 'edit:%'")}
        finally:
            db.close()
    except sqlite3.OperationalError:  # the ledger or its table is not there yet
        return set()


def test_kill_9_mid_download_then_resume_fetches_nothing_verified_again(
    tmp_path: Path, small_photos: dict[str, np.ndarray]
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with FakeWeb(latency_s=0.25) as web:
        release = build_many(tmp_path / "release", small_photos["chelsea"], web, ROWS)
        out = tmp_path / "pb"
        first = subprocess.Popen(_command(release, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_verified(out)) < 4 and first.poll() is None:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        verified = _verified(out)
        assert 4 <= len(verified) < ROWS, "the kill must land mid-download"
        hits_at_kill = {f"/nb/{key.split(':', 1)[1]}": web.hits[f"/nb/{key.split(':', 1)[1]}"] for key in verified}

        second = subprocess.run(_command(release, out), env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert {path: web.hits[path] for path in hits_at_kill} == hits_at_kill  # verified: never asked again
        assert all(web.hits[f"/nb/{path}"] >= 1 for path in release.edits)
        said = " ".join(second.stderr.split())
        assert f"{ROWS} imported, 0 not imported" in said and "do not redistribute it" in said
        db = sqlite3.connect(out / "ledger.sqlite")
        assert db.execute("SELECT COUNT(*) FROM tasks WHERE status = 'passed'").fetchone()[0] == ROWS
        assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == ROWS
