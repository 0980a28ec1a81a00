"""The local runner: photos → plan → (write → rewrite → [edit → judge] ≤ N) per task → exports.

Model and image work runs in a bounded process pool (CPU-bound classical models scale across cores);
this process only orchestrates with asyncio and is the single writer of the ledger. Every result is
committed the moment it arrives, and every step first looks in the ledger, so a killed run started
again continues where it stopped and never redoes a finished call.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.console import Console

from editforge.config import ConfigError, RunConfig
from editforge.engine import work
from editforge.engine.progress import RunProgress, Tally, category_table
from editforge.export.picobanana import export_picobanana
from editforge.records import Attempt, Photo, SourceFailure, Task, Verdict
from editforge.sources import SourceItem
from editforge.sources.folder import folder_items
from editforge.sources.samples import sample_items
from editforge.stages.plan import plan_tasks
from editforge.store.ledger import Ledger
from editforge.store.lock import RunLock

T = TypeVar("T")

# Settings that decide *what* a run makes: a resume must use the same ones or it is another run.
PLAN_KEYS = (
    "source",
    "images",
    "photos",
    "per_photo",
    "edit_types",
    "seed",
    "max_side",
    "max_attempts",
    "roles",
)


class RunAborted(RuntimeError):
    pass


@dataclass
class RunSummary:
    tasks: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    photos: int = 0
    source_failures: int = 0
    exported: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False


def list_sources(config: RunConfig) -> list[SourceItem]:
    items = sample_items() if config.source == "samples" else folder_items(config.images)  # type: ignore[arg-type]
    return items[: config.photos] if config.photos else items


class LocalRunner:
    def __init__(self, config: RunConfig, console: Console | None = None, quiet: bool = False) -> None:
        self.config = config
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.run_dir = config.out

    # -- entry point -----------------------------------------------------------------------------
    def run(self) -> RunSummary:
        self.config.check_runnable()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with RunLock(self.run_dir), Ledger(self.run_dir / "ledger.sqlite") as ledger:
            self._check_same_run(ledger)
            summary = RunSummary()
            try:
                with (
                    ProcessPoolExecutor(
                        max_workers=self.config.workers,
                        initializer=work.init_worker,
                        initargs=(self.run_dir, self.config.roles),
                    ) as pool,
                    RunProgress(self.console, self.quiet) as progress,
                ):
                    asyncio.run(self._run(ledger, pool, progress))
                    tally = progress.tally
            except KeyboardInterrupt:
                summary.interrupted = True
                tally = Tally()
                self.console.print(
                    "[yellow]interrupted: every finished step is in the ledger; "
                    "run the same command again to resume."
                )
            except BrokenProcessPool as exc:
                raise RunAborted(
                    f"a worker process died ({exc}); finished work is kept, rerun to resume"
                ) from exc
            summary.counts = ledger.count_tasks()
            summary.tasks = sum(summary.counts.values())
            summary.photos = ledger.count("photos")
            summary.source_failures = ledger.count("source_failures")
            if not summary.interrupted:
                summary.exported = export_picobanana(ledger, self.run_dir)
                if not self.quiet and tally.by_category:
                    self.console.print(category_table(tally.by_category, "this run, by category"))
            return summary

    def _check_same_run(self, ledger: Ledger) -> None:
        settings = json.dumps(self.config.model_dump(mode="json", include=set(PLAN_KEYS)), sort_keys=True)
        previous = ledger.get_meta("plan_settings")
        if previous is None:
            ledger.set_meta("plan_settings", settings)
        elif previous != settings:
            before, now = json.loads(previous), json.loads(settings)
            changed = ", ".join(k for k in PLAN_KEYS if before.get(k) != now.get(k))
            raise ConfigError(
                f"{self.run_dir} holds a run with other settings ({changed}); resume it with the same "
                "settings or choose another --out"
            )

    # -- the run ---------------------------------------------------------------------------------
    async def _run(self, ledger: Ledger, pool: ProcessPoolExecutor, progress: RunProgress) -> None:
        loop = asyncio.get_running_loop()

        def call(fn: Callable[..., T], *args: Any) -> Awaitable[T]:
            return loop.run_in_executor(pool, fn, *args)

        photos = await self._ingest(ledger, call, progress)
        types = await loop.run_in_executor(None, work.supported_types, self.config.roles)
        allowed = types["writer"] & types["editor"] & types["judge"]
        if self.config.edit_types:
            allowed &= frozenset(self.config.edit_types)
        if not allowed:
            raise ConfigError(
                "no edit type is supported by the writer, editor and judge together "
                f"(writer {sorted(types['writer'])}, editor {sorted(types['editor'])}, "
                f"judge {sorted(types['judge'])}, asked {self.config.edit_types})"
            )
        ledger.add_tasks(plan_tasks(photos, allowed, self.config.per_photo, self.config.seed))
        counts = ledger.count_tasks()
        todo = list(ledger.tasks("planned"))
        progress.start("tasks", total=sum(counts.values()), done=sum(counts.values()) - len(todo))
        photo_by_id = {p.photo_id: p for p in photos}

        async def one(task: Task) -> None:
            status = await self._task(ledger, call, task, photo_by_id[task.photo_id])
            progress.advance("tasks", task.edit_type, status)

        await _bounded(one, todo, limit=self.config.workers * 2)

    async def _ingest(
        self, ledger: Ledger, call: Callable[..., Awaitable[Any]], progress: RunProgress
    ) -> list[Photo]:
        items = list_sources(self.config)
        new = [item for item in items if not ledger.is_known_source(item.uri)]
        progress.start("photos", total=len(items), done=len(items) - len(new))

        async def one(item: SourceItem) -> None:
            result = await call(work.do_ingest, item, self.config.max_side)
            if isinstance(result, SourceFailure):
                ledger.add_source_failure(result)
                self.console.log(f"[yellow]skipped photo[/] {result.reason}")
            else:
                ledger.add_photo(result)
            progress.advance("photos")

        await _bounded(one, new, limit=self.config.workers * 2)
        seen: dict[str, Photo] = {}
        for item in items:  # source order, each distinct photo once (duplicates share a pixel hash)
            photo = ledger.photo_for_uri(item.uri)
            if photo is not None:
                seen.setdefault(photo.photo_id, photo)
        return list(seen.values())

    async def _task(
        self, ledger: Ledger, call: Callable[..., Awaitable[Any]], task: Task, photo: Photo
    ) -> str:
        long = ledger.instruction(task.task_id, "long")
        if long is None:
            result = await call(work.do_write, task, photo)
            if isinstance(result, work.StageFailure):
                ledger.set_task_status(task.task_id, "error", result.reason)
                return "error"
            long = _recorded(ledger.add_instruction, result)
        if ledger.instruction(task.task_id, "short") is None:
            result = await call(work.do_rewrite, task, long)
            if isinstance(result, work.StageFailure):
                ledger.set_task_status(task.task_id, "error", result.reason)
                return "error"
            ledger.add_instruction(result)
        done: dict[int, Attempt] = {a.index: a for a in ledger.attempts(task.task_id)}
        verdicts: dict[str, Verdict] = ledger.verdicts(task.task_id)
        reasons: list[str] = []
        for index in range(1, self.config.max_attempts + 1):
            attempt = done.get(index) or _recorded(
                ledger.add_attempt, await call(work.do_edit, task, long.text, index)
            )
            if attempt.status != "ok":
                reasons.append(f"attempt {index}: {attempt.error}")
                continue
            verdict = verdicts.get(attempt.attempt_id) or _recorded(
                ledger.add_verdict, await call(work.do_judge, task, attempt, self.config.threshold)
            )
            if verdict.passed:
                ledger.set_task_status(task.task_id, "passed")
                return "passed"
            reasons.append(
                f"attempt {index}: {verdict.status} {verdict.score if verdict.score is not None else ''}"
                f" {verdict.rationale[:120]}"
            )
        ledger.set_task_status(task.task_id, "failed", "; ".join(reasons)[:2000])
        return "failed"


def _recorded(add: Callable[[T], None], record: T) -> T:
    add(record)
    return record


async def _bounded(fn: Callable[[T], Awaitable[None]], items: Iterable[T], limit: int) -> None:
    """Run fn over items with at most `limit` in flight, without creating every coroutine up front."""
    pending: set[asyncio.Task[None]] = set()
    for item in items:
        if len(pending) >= limit:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for f in finished:
                f.result()
        pending.add(asyncio.ensure_future(fn(item)))
    if pending:
        finished, _ = await asyncio.wait(pending)
        for f in finished:
            f.result()


def status_counts(ledger: Ledger) -> tuple[dict[str, int], dict[str, Counter[str]]]:
    by_type: dict[str, Counter[str]] = {}
    for edit_type, status, n in ledger.counts_by_type():
        by_type.setdefault(edit_type, Counter())[status] += n
    return ledger.count_tasks(), by_type
