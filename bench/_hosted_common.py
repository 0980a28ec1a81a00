"""Helpers of the hosted-backends benchmark: runs of the CLI against the fake Gemini server, kills, ledgers.

The fake server (editforge.testing.fake_gemini) runs in the benchmark's process; editforge runs as a
subprocess (`python -m editforge run CONFIG.yaml`), in its own process group so that a SIGKILL takes its
worker processes down with it, exactly as `kill -9 -PGID` would. See docs/benchmarks-hosted.md.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from editforge.testing.fake_gemini import Call, FakeGemini

KEY = "AIzaBENCH-editforge-hosted-0000000000000"  # the fake's key: not a real one
ROLES = ("writer", "rewriter", "editor", "judge")
DONE = ("passed", "failed", "error")  # a task in any other state at the end of a run is lost


def offline_types() -> list[str]:
    """The edit types the fake's offline models really do (writer and editor): the others only fail."""
    from editforge.models.offline.editor.editor import ClassicalEditor
    from editforge.models.offline.writer.writer import TemplateWriter

    return sorted(set(ClassicalEditor.supported_types) & set(TemplateWriter.supported_types))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- running the CLI ----------------------------------------------------------------------------------------
def write_config(path: Path, **settings: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}
    path.write_text(yaml.safe_dump(plain, sort_keys=False))
    return path


def gemini_roles(model: str | None = None) -> dict[str, dict[str, Any]]:
    """All four roles on gemini: Pico-Banana's models, or one model name for all (one quota to fill)."""
    return {role: {"provider": "gemini", **({"model": model} if model else {})} for role in ROLES}


@dataclass
class Invocation:
    """One `editforge run` subprocess: how it ended and what it cost this machine."""

    rc: int
    wall_s: float
    cpu_s: float  # user + system of the run and its worker processes
    killed_at: float | None = None  # time.monotonic() of the SIGKILL, if it was killed
    stderr_tail: str = ""


