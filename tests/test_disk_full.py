"""A full disk mid-run: a clear error, a consistent ledger, and the same command finishes once there is room."""

from __future__ import annotations

import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path


def _run(args: list[str], file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:  # in the child: writes past the limit fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        [sys.executable, "-m", "editforge", *args], capture_output=True, text=True, timeout=300,
        preexec_fn=limit if file_size_limit else None,
    )  # fmt: skip


def test_full_disk_gives_a_clear_error_and_the_rerun_finishes(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--images", str(photo_dir), "--out", str(out), "--per-photo", "3", "--workers", "1", "-q"]
    first = _run(args, file_size_limit=200_000)  # room for the ledger's start, not for every image
    assert first.returncode == 2, first.stderr[-2000:]
    assert "cannot write to" in first.stderr and "Traceback" not in first.stderr
    db = sqlite3.connect(out / "ledger.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    second = _run(args)
    assert second.returncode == 0, second.stderr[-2000:]
    db = sqlite3.connect(out / "ledger.sqlite")
    assert db.execute("SELECT COUNT(*) FROM tasks WHERE status = 'planned'").fetchone()[0] == 0


def test_a_full_disk_during_intake_does_not_blame_the_photos(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--images", str(photo_dir), "--out", str(out), "--per-photo", "1", "--workers", "1", "-q"]
    first = _run(args, file_size_limit=60_000)  # the photos themselves cannot be stored
    assert first.returncode == 2 and "cannot write to" in first.stderr
    db = sqlite3.connect(out / "ledger.sqlite")
    assert db.execute("SELECT COUNT(*) FROM source_failures").fetchone()[0] == 0
    db.close()
    assert _run(args).returncode == 0
    db = sqlite3.connect(out / "ledger.sqlite")
    assert db.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == 4
