"""Ctrl-C once, twice or three times at random moments of a real run (SIGINT to the process group, as a
terminal sends it): the run ends promptly with no traceback and no worker left behind, its ledger
intact and its lock file gone; running the same command again finishes the dataset of an uninterrupted
run."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TRIALS = 20  # per number of presses
EXPORTS = ("sft.jsonl", "preference.jsonl", "multi-turn.jsonl")


@pytest.fixture
def tiny_photos(tmp_path: Path, small_photos: dict[str, np.ndarray]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee", "chelsea"):
        image = Image.fromarray(small_photos[name])
        image.thumbnail((80, 80))
        image.save(folder / f"{name}.png")
    return folder


def _args(photos: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "editforge", "run", "--images", str(photos), "--out", str(out),
        "--per-photo", "1", "--workers", "1", "--multi-turn", "1", "--seed", "3",
    ]  # fmt: skip


def _start(photos: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        _args(photos, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def _group_gone(pgid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _ledger_consistent(out: Path) -> None:
    if not (out / "ledger.sqlite").exists():
        return
    db = sqlite3.connect(out / "ledger.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        orphans = {
            "verdict without attempt": "SELECT COUNT(*) FROM verdicts v LEFT JOIN attempts a USING (attempt_id)"
            " WHERE a.attempt_id IS NULL",
            "attempt without task": "SELECT COUNT(*) FROM attempts a LEFT JOIN tasks t USING (task_id)"
            " WHERE t.task_id IS NULL",
            "passed task without a passing verdict": "SELECT COUNT(*) FROM tasks t WHERE status = 'passed' AND NOT"
            " EXISTS (SELECT 1 FROM verdicts v WHERE v.task_id = t.task_id AND v.passed)",
        }
        for what, query in orphans.items():
            assert db.execute(query).fetchone()[0] == 0, what
    except sqlite3.OperationalError as exc:  # stopped before the schema existed
        assert "no such table" in str(exc)
    finally:
        db.close()


@pytest.mark.timeout(900)
def test_ctrl_c_once_twice_or_three_times_at_random_moments(tmp_path: Path, tiny_photos: Path) -> None:
    reference = tmp_path / "reference"
    started = time.monotonic()
    done = subprocess.run(_args(tiny_photos, reference), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    window = time.monotonic() - started  # start-up included: a press may land anywhere in a run
    rng = random.Random(12)
    unfinished: list[Path] = []
    outcomes: dict[int, list[int]] = {}
    for presses in (1, 2, 3):
        out = tmp_path / f"presses-{presses}-0"
        for trial in range(TRIALS):
            proc = _start(tiny_photos, out)
            time.sleep(rng.uniform(0.1, window))
            for _ in range(presses):
                try:
                    os.killpg(proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    break  # the run had already finished
                time.sleep(rng.uniform(0.03, 0.12))
            pressed = time.monotonic()
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"{presses} Ctrl-C: the run hangs (trial {trial})")
            took = time.monotonic() - pressed
            text = err.decode()
            where = f"{presses} Ctrl-C, trial {trial}: rc {proc.returncode}\n{text[-1500:]}"
            # 130, or killed by SIGINT itself when it landed while Python was still starting or already ending
            assert proc.returncode in (0, 130, -signal.SIGINT), where
            assert "Traceback" not in text and "Exception ignored" not in text, where
            if presses > 1 and proc.returncode != 0:
                assert took < 10, f"{where}\na second Ctrl-C took {took:.1f} s to stop the run"
            assert _group_gone(proc.pid), f"{where}\na worker outlived the run"
            assert not (out / ".editforge.lock").exists(), f"{where}\nthe lock file was left behind"
            _ledger_consistent(out)
            if presses == 1 and proc.returncode == 130:
                _summary_agrees_with_the_files(text, out)
            outcomes.setdefault(presses, []).append(proc.returncode)
            if proc.returncode == 0:  # finished before the press: check it, go on with a fresh run
                _same_dataset(out, reference)
                out = tmp_path / f"presses-{presses}-{trial + 1}"
        unfinished.append(out)
    print(f"\nexit codes by presses: { {k: sorted(set(v)) for k, v in outcomes.items()} }")
    assert all(130 in codes for codes in outcomes.values()), "every kind of press should have stopped some run"
    for out in unfinished:
        resumed = subprocess.run(_args(tiny_photos, out) + ["-q"], capture_output=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
        _same_dataset(out, reference)


def _summary_agrees_with_the_files(text: str, out: Path) -> None:
    """After a Ctrl-C the summary counts the rows the stopped run exported, no more, no fewer."""
    flat = " ".join(text.split())
    found = re.search(r"→ (\d+) SFT rows, (\d+) preference rows; .*?→ (\d+) multi-turn rows", flat)
    if found is None:  # stopped before the summary (still starting up): nothing was claimed
        assert "SFT rows" not in flat, flat
        return
    written = []
    for name in EXPORTS:
        path = out / name
        written.append(len(path.read_text().splitlines()) if path.exists() else 0)
    assert list(map(int, found.groups())) == written, flat


def _same_dataset(out: Path, reference: Path) -> None:
    for name in EXPORTS:
        assert (out / name).read_text() == (reference / name).read_text(), f"{out.name}: {name} differs"