def start_run(config: Path, server: FakeGemini, log_file: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start `python -m editforge run CONFIG -q` against `server`, its output into `log_file`, in a process
    group of its own: a kill (or a sample of its memory) reaches the pool's workers too."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")}
    env |= {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": server.base_url}
    return subprocess.Popen(
        [sys.executable, "-m", "editforge", "run", str(config), "-q"],
        stdout=log_file,
        stderr=log_file,
        env=env,
        start_new_session=True,
    )


def run_cli(
    config: Path,
    server: FakeGemini,
    log_path: Path,
    kill_when: Callable[[], bool] | None = None,
    timeout_s: float = 600,
) -> Invocation:
    """`python -m editforge run CONFIG -q` against `server`; SIGKILL its process group once `kill_when()`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    killed_at = None
    with log_path.open("ab") as err:
        proc = start_run(config, server, err)
        try:
            while proc.poll() is None:
                if time.monotonic() - started > timeout_s:
                    raise TimeoutError(f"editforge run {config} took over {timeout_s:.0f} s")
                if kill_when is not None and killed_at is None and kill_when():
                    killed_at = time.monotonic()
                    os.killpg(proc.pid, signal.SIGKILL)
                time.sleep(0.005)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    wall = time.monotonic() - started
    _reap_group(proc.pid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tail = log_path.read_text(errors="replace")[-1500:]
    if killed_at is None and proc.returncode != 0:
        raise RuntimeError(f"editforge run {config} exited {proc.returncode}:\n{tail}")
    return Invocation(proc.returncode, wall, cpu, killed_at, tail)


def _reap_group(pgid: int) -> None:
    """Wait until no process of the killed group is left (orphaned workers die with the SIGKILL too)."""
    for _ in range(400):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def paid_count(server: FakeGemini) -> int:
    return sum(server.paid.values())


# -- what a run left behind ------------------------------------------------------------------------------
@dataclass
class LedgerStats:
    tasks: dict[str, int]
    cost_usd: float
    calls_by_role: dict[str, int]
    cost_by_role: dict[str, float]
    sft_rows: int
    sft_unique: int
    verdicts_by_judge: dict[str, int] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return sum(n for status, n in self.tasks.items() if status not in DONE)

    @property
    def calls_total(self) -> int:
        return sum(self.calls_by_role.values())

    @property
    def total_tasks(self) -> int:
        return sum(self.tasks.values())


def ledger_stats(run_dir: Path) -> LedgerStats:
    db = sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        tasks = dict(db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall())
        cost = float(db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM calls").fetchone()[0])
        by_role = db.execute("SELECT role, COUNT(*), COALESCE(SUM(cost_usd), 0) FROM calls GROUP BY role").fetchall()
        judges: dict[str, int] = {}
        for (js,) in db.execute("SELECT json FROM verdicts"):
            model = json.loads(js)["model"]["model"]
            judges[model] = judges.get(model, 0) + 1
    finally:
        db.close()
    sft = run_dir / "sft.jsonl"
    rows = [json.loads(line) for line in sft.read_text().splitlines()] if sft.is_file() else []
    keys = {json.dumps(r, sort_keys=True) for r in rows}
    return LedgerStats(
        tasks=tasks,
        cost_usd=cost,
        calls_by_role={r: n for r, n, _ in by_role},
        cost_by_role={r: c for r, _, c in by_role},
        sft_rows=len(rows),
        sft_unique=len(keys),
        verdicts_by_judge=judges,
    )


def hosted_calls(run_dir: Path) -> int:
    """Calls to a hosted model the run has committed to its ledger (each one answered 200 by the server)."""
    db = sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM calls WHERE provider != 'offline'").fetchone()[0])
    finally:
        db.close()


def attempt_outcomes(run_dir: Path) -> dict[str, int]:
    """Edit attempts by outcome: no usable image, judged and failed, passed."""
    db = sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        passed = dict(db.execute("SELECT attempt_id, passed FROM verdicts").fetchall())
        out = {"attempts": 0, "no_image": 0, "judged_failed": 0, "passed": 0}
        for attempt_id, js in db.execute("SELECT attempt_id, json FROM attempts"):
            out["attempts"] += 1
            if json.loads(js)["status"] != "ok":
                out["no_image"] += 1
            elif passed.get(attempt_id):
                out["passed"] += 1
            else:
                out["judged_failed"] += 1
        return out
    finally:
        db.close()


def kill_after(server: FakeGemini, answers: int, delay_s: float) -> Callable[[], bool]:
    """A kill condition: `delay_s` after the server's `answers`-th 200 answer — a random instant of the
    run rather than the moment right after an answer (answers come in bursts; a crash does not)."""
    seen: list[float] = []

    def due() -> bool:
        if not seen and paid_count(server) >= answers:
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() >= seen[0] + delay_s

    return due


def cumulative_costs(run_dir: Path) -> list[float]:
    """The run's spend after each committed call, in commit order."""
    db = sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        costs = [float(c) for (c,) in db.execute("SELECT cost_usd FROM calls ORDER BY id")]
    finally:
        db.close()
    total, out = 0.0, []
    for c in costs:
        total += c
        out.append(total)
    return out


# -- the server's view of a run ----------------------------------------------------------------------------
@dataclass
class Rate:
    per_min: float  # requests a minute over the window
    start: float  # the window, in time.monotonic()
    end: float
    window_s: float
    requests: int  # in the window
    mean_in_flight: float  # server-side, over the window (latency × rate)


def steady_rate(calls: list[Call], lo: float = 0.1, hi: float = 0.9) -> Rate:
    """Requests/min between the `lo` and `hi` quantiles of arrival time: the steady part of a run,
    without the start (a burst, then photo ingest and the first writes) or the tail (the last tasks
    draining, too few to keep the quota busy)."""
    arrivals = sorted(c.arrived for c in calls)
    if len(arrivals) < 20:
        raise ValueError(f"too few requests ({len(arrivals)}) to find a steady rate")
    i, j = int(lo * (len(arrivals) - 1)), int(hi * (len(arrivals) - 1))
    start, end = arrivals[i], arrivals[j]
    window = end - start
    inside = j - i  # requests that arrived in [start, end)
    busy = sum(max(0.0, min(c.answered, end) - max(c.arrived, start)) for c in calls if c.answered)
    return Rate(inside / window * 60, start, end, window, inside, busy / window)


def quota_allowance(calls: list[Call], rpm: float, burst_s: float, start: float, end: float) -> float:
    """Requests the server's token bucket could have let through in [start, end): what it held at `start`
    plus what it gained until `end` (replayed from the accepted arrivals, as the fake takes them)."""
    rate = rpm / 60
    size = max(1.0, rate * burst_s)
    tokens, at = size, None
    for c in sorted(calls, key=lambda c: c.arrived):
        if c.arrived >= start:
            break
        if at is not None:
            tokens = min(size, tokens + (c.arrived - at) * rate)
        tokens, at = tokens - 1.0, c.arrived
    if at is not None:
        tokens = min(size, tokens + (start - at) * rate)
    return tokens + (end - start) * rate
