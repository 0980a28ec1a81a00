"""The local runner: photos → plan → tasks (engine.flow) → sessions, resumable at every step.

CPU-bound work runs in a bounded process pool; I/O-bound model calls run concurrently in threads under
per-model limits (engine.calls). This process orchestrates with asyncio and is the single writer of
the ledger. A run stops cleanly — ledger consistent, summary printed — on Ctrl-C, on reaching its
budget, and on an error no retry can fix (a bad key); running the same command again resumes it.

Where the work runs is the one thing another engine changes: `_executors` yields an executor per role
(and for ingest); the Ray engine overrides it and keeps everything else. The engine writes no files for
users: `editforge.pipeline` hands the finished ledger to the exporters (through `run(finish=...)`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import cv2
from rich.console import Console
from rich.markup import escape

from editforge.config import ConfigError, RunConfig
from editforge.engine import run_state, work
from editforge.engine.bounded import run_bounded
from editforge.engine.calls import BudgetReached, CallDeferred, Dispatcher, ModelUnreachable
from editforge.engine.cpu_pool import RestartingProcessPool
from editforge.engine.devices.pool import DevicePool, device_pools
from editforge.engine.flow import TaskFlow
from editforge.engine.intake import Intake
from editforge.engine.interrupt import Interrupts
from editforge.engine.plan_settings import check_same_run
from editforge.engine.progress import RunProgress, category_table, device_line, single_turn_by_category
from editforge.engine.run_photos import RunPhotos, add_planned
from editforge.engine.sessions import SessionFlow
from editforge.engine.skipped import NoUsablePhotos, no_usable_photos
from editforge.engine.targets import Goals
from editforge.models.base import FatalModelError
from editforge.models.prices import PriceTable
from editforge.records import Session, Task
from editforge.stages.plan import PlannedSoFar, iter_plan_tasks, plan_sessions
from editforge.store.images import record_images_uri
from editforge.store.ledger import Ledger
from editforge.store.lock import RunLock

T = TypeVar("T")


class RunAborted(RuntimeError):
    pass


@dataclass
class RunSummary:
    tasks: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    photos: int = 0
    source_failures: int = 0
    exported: dict[str, int] = field(default_factory=dict)
    spent_usd: float = 0.0
    stopped: str | None = None  # why the run stopped early (interrupted, budget, fatal error)
    deferred: int = 0  # tasks left planned after transient failures outlasted retries
    sessions: dict[str, int] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)  # how far each mix target got
    fatal: bool = False  # `stopped` by an error to fix first (a rejected key, an unreachable endpoint)
    # The same tasks split the way people read them: single-turn ones (→ SFT / preference rows) and the
    # later turns of sessions (→ multi-turn rows). `counts` is their sum.
    single_turn: dict[str, int] = field(default_factory=dict)
    turns: dict[str, int] = field(default_factory=dict)


class LocalRunner:
    def __init__(self, config: RunConfig, console: Console | None = None, quiet: bool = False) -> None:
        self.config = config
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.run_dir = config.out
        self._stop: str | None = None
        self._fatal = False  # stopped by an error a rerun alone cannot fix (a rejected key, no network)
        self._deferred = 0
        self._live_executors: list[Executor] = []
        self._main_task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self.goals = Goals(config.targets)
        self.device_pools: dict[str, DevicePool] = {}  # while running: the device roles' workers
        self._abandoned_calls = 0
        self._device_summary = ""

    def run(self, finish: Callable[[Ledger], dict[str, int]] | None = None) -> RunSummary:
        """Run to the end (or a clean stop). `finish`, if given, is called with the ledger while the run
        still holds its lock (the pipeline writes the exports there); what it returns is `exported`."""
        self.config.check_runnable()
        fresh = not self.run_dir.exists()
        try:
            return self._run_in_dir(finish)
        except (ConfigError, NoUsablePhotos):
            if fresh:  # a run that could not start leaves nothing behind: the next try starts clean
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise
        except (OSError, sqlite3.OperationalError) as exc:  # a full disk, a read-only or vanished directory
            raise RunAborted(
                f"cannot write to {self.run_dir}: {exc}; every step finished before this is kept in the ledger"
                " — free space or fix permissions, then run the same command again"
            ) from exc

    def _run_in_dir(self, finish: Callable[[Ledger], dict[str, int]] | None) -> RunSummary:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # The pool is the parallelism: OpenCV's own threads on top oversubscribe the cores (the benchmark
        # measured 1.16 busy cores for one worker). Set here, before the workers fork, because changing
        # it inside a forked worker can wait forever on the parent's thread pool.
        cv2.setNumThreads(max(1, (os.cpu_count() or 1) // self.config.workers))
        lock = RunLock(self.run_dir)
        interrupts = Interrupts(self._interrupted, lambda: self._live_executors, cleanup=lock.remove)
        with interrupts, lock, Ledger(self.run_dir / "ledger.sqlite") as ledger:
            self._check_same_run(ledger)
            run_state.mark(ledger, "running")
            try:
                record_images_uri(self.run_dir, self.config.images_uri)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            models = work.build_models(self.config.roles)
            work.init_parent(self.run_dir, self.config.roles, models, self.config.images_uri)
            summary = RunSummary()
            progress = RunProgress(self.console, self.quiet)
            try:
                with self._executors(models) as executors, progress:
                    self._live_executors = list({id(e): e for e in executors.values()}.values())
                    dispatcher = self._dispatcher(executors, models, ledger.spent_usd())
                    try:
                        summary.deferred = asyncio.run(self._run(ledger, executors, dispatcher, models, progress))
                    finally:
                        dispatcher.close()
                        self._abandoned_calls = dispatcher.abandoned_calls
            except (KeyboardInterrupt, asyncio.CancelledError):
                # KeyboardInterrupt when SIGINT is not ours to handle (a run started off the main thread)
                if self._stop is None and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
                    raise
                self._stop = self._stop or "interrupted (Ctrl-C)"
            except BrokenProcessPool as exc:
                raise RunAborted(f"a worker process died ({exc}); finished work is kept, rerun to resume") from exc
            finally:
                self._live_executors = []
            summary.stopped = self._stop
            summary.counts = ledger.count_tasks()
            summary.tasks = sum(summary.counts.values())
            summary.single_turn = ledger.count_tasks(single_turn=True)
            summary.turns = ledger.count_tasks(single_turn=False)
            summary.photos = ledger.count("photos")
            summary.source_failures = ledger.count("source_failures")
            summary.spent_usd = ledger.spent_usd()
            summary.sessions = ledger.count_sessions()
            summary.targets = self.goals.report(self._stop, summary.deferred)
            summary.exported = finish(ledger) if finish is not None else {}
            run_state.mark(ledger, "stopped" if summary.stopped else "finished", summary.stopped)
            by_category = single_turn_by_category(ledger)
            if not self.quiet and by_category:
                costs = ledger.cost_by_type() if summary.spent_usd else None
                device_s = ledger.device_seconds_by_type()
                table = category_table(by_category, "single-turn tasks, by category", costs, device_s)
                self.console.print(table)
            if not self.quiet and self._device_summary:
                self.console.print(f"[bold]models[/] {self._device_summary}")
            summary.fatal = self._fatal
            if summary.stopped and self._fatal:  # what to fix, not "run again": that would fail the same way
                self.console.print(f"[red]stopped:[/] {escape(summary.stopped)}")
            elif summary.stopped:
                self.console.print(
                    f"[yellow]stopped: {summary.stopped}.[/] Every finished step is in the "
                    "ledger; run the same command again to resume."
                )
            return summary

    def _interrupted(self) -> None:
        """The first Ctrl-C (called from the signal handler): stop handing out work, cancel what waits."""
        self._stop = "interrupted (Ctrl-C)"
        if self._main_task is not None:
            loop, task = self._main_task
            loop.call_soon_threadsafe(task.cancel)

    @contextmanager
    def _executors(self, models: dict[str, Any]) -> Iterator[dict[str, Executor]]:
        """Where each piece of work runs: "ingest", "prefilter" and every role → an executor.

        Here: one bounded process pool for all CPU work, and long-lived spawned workers for each role
        whose model runs on a device (engine.devices), one per device, that batch its calls. I/O-bound
        roles are in neither; the dispatcher runs them in its own threads under their rate limits."""
        pool = RestartingProcessPool(
            lambda: ProcessPoolExecutor(
                max_workers=self.config.workers,
                initializer=work.init_worker,
                initargs=(self.run_dir, self.config.roles, self.config.images_uri),
            ),
            self.console.log,
        )
        try:
            with device_pools(
                models, self.run_dir, self.config.roles, self.config.local_timeout_s, self.console.log,
                self.config.images_uri,
            ) as devices:  # fmt: skip
                self.device_pools = devices
                yield {"ingest": pool, "prefilter": pool, **dict.fromkeys(models, pool), **devices}
        finally:
            if self._abandoned_calls:  # a call timed out in the pool: kill rather than wait on a hung worker
                pool.kill()
            else:
                pool.shutdown(wait=True)

    def _dispatcher(self, executors: dict[str, Executor], models: dict[str, Any], spent: float) -> Dispatcher:
        execution = {role: getattr(m, "execution", "cpu") for role, m in models.items()}
        refs = {role: m.ref for role, m in models.items()}
        prefilter = work.WorkerContext(self.run_dir, self.config.roles).model("prefilter")
        execution["prefilter"], refs["prefilter"] = "cpu", prefilter.ref
        return Dispatcher(
            executors=executors,
            execution=execution,
            refs=refs,
            limits=self.config.limits,  # type: ignore[arg-type]
            retries=self.config.retries,
            timeout_s=self.config.timeout_s,
            local_timeout_s=self.config.local_timeout_s,
            prices=PriceTable(self.config.prices),
            budget_usd=self.config.budget_usd,
            spent_usd=spent,
        )

    def _check_same_run(self, ledger: Ledger) -> None:
        check_same_run(self.config, ledger)

    async def _run(
        self,
        ledger: Ledger,
        executors: dict[str, Executor],
        dispatcher: Dispatcher,
        models: dict[str, Any],
        progress: RunProgress,
    ) -> int:
        self._main_task = (asyncio.get_running_loop(), asyncio.current_task())  # type: ignore[assignment]
        if self._stop is not None:  # Ctrl-C while the run was starting up
            raise asyncio.CancelledError
        watchdog = asyncio.create_task(self._watchdog(dispatcher))
        meter = asyncio.create_task(self._device_meter(progress)) if self.device_pools else None
        try:
            stopped = lambda: self._stop is not None  # noqa: E731
            intake = Intake(self.config, ledger, executors["ingest"], progress, self.console, stopped)
            photo_ids = await intake.run()
            if not photo_ids and self._stop is None:
                raise no_usable_photos(self.config, ledger.source_failures())
            photos = RunPhotos(ledger, photo_ids)
            allowed = self._allowed_types(models)
            # Types a writer can only write within a session (recolour the text *you added*) are not single turns.
            single = allowed - frozenset(getattr(models["writer"], "session_only_types", ()))
            weights = self.config.weight_of()
            planned = PlannedSoFar(*ledger.planned_so_far())  # a resumed run's photos keep their types
            plan = iter_plan_tasks(photos, single, self.config.per_photo, self.config.seed, weights, planned)
            add_planned(ledger, plan)
            flow = TaskFlow(
                ledger, dispatcher, self.config.max_attempts, self.config.threshold, self._use_prefilter(models),
                self.console, self.config.judge_passes, "tiebreak" in models, self.config.smart_retries,
            )  # fmt: skip
            photo_by_id = photos
            self.goals = Goals.from_ledger(self.config.targets, ledger)
            # streamed, never all in memory; a type that rarely passes waits while a target can fill without it
            todo = self.goals.scheduled(t for t in ledger.tasks("planned") if t.session_id is None)
            total, waiting = ledger.count_single_turn()
            progress.start("tasks", total=total, done=total - waiting)

            async def one(task: Task) -> None:
                status = await self._guarded(flow.run(task, photo_by_id[task.photo_id]), f"task {task.task_id}")
                if status is not None:
                    self.goals.record_outcome(task.edit_type, status)
                    if status == "passed":
                        self.goals.record_task(ledger, task.task_id)
                    progress.advance("tasks", task.edit_type, status, cost=dispatcher.spent_usd)

            stop = lambda: self._stop is not None or self.goals.single_turn_met()  # noqa: E731
            await run_bounded(one, todo, limit=self._concurrency(dispatcher), stop=stop)
            if self.goals.sessions_wanted() or any(True for _ in ledger.sessions("planned")):
                await self._sessions(ledger, SessionFlow(ledger, flow), photo_by_id, allowed, dispatcher, progress)
            return self._deferred
        finally:
            self._main_task = None
            watchdog.cancel()
            if meter is not None:
                meter.cancel()
                self._device_summary = device_line([pool.stats() for pool in self.device_pools.values()])
                progress.devices("")  # the end summary says it once, below the table

    async def _sessions(
        self,
        ledger: Ledger,
        flow: SessionFlow,
        photo_by_id: RunPhotos,
        allowed: frozenset[str],
        dispatcher: Dispatcher,
        progress: RunProgress,
    ) -> None:
        """Run planned sessions; plan more from unused passing examples until the target is met."""
        progress.start("sessions", total=0)
        while self._stop is None:
            pending = list(ledger.sessions("planned"))
            if not pending:
                wanted = self.goals.sessions_wanted()
                used = {s.first_task_id for s in ledger.sessions()}
                starters = [
                    (t, photo_by_id[t.photo_id])
                    for t in ledger.tasks("passed")
                    if t.session_id is None and t.task_id not in used and t.photo_id in photo_by_id
                ]
                if not wanted or not starters:
                    return
                cfg = self.config.sessions
                pending = plan_sessions(
                    starters, allowed, wanted, cfg.lengths, self.config.seed + len(used), cfg.on_failed_turn,
                    self.config.weight_of(),
                )  # fmt: skip
                if not pending:
                    return
                ledger.add_sessions(pending)
            progress.grow("sessions", len(pending))

            async def one(session: Session) -> None:
                photo = photo_by_id[session.photo_id]
                status = await self._guarded(flow.run(session, photo), f"session {session.session_id}")
                if status is not None:
                    self.goals.record_session(ledger, session)
                    progress.advance("sessions", status=status, cost=dispatcher.spent_usd)

            await run_bounded(one, pending, limit=self._concurrency(dispatcher), stop=lambda: self._stop is not None)
            if any(True for _ in ledger.sessions("planned")):
                return  # deferred turns: leave them for the next run rather than loop on them

    async def _guarded(self, work: Awaitable[T], label: str) -> T | None:
        """Run one task or session; turn the run-level outcomes into a stop reason or a deferral."""
        try:
            return await work
        except CallDeferred as exc:
            self._deferred += 1
            self.console.print(f"[yellow]deferred[/] {label}: {escape(str(exc))}")
        except BudgetReached as exc:
            self._stop = str(exc)
        except ModelUnreachable as exc:
            self._stop, self._fatal = str(exc), True
        except FatalModelError as exc:
            self._stop, self._fatal = f"model error no retry can fix: {exc}", True
        return None

    def _allowed_types(self, models: dict[str, Any]) -> frozenset[str]:
        types = {role: frozenset(models[role].supported_types) for role in ("writer", "editor", "judge")}
        common = types["writer"] & types["editor"] & types["judge"]
        asked = self.config.edit_types
        allowed = common & frozenset(asked) if asked else common
        if allowed:
            return allowed
        if asked:  # each asked type once, with the roles that cannot do it; the usable list once
            why = "; ".join(f"{k}: not the {' or '.join(r for r in types if k not in types[r])}" for k in asked)
            raise ConfigError(
                f"no edit type asked for is supported by the writer, editor and judge together ({why}); "
                f"together they can do: {', '.join(sorted(common)) or 'nothing'} (see `editforge taxonomy`)"
            )
        sizes = ", ".join(f"{role} {len(t)}" for role, t in types.items())
        raise ConfigError(
            f"the writer, editor and judge have no edit type in common (types each can do: {sizes}); "
            "see `editforge taxonomy` for which provider can do which"
        )

    def _use_prefilter(self, models: dict[str, Any]) -> bool:
        # In front of a paid judge only: in front of the metric judge it would judge twice.
        return self.config.judge_prefilter and models["judge"].ref.provider != "offline"

    def _concurrency(self, dispatcher: Dispatcher) -> int:
        io_slots = dispatcher.threads._max_workers if "io" in dispatcher.execution.values() else 0
        # Device workers only batch what reaches them at once: enough tasks to fill every worker's slots.
        device_slots = sum(pool.capacity() for pool in self.device_pools.values())
        return max(self.config.workers * 2, io_slots * 2, device_slots)

    async def _device_meter(self, progress: RunProgress) -> None:
        while True:
            progress.devices(device_line([pool.stats() for pool in self.device_pools.values()]))
            await asyncio.sleep(1.0)

    async def _watchdog(self, dispatcher: Dispatcher) -> None:
        """Hangs are the commonest complaint about pipeline tools: say what is stuck, and for how long."""
        interval = min(30.0, self.config.stuck_after_s / 2)
        while True:
            await asyncio.sleep(interval)
            for line in dispatcher.stuck(self.config.stuck_after_s):
                self.console.print(f"[yellow]still waiting:[/] {escape(line)}")
