"""An `editforge run` as a subprocess in its own process group, sampled once a second: the resident memory
of every process in the group (runner and workers, /proc) and, read-only, the ledger's progress; and what
its ledger says at the end. Used by bench/load.py; what each figure means: docs/reliability-load.md.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _hosted_common import DONE, log, start_run

from editforge.testing.fake_gemini import FakeGemini

SAMPLE_S = 1.0
MIB = 1024 * 1024


# -- what the run's processes hold ----------------------------------------------------------------------------
def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
            elif key == "Threads":
                out[key] = int(value)
    except (OSError, ValueError):
        pass
    return out


def group_pids(pgid: int) -> list[int]:
    """Every live process in process group `pgid` (the runner, its pool workers, their helpers)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


@dataclass
class Sample:
    t: float  # seconds since the run started
    done: int  # tasks passed + failed + error, from the ledger
    rss_total: int  # bytes, the whole process group
    rss_runner: int  # bytes, the runner (the `python -m editforge` process) alone
    hwm_runner: int  # the runner's high-water mark so far (VmHWM)
    rss_workers: int  # bytes, every other process of the group
    processes: int
    runner_threads: int
    bench_rss: int  # this process (the fake server), context only


def ledger_done(db_path: Path) -> tuple[int, int] | None:
    """(tasks done, tasks in the ledger), read-only; None while the ledger is not there or busy."""
    if not db_path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=0.2)
        try:
            counts = dict(db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return sum(n for s, n in counts.items() if s in DONE), sum(counts.values())


@dataclass
class Invocation:
    rc: int
    wall_s: float
    cpu_s: float  # the run and its workers, user + system
    bench_cpu_s: float  # this process (the fake server) over the same time
    samples: list[Sample]
    stderr_tail: str


def run_sampled(config: Path, server: FakeGemini, run_dir: Path, log_path: Path, timeout_s: float) -> Invocation:
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    samples: list[Sample] = []
    started = time.monotonic()
    last_done, last_log = 0, started
    with log_path.open("ab") as err:
        proc = start_run(config, server, err)  # its own process group: sampled (and killed) as one
        try:
            next_sample = started
            while proc.poll() is None:
                now = time.monotonic()
                if now - started > timeout_s:
                    raise TimeoutError(f"editforge run {config} took over {timeout_s:.0f} s")
                if now >= next_sample:
                    next_sample += SAMPLE_S
                    counts = ledger_done(run_dir / "ledger.sqlite")
                    last_done = counts[0] if counts else last_done
                    pids = group_pids(proc.pid)
                    stats = {pid: _status(pid) for pid in pids}
                    runner = stats.get(proc.pid, {})
                    total = sum(s.get("VmRSS", 0) for s in stats.values())
                    samples.append(
                        Sample(
                            t=round(now - started, 2),
                            done=last_done,
                            rss_total=total,
                            rss_runner=runner.get("VmRSS", 0),
                            hwm_runner=runner.get("VmHWM", 0),
                            rss_workers=total - runner.get("VmRSS", 0),
                            processes=len(pids),
                            runner_threads=runner.get("Threads", 0),
                            bench_rss=_status(os.getpid()).get("VmRSS", 0),
                        )
                    )
                    if now - last_log >= 30:
                        last_log = now
                        log(
                            f"  {now - started:5.0f} s: {last_done} tasks done, {len(server.calls)} requests, "
                            f"RSS {total / MIB:.0f} MiB (runner {runner.get('VmRSS', 0) / MIB:.0f})"
                        )
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
            proc.wait()
    wall = time.monotonic() - started
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
    bench_cpu = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
    tail = log_path.read_text(errors="replace")[-2000:]
    if proc.returncode != 0:
        raise RuntimeError(f"editforge run {config} exited {proc.returncode}:\n{tail}")
    return Invocation(proc.returncode, wall, cpu, bench_cpu, samples, tail)


# -- what the ledger says at the end ----------------------------------------------------------------------
def ledger_figures(run_dir: Path) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        tasks = dict(db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall())
        photos = db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
        skipped = db.execute("SELECT COUNT(*) FROM source_failures").fetchone()[0]
        calls = db.execute("SELECT COUNT(*) FROM calls WHERE provider != 'offline'").fetchone()[0]
        rejudged = _rejudged_identical(db)
        errors = dict(
            db.execute(
                "SELECT SUBSTR(COALESCE(reason, ''), 1, 60), COUNT(*) FROM tasks WHERE status = 'error' GROUP BY 1"
            ).fetchall()
        )
    finally:
        db.close()
    sft = run_dir / "sft.jsonl"
    rows = sft.read_text().splitlines() if sft.is_file() else []
    return {
        "tasks": tasks,
        "photos": photos,
        "photos_skipped": skipped,
        "hosted_calls_committed": calls,
        "error_reasons": errors,
        "rejudged_identical_edits": rejudged,
        "sft_rows": len(rows),
        "sft_duplicates": len(rows) - len(set(rows)),
    }


def _rejudged_identical(db: sqlite3.Connection) -> int:
    """Paid judge calls on an edit byte-identical to one of the same task's earlier attempts, judged before:
    the same request sent again (the offline editor behind the fake can return the same image for two seeds)."""
    judged = {a for a, js in db.execute("SELECT attempt_id, json FROM verdicts") if '"provider":"gemini"' in js}
    seen: set[tuple[str, str]] = set()
    again = 0
    for task_id, attempt_id, js in db.execute("SELECT task_id, attempt_id, json FROM attempts ORDER BY task_id, idx"):
        image = json.loads(js).get("output_image")
        if attempt_id not in judged or not image:
            continue
        again += (task_id, image) in seen
        seen.add((task_id, image))
    return again
