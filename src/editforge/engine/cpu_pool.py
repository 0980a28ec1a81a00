"""The CPU process pool, made to survive its workers: a dead worker is replaced, a hung one killed.

The standard ProcessPoolExecutor breaks for good when one worker dies (a segfault in an image library,
the OOM killer): every pending call fails with BrokenProcessPool and no new call is taken. This wrapper
starts a fresh pool instead and fails the calls the broken one held with a TransientModelError, which
the Dispatcher retries like any transient failure. A call past its timeout (a hung worker) makes the
Dispatcher call `replace_hung()`: the workers are killed, so the pool breaks and is replaced the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from editforge.models.base import TransientModelError

REASON = "a CPU worker process died (segfault or out of memory); the pool was restarted"


class RestartingProcessPool(Executor):
    def __init__(self, make: Callable[[], ProcessPoolExecutor], log: Callable[[str], None] = lambda line: None):
        self._make = make
        self._log = log
        self._lock = threading.Lock()
        self._pool = make()
        self.restarts = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            pool = self._pool
        try:
            inner = pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:  # broke before this call: a fresh pool takes it
            inner = self._restart(pool).submit(fn, *args, **kwargs)
        outer: Future[Any] = Future()

        def relay(done: Future[Any]) -> None:
            if done.cancelled():
                Future.cancel(outer)  # the class's own cancel: the instance's is the inner call's
                return
            error = done.exception()
            if isinstance(error, BrokenProcessPool):
                self._restart(pool)
                error = TransientModelError(REASON)
            if outer.set_running_or_notify_cancel():
                if error is None:
                    outer.set_result(done.result())
                else:
                    outer.set_exception(error)

        inner.add_done_callback(relay)
        # The Dispatcher's timeout starts when a worker takes the call: mirror the inner call's state.
        outer.running = inner.running  # type: ignore[method-assign]
        outer.cancel = inner.cancel  # type: ignore[method-assign]
        return outer

    def _restart(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is broken:  # the first caller to see it broken replaces it, once
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._make()
                self.restarts += 1
                self._log(f"[yellow]{REASON}[/]; its calls are retried")
            return self._pool

    def replace_hung(self) -> None:
        """A call ran past its timeout: its worker cannot be stopped alone, so the pool's workers are killed.
        The pool then breaks, is replaced, and every call it held is retried (see `submit`)."""
        with self._lock:
            pool = self._pool
        for process in list((pool._processes or {}).values()):
            process.kill()

    def kill(self) -> None:
        """End every worker now (a hung one never finishes), then shut the pool down."""
        with self._lock:
            pool = self._pool
        processes = list((pool._processes or {}).values())  # the stdlib offers no way to stop one worker
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            pool = self._pool
        pool.shutdown(wait=wait, cancel_futures=cancel_futures)
