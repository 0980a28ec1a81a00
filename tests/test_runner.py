"""The local runner: a run killed with SIGKILL resumes with nothing lost, nothing done twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "editforge", *map(str, args)]


def _ledger_rows(out: Path, table: str) -> dict[str, str]:
    db = sqlite3.connect(out / "ledger.sqlite")
    key = {"attempts": "attempt_id", "verdicts": "attempt_id", "instructions": "task_id || kind"}[table]
    rows = dict(db.execute(f"SELECT {key}, json FROM {table}").fetchall())
    db.close()
    return rows


def _status(out: Path) -> str:
    """`editforge status OUT`, flattened; every row label appears once."""
    done = subprocess.run(
        _cli("status", out), capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"}
    )
    assert done.returncode == 0, done.stderr
    labels = [line.split("│")[1].strip() for line in done.stdout.splitlines() if line.count("│") >= 3]
    assert len(labels) == len(set(labels)), labels
    assert "sessions" in labels and "spent so far (USD)" in labels
    return " ".join(done.stdout.split())


def _wait_for_attempts(out: Path, proc: subprocess.Popen, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        try:
            if len(_ledger_rows(out, "attempts")) >= at_least:
                return
        except sqlite3.OperationalError:
            pass  # ledger not created yet
        time.sleep(0.05)
    pytest.fail("run made no progress")


def test_killed_run_resumes_without_redoing_work(tmp_path: Path, photo_dir: Path) -> None:
    args = ("run", "--images", photo_dir, "--per-photo", 4, "--seed", 5, "--workers", 2, "--quiet")
    reference = tmp_path / "uninterrupted"
    subprocess.run(_cli(*args, "--out", reference), check=True, capture_output=True, timeout=300)

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli(*args, "--out", out), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True
    )
    _wait_for_attempts(out, proc, at_least=3)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-run
    proc.wait()
    assert "killed" in _status(out)
    before = {table: _ledger_rows(out, table) for table in ("instructions", "attempts", "verdicts")}
    assert not (out / "sft.jsonl").exists(), "killed before the end: no export yet"

    resumed = subprocess.run(_cli(*args, "--out", out), capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    for table, rows in before.items():
        after = _ledger_rows(out, table)
        # every finished call is kept as it was: none redone (a redo would change elapsed time or raw reply)
        assert {k: after[k] for k in rows} == rows, f"{table} redone after resume"

    def dataset(run: Path) -> list[tuple[str, str, str]]:
        lines = (run / "sft.jsonl").read_text().splitlines()
        return sorted((r["edit_type"], r["text"], r["output_image"]) for r in map(json.loads, lines))

    assert dataset(out) == dataset(reference), "a resumed run ends with the dataset of an uninterrupted one"
    assert len(dataset(out)) == len(set(dataset(out)))
    db = sqlite3.connect(out / "ledger.sqlite")
    assert db.execute("SELECT COUNT(*) FROM tasks WHERE status = 'planned'").fetchone()[0] == 0


def test_a_second_run_on_the_same_directory_is_refused(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    args = ("run", "--images", photo_dir, "--out", out, "--per-photo", 4, "--workers", 1, "--quiet")
    first = subprocess.Popen(_cli(*args), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    _wait_for_attempts(out, first, at_least=1)
    assert f"running (pid {first.pid})" in _status(out)
    second = subprocess.run(_cli(*args), capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and "another editforge run" in " ".join(second.stderr.split())
    first.wait(timeout=300)
    assert first.returncode == 0
    text = _status(out)
    assert "finished" in text and "nothing left to run" in text
    db = sqlite3.connect(out / "ledger.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*) FROM tasks WHERE status = 'planned'").fetchone()[0] == 0


def test_ctrl_c_stops_cleanly_with_a_summary_and_the_run_resumes(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    args = ("run", "--images", photo_dir, "--out", out, "--per-photo", 4, "--workers", 1)
    proc = subprocess.Popen(_cli(*args), stderr=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    _wait_for_attempts(out, proc, at_least=2)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends the whole foreground group on Ctrl-C
    _, err = proc.communicate(timeout=120)
    text = " ".join(err.decode().split())
    assert proc.returncode == 130, text[-2000:]
    assert "stopped: interrupted" in text and "run the same command again to resume" in text
    assert "Traceback" not in text
    db = sqlite3.connect(out / "ledger.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    text = _status(out)
    assert "stopped: interrupted (Ctrl-C)" in text and "a rerun resumes" in text
    resumed = subprocess.run(_cli(*args, "--quiet"), capture_output=True, timeout=300)
    assert resumed.returncode == 0
    assert db.execute("SELECT COUNT(*) FROM tasks WHERE status = 'planned'").fetchone()[0] == 0


def _offline_run(out: Path, folder: Path, **settings: object):
    from editforge.config import build_config
    from editforge.pipeline import run

    values = {"out": out, "images": folder, "per_photo": 2, "workers": 1, "seed": 2,
              "edit_types": ["color_tone", "film_grain_vintage", "zoom_in", "weather"], **settings}  # fmt: skip
    return run(build_config(values, {}), quiet=True)


def test_photos_added_to_the_folder_do_not_replan_a_resumed_runs_photos(
    tmp_path: Path, photo_dir: Path, small_photos
) -> None:
    from PIL import Image

    out = tmp_path / "run"
    _offline_run(out, photo_dir)
    db = sqlite3.connect(out / "ledger.sqlite")
    before = set(db.execute("SELECT task_id, photo_id, edit_type FROM tasks WHERE session_id IS NULL"))
    Image.fromarray(small_photos["coffee"][::-1]).save(photo_dir / "000-first.png")  # sorts before the others
    _offline_run(out, photo_dir)
    after = set(db.execute("SELECT task_id, photo_id, edit_type FROM tasks WHERE session_id IS NULL"))
    assert before < after  # the earlier photos' tasks are all still there, and no new ones for them
    per_photo = dict(db.execute("SELECT photo_id, COUNT(*) FROM tasks WHERE session_id IS NULL GROUP BY photo_id"))
    assert len(per_photo) == len({p for _, p, _ in before}) + 1 and set(per_photo.values()) == {2}


def test_changing_the_threshold_of_a_run_is_refused_not_mixed(tmp_path: Path, photo_dir: Path) -> None:
    from editforge.config import ConfigError

    out = tmp_path / "run"
    _offline_run(out, photo_dir, photos=1)
    with pytest.raises(ConfigError, match="threshold"):
        _offline_run(out, photo_dir, photos=1, threshold=0.5)
    db = sqlite3.connect(out / "ledger.sqlite")  # a ledger from before threshold was part of the identity
    settings = json.loads(db.execute("SELECT value FROM meta WHERE key = 'plan_settings'").fetchone()[0])
    del settings["threshold"]
    db.execute("UPDATE meta SET value = ? WHERE key = 'plan_settings'", (json.dumps(settings),))
    db.commit()
    with pytest.raises(ConfigError, match="judged at threshold 0.7"):  # its verdicts still say which bar
        _offline_run(out, photo_dir, photos=1, threshold=0.5)
    _offline_run(out, photo_dir, photos=1)  # the same bar resumes
