"""One measured run for bench/ray_engine.py, in a fresh interpreter: `python _ray_child.py SPEC.json REPORT.json`.

SPEC: {"config": {...RunConfig...}, "instant": bool}. With "instant", engine.work's stage functions are
replaced by ones that return a valid record at once (no pixels touched): what is left is the driver's
own work — flow, dispatch, ledger commits — which is the coordination ceiling being measured.
The report: wall time, the task phase's span from the ledger's call timestamps, calls and tasks, and
the driver's peak resident memory (VmHWM; ru_maxrss would carry the parent's size across exec).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from editforge.records import Attempt, Instruction, ModelRef, Photo, Scores, SourceFailure, Task, Verdict, stable_id

REF = ModelRef(provider="instant", model="instant", prompt_version="0")
PASS = Scores(instruction_compliance=1.0, seamlessness=1.0, preservation=1.0, technical_quality=1.0)


def instant_ingest(item: Any, max_side: int) -> Photo | SourceFailure:
    from editforge.engine import work

    rel = work.context().images.put(np.full((64, 64, 3), 128, np.uint8))  # one stored image, written once
    return Photo(photo_id=stable_id("photo", item.uri), uri=item.uri, image=rel, width=64, height=64)


def instant_write(task: Task, photo: Photo) -> Instruction:
    return Instruction(task_id=task.task_id, kind="long", text=f"apply {task.edit_type} to the photo", model=REF)


def instant_rewrite(task: Task, long: Instruction) -> Instruction:
    return Instruction(task_id=task.task_id, kind="short", text=f"{task.edit_type}", model=REF)


def instant_edit(task: Task, instruction: str, index: int, feedback: str | None = None) -> Attempt:
    return Attempt(
        attempt_id=stable_id("attempt", task.task_id, index), task_id=task.task_id, index=index, seed=task.seed,
        instruction=instruction, status="ok", output_image=task.input_image, width=64, height=64, model=REF,
    )  # fmt: skip


def instant_judge(task: Task, attempt: Attempt, threshold: float, sample: int | None = None) -> Verdict:
    return Verdict(
        attempt_id=attempt.attempt_id, task_id=task.task_id, status="scored", scores=PASS, threshold=threshold,
        rationale="instant", model=REF,
    )  # fmt: skip


def use_instant_models() -> None:
    """Put the instant functions in engine.work's place, from this file imported as `_ray_child` (not as
    __main__): pool workers and Ray actors (bench/ray_engine.py puts bench/ on their path) then find them
    by name, as they find engine.work's own; cloudpickle would send __main__'s by value on every call."""
    import _ray_child as instant

    from editforge.engine import work

    work.do_ingest, work.do_write = instant.instant_ingest, instant.instant_write  # type: ignore[assignment]
    work.do_rewrite, work.do_edit = instant.instant_rewrite, instant.instant_edit  # type: ignore[assignment]
    work.do_judge = instant.instant_judge  # type: ignore[assignment]


def vm_hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ledger_figures(out: Path) -> dict[str, Any]:
    db = sqlite3.connect(out / "ledger.sqlite")
    try:
        first, last, calls = db.execute(
            "SELECT MIN(created), MAX(created), COUNT(*) FROM calls WHERE role != 'ingest'"
        ).fetchone()
        counts = dict(db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall())
    finally:
        db.close()
    return {"task_phase_s": (last or 0) - (first or 0), "calls": calls, "tasks": counts}


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    if spec.get("instant"):
        use_instant_models()
    from editforge.config import build_config
    from editforge.pipeline import run

    config = build_config(spec["config"], {})
    started = time.monotonic()
    summary = run(config, quiet=True)
    wall = time.monotonic() - started
    report = {"wall_s": wall, "driver_peak_mib": vm_hwm_mib(), "stopped": summary.stopped, **ledger_figures(config.out)}
    Path(sys.argv[2]).write_text(json.dumps(report))


if __name__ == "__main__":
    main()
