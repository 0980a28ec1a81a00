"""The work of a finished run alone: its stage calls replayed serially in this process, and the cost of
dispatching one stage call to a pool worker. Used by bench/offline_pipeline.py; see docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


# -- the work alone: replay a finished run's calls serially, in this process ----------------------------
class TimedImages:
    """The run's image store, timing reads (PNG decode) and writes (hash + PNG encode + atomic write).

    It also counts the decode time an 8-entry per-process cache of decoded images would have saved
    (store paths are content hashes, so such a cache could never serve stale pixels).
    """

    CACHE = 8

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.decode_s = 0.0
        self.encode_s = 0.0
        self.redecode_s = 0.0
        self._recent: list[str] = []

    def _touch(self, rel: str) -> bool:
        hit = rel in self._recent
        if hit:
            self._recent.remove(rel)
        self._recent = [*self._recent, rel][-self.CACHE :]
        return hit

    def get(self, rel: str) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.get(rel)
        finally:
            elapsed = time.perf_counter() - started
            self.decode_s += elapsed
            if self._touch(rel):
                self.redecode_s += elapsed

    def put(self, image: np.ndarray) -> str:
        started = time.perf_counter()
        try:
            rel = self.inner.put(image)
            self._touch(rel)
            return rel
        finally:
            self.encode_s += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


PIECES = ("ingest", "decode", "write", "rewrite", "edit", "judge", "encode")


@dataclass
class Replay:
    pieces: dict[str, float]  # seconds of work per piece (see PIECES)
    calls: dict[str, int]  # stage calls made, per stage
    setup_s: float  # building the four models once (a worker does this on its first calls)
    redecode_s: float  # decode time an 8-entry cache of decoded images would have saved
    mismatches: list[str]  # where the replay disagreed with the ledger (should be none: runs are seeded)

    @property
    def work_s(self) -> float:
        return sum(self.pieces.values())


def replay_run(run_dir: Path, images: Path, scratch: Path) -> Replay:
    """Re-run, serially and in this process, every stage call the run recorded in its ledger.

    Same provider classes, same stage functions (engine/work.py's do_*), same arguments, into a fresh
    image store (so every output is encoded and written again, as in the run). Decode and encode are
    split out of the stage times by timing the store's get/put.
    """
    from editforge.config import Roles
    from editforge.engine import work
    from editforge.sources.folder import folder_items
    from editforge.store.ledger import Ledger

    with Ledger(run_dir / "ledger.sqlite") as ledger:
        settings = json.loads(ledger.get_meta("plan_settings") or "{}")
        photos_by_uri = {item.uri: ledger.photo_for_uri(item.uri) for item in folder_items(images)}
        tasks = []
        for task in ledger.tasks():
            attempts = ledger.attempts(task.task_id)
            tasks.append(
                (
                    task,
                    ledger.photo(task.photo_id),
                    ledger.instruction(task.task_id, "long"),
                    ledger.instruction(task.task_id, "short"),
                    attempts,
                    ledger.verdicts(task.task_id),
                )
            )
    roles = Roles.model_validate(settings.get("roles", {}))
    ctx = work.WorkerContext(scratch, roles)
    images_io = TimedImages(ctx.images)
    ctx.images = images_io  # type: ignore[assignment]
    previous, work._context = work._context, ctx
    pieces = dict.fromkeys(PIECES, 0.0)
    calls: Counter[str] = Counter()
    mismatches: list[str] = []

    def timed(piece: str, fn: Any, *args: Any) -> Any:
        d0, e0 = images_io.decode_s, images_io.encode_s
        started = time.perf_counter()
        result = fn(*args)
        elapsed = time.perf_counter() - started
        decode, encode = images_io.decode_s - d0, images_io.encode_s - e0
        pieces["decode"] += decode
        pieces["encode"] += encode
        pieces[piece] += elapsed - decode - encode
        calls[piece] += 1
        return result

    try:
        # Import the model modules first (untimed): in a run the parent imports them before the pool forks.
        from editforge.models.offline.core import analysis  # noqa: F401 - imported lazily by do_ingest

        throwaway = work.WorkerContext(scratch, roles)
        for role in ("writer", "rewriter", "editor", "judge"):
            throwaway.model(role)  # type: ignore[arg-type]
        started = time.perf_counter()
        for role in ("writer", "rewriter", "editor", "judge"):
            ctx.model(role)  # type: ignore[arg-type]
        setup = time.perf_counter() - started

        for item in folder_items(images):
            photo = timed("ingest", work.do_ingest, item, settings.get("max_side", 1024))
            known = photos_by_uri.get(item.uri)
            if getattr(photo, "photo_id", None) != getattr(known, "photo_id", None):
                mismatches.append(f"ingest {item.uri}")
        for task, photo, long, short, attempts, verdicts in tasks:
            written = timed("write", work.do_write, task, photo)
            if long is None:  # the run's writer failed here too, and the task stopped
                continue
            if getattr(written, "text", None) != long.text:
                mismatches.append(f"write {task.task_id}")
            rewritten = timed("rewrite", work.do_rewrite, task, long)
            if short is None:
                continue
            if getattr(rewritten, "text", None) != short.text:
                mismatches.append(f"rewrite {task.task_id}")
            for recorded in attempts:
                attempt = timed("edit", work.do_edit, task, long.text, recorded.index)
                if (attempt.status, attempt.output_image) != (recorded.status, recorded.output_image):
                    mismatches.append(f"edit {recorded.attempt_id}")
                verdict = verdicts.get(recorded.attempt_id)
                if verdict is None or attempt.output_image is None:
                    continue
                again = timed("judge", work.do_judge, task, attempt, verdict.threshold)
                if (again.status, again.passed) != (verdict.status, verdict.passed):
                    mismatches.append(f"judge {recorded.attempt_id}")
    finally:
        work._context = previous
    return Replay(
        pieces=pieces,
        calls=dict(calls),
        setup_s=setup,
        redecode_s=images_io.redecode_s,
        mismatches=mismatches,
    )


# -- pieces of the orchestration, measured on their own -----------------------------------------------
def _echo(*args: Any) -> Any:
    return args[-1]


def dispatch_cost(run_dir: Path, calls: int = 300) -> float:
    """Seconds per stage call spent getting real arguments to a pool worker and a record back.

    One worker, one call in flight at a time, through asyncio's run_in_executor as the runner does, with
    a recorded Task + Photo as arguments and a recorded Attempt as the result.
    """
    from editforge.store.ledger import Ledger

    with Ledger(run_dir / "ledger.sqlite") as ledger:
        task = next(iter(ledger.tasks()))
        photo = ledger.photo(task.photo_id)
        attempt = ledger.attempts(task.task_id)[0]

    async def go(pool: ProcessPoolExecutor) -> float:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(pool, _echo, task, photo, attempt)
        started = time.perf_counter()
        for _ in range(calls):
            await loop.run_in_executor(pool, _echo, task, photo, attempt)
        return (time.perf_counter() - started) / calls

    with ProcessPoolExecutor(max_workers=1) as pool:
        return asyncio.run(go(pool))
