"""Ctrl-C during a run: the first stops it gently, the second stops it at once.

People (and `timeout`, which sends SIGINT) press Ctrl-C twice within a fraction of a second. The first
press lets the runner stop handing out work and finish cleanly (summary, resumable ledger). A second
press must not leave the process waiting on a worker that will never answer: it kills the workers and
ends the process there and then. The ledger stays consistent because SQLite commits are atomic: a
transaction cut short is rolled back when the ledger is next opened, as after a power cut.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a Ctrl-C
_early_presses = 0  # Ctrl-C presses before a run took SIGINT over (see watch_early_presses)


def watch_early_presses() -> None:
    """Count a Ctrl-C pressed while the program is still starting, then raise as Python would.

    Python can swallow that KeyboardInterrupt ("Exception ignored in …" when it lands inside a C
    callback or a finaliser), and the run would then go on as if nothing was pressed. The count
    survives: a run that starts after a press stops at once, gently, as after a first Ctrl-C."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _count_early)


def _count_early(signum: int, frame: FrameType | None) -> None:
    global _early_presses
    _early_presses += 1
    raise KeyboardInterrupt


class Interrupts:
    """Owns SIGINT while a run is in progress (only in the main thread, where Python delivers signals).

    `on_first` is called on the first Ctrl-C (from the signal handler: it must only set flags or
    schedule work); any later one kills `workers()` and exits with status 130 straight away.
    """

    def __init__(
        self,
        on_first: Callable[[], None],
        workers: Callable[[], Iterable[Executor]],
        cleanup: Callable[[], None] = lambda: None,
    ) -> None:
        self.on_first = on_first
        self.workers = workers
        self.cleanup = cleanup
        self.count = 0
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        if _early_presses:  # pressed during start-up and swallowed there: the run stops as it begins
            self.count = 1
            self.on_first()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            # After a first Ctrl-C the person wants out: another press while the summary prints (or
            # Python shuts down) ends the process there, quietly, instead of raising a traceback.
            signal.signal(signal.SIGINT, _leave if self.count else self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            self.on_first()
            return
        self.stop_now()

    def stop_now(self) -> None:
        """Kill every worker process, say so in one line, exit 130. Never returns."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a third press must not interrupt the exit itself
        kill_workers(self.workers())
        with contextlib.suppress(Exception):  # leaving now matters more than tidying up
            self.cleanup()
        message = (
            "\nstopped at once (Ctrl-C twice): workers killed. Every finished step is in the ledger; "
            "run the same command again to resume.\n"
        )
        # os.write, not print: the interrupted code may be inside a write to the same stream.
        if sys.stderr is not None and sys.stderr.isatty():
            message = "\x1b[?25h" + message  # the progress bar hid the cursor; give it back
        with contextlib.suppress(OSError):
            os.write(2, message.encode())
        os._exit(EXIT_INTERRUPTED)


def _leave(signum: int, frame: FrameType | None) -> None:
    os._exit(EXIT_INTERRUPTED)


def kill_workers(executors: Iterable[Executor]) -> None:
    """SIGKILL the processes behind `executors` and any other child this process started."""
    processes: dict[int, Any] = {}
    for executor in executors:
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            processes[process.pid] = process
    for child in multiprocessing.active_children():
        processes.setdefault(child.pid, child)
    for process in processes.values():
        with contextlib.suppress(OSError, ValueError, AttributeError):  # already gone
            process.kill()
