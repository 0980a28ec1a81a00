"""The runner's side of device workers: start them (spawn), feed them calls, replace the ones that die or hang.

A `DevicePool` serves one role: one worker process per device in the role's `devices` ("auto" → the
first CUDA device if the worker sees one, else the CPU; when it sees several it says so and the pool adds
one worker per further GPU). It is a `concurrent.futures.Executor`, so the Dispatcher hands it calls as it
hands the process pool. Calls wait here until a worker has a free slot, then go to the least busy one.

What can go wrong, and what the pool does:
- a call runs past the timeout → its worker is killed and replaced; that call fails with a
  TransientModelError (the Dispatcher retries it), the worker's other calls likewise;
- a worker dies (a segfault, the OOM killer) → replaced; its calls fail as transient and are retried;
- a worker cannot build or load its model → the role fails: every call gets a FatalModelError naming
  the device and the reason, and the run stops cleanly (a replacement would fail the same way).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editforge.config import Roles
from editforge.engine.devices.worker import AUTO, WorkerSpec, serve
from editforge.models import registry
from editforge.models.base import FatalModelError, Role, TransientModelError

STOP_GRACE_S = 10.0  # how long a worker may take to finish and exit before it is killed
WATCH_INTERVAL_S = 0.2


@dataclass
class _Call:
    call_id: int
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Any]
    sent: float = 0.0


class _Worker:
    def __init__(self, pool: DevicePool, device: str) -> None:
        self.pool = pool
        self.device = device  # as asked; the resolved one once the worker is ready
        self.ready = False
        self.dead = False
        self.in_flight: dict[int, _Call] = {}
        self.stats: dict[str, Any] = {}
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=serve, args=(child, pool.spec_for(device)), name=f"editforge-{pool.role}-{device}", daemon=True
        )
        self.process.start()
        child.close()
        self._send_lock = threading.Lock()
        threading.Thread(target=self._read, name=f"read-{pool.role}-{device}", daemon=True).start()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            self.conn.send(message)

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # a result that cannot be unpickled here: fail that call, keep reading
                self.pool._log(f"unreadable message from {self.pool.role} worker on {self.device}: {exc}")
                continue
            self.pool._on_message(self, message)
        self.pool._on_exit(self)
        self.conn.close()


class DevicePool(Executor):
    """One role's device workers, as an Executor: `submit(fn, *args)` runs `fn(*args)` in a worker."""

    enforces_timeout = True  # the Dispatcher leaves per-call timeouts to the pool, which can kill a hung worker

    def __init__(
        self,
        role: Role,
        model: Any,
        run_dir: Path,
        roles: Roles,
        timeout_s: float,
        log: Callable[[str], None] = lambda line: None,
        images_uri: str | None = None,
    ) -> None:
        self.role = role
        self.images_uri = images_uri
        self.run_dir = run_dir
        self.roles = roles
        self.timeout_s = timeout_s
        self._log = log
        self.max_batch = max(1, int(getattr(model, "max_batch", 1)))
        self.batch_wait_s = float(getattr(model, "batch_wait_s", 0.05))
        self.batch_note: str | None = getattr(model, "batch_note", None)
        self.slots = 2 * self.max_batch  # one batch fills while the previous one runs
        self.failed: str | None = None
        self.crashes = 0
        self.hangs = 0
        self.started = time.monotonic()
        self.ready_at: float | None = None  # when the first worker could take calls (rates count from here)
        self._lock = threading.RLock()
        self._ids = itertools.count()
        self._pending: deque[_Call] = deque()
        self._closing = False
        self._auto_expanded = False
        self._workers: list[_Worker] = []
        for device in list(getattr(model, "devices", None) or [AUTO]):
            self._workers.append(_Worker(self, device))
        self._watcher = threading.Thread(target=self._watch, name=f"watch-{role}", daemon=True)
        self._watcher.start()

    def spec_for(self, device: str) -> WorkerSpec:
        return WorkerSpec(
            role=self.role,
            device=device,
            run_dir=self.run_dir,
            roles=self.roles,
            slots=self.slots,
            max_batch=self.max_batch,
            batch_wait_s=self.batch_wait_s,
            providers=dict(registry.PROVIDERS),
            images_uri=self.images_uri,
        )

    # -- Executor ----------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if kwargs:
            raise TypeError("device workers take positional arguments only")
        future: Future[Any] = Future()
        with self._lock:
            if self.failed is not None:
                future.set_exception(FatalModelError(self.failed))
                return future
            if self._closing:
                raise RuntimeError(f"{self.role} device pool is shut down")
            self._pending.append(_Call(next(self._ids), fn, args, future))
            self._pump()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            while self._pending:
                self._pending.popleft().future.cancel()
            workers = list(self._workers)
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):  # already gone
                worker.send(("stop",))
        deadline = time.monotonic() + (STOP_GRACE_S if wait else 0.0)
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()

    # -- what the progress display and the benchmarks read -----------------------------------------
    def capacity(self) -> int:
        """Calls the workers can hold at once: how many tasks the runner keeps in flight to fill batches."""
        with self._lock:
            return self.slots * sum(not w.dead for w in self._workers)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            workers = [{"device": w.device, "ready": w.ready, **w.stats} for w in self._workers if not w.dead]
        totals = {
            key: sum(w.get(key) or 0 for w in workers) for key in ("items", "batches", "device_seconds", "oom_halvings")
        }
        memory = [w["memory"] for w in workers if w.get("memory") is not None]
        return {
            "role": self.role,
            "workers": workers,
            "ready": sum(w["ready"] for w in workers),
            **totals,
            "memory": sum(memory) if memory else None,
            "crashes": self.crashes,
            "hangs": self.hangs,
            "busy_s": time.monotonic() - self.ready_at if self.ready_at else 0.0,
        }

    # -- internals (the lock is held by every caller of a method starting with _) ------------------
    def _pump(self) -> None:
        while self._pending:
            free = [w for w in self._workers if w.ready and not w.dead and len(w.in_flight) < self.slots]
            if not free:
                return
            worker = min(free, key=lambda w: len(w.in_flight))
            call = self._pending.popleft()
            if not call.future.set_running_or_notify_cancel():
                continue  # cancelled while it waited (Ctrl-C)
            call.sent = time.monotonic()
            worker.in_flight[call.call_id] = call
            try:
                worker.send(("call", call.call_id, call.fn, call.args))
            except (OSError, ValueError):  # the pipe is gone: the reader will see the exit
                del worker.in_flight[call.call_id]
                call.future.set_exception(TransientModelError(f"{self.role} worker on {worker.device} is gone"))
            except Exception as exc:  # arguments that cannot be pickled: this call's bug
                del worker.in_flight[call.call_id]
                call.future.set_exception(exc)

    def _on_message(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        with self._lock:
            if kind == "done":
                _, call_id, ok, value, stats = message
                worker.stats = stats
                call = worker.in_flight.pop(call_id, None)
                if call is not None and not call.future.done():
                    if ok:
                        call.future.set_result(value)
                    else:
                        call.future.set_exception(value)
                self._pump()
            elif kind == "ready":
                self._on_ready(worker, message[1])
            elif kind == "failed":
                worker.dead = True
                self._fail(f"{self.role} model could not be loaded on {worker.device}: {message[1]}")
            elif kind == "log":
                self._log(f"{self.role} on {worker.device}: {message[1]}")

    def _on_ready(self, worker: _Worker, info: dict[str, Any]) -> None:
        asked, worker.device, worker.ready = worker.device, info["device"], True
        self.ready_at = self.ready_at or time.monotonic()
        if asked == AUTO and info["cuda_devices"] > 1 and not self._auto_expanded:
            self._auto_expanded = True  # "auto" means every GPU this machine has, one model copy each
            for index in range(1, info["cuda_devices"]):
                self._workers.append(_Worker(self, f"cuda:{index}"))
        if self.batch_note and self.max_batch == 1 and worker is self._workers[0]:
            self._log(f"{self.role}: one call at a time ({self.batch_note})")
        self._pump()

    def _on_exit(self, worker: _Worker) -> None:
        with self._lock:
            if worker.dead or self._closing:
                return
            worker.dead = True
            worker.process.join(1.0)
            code = worker.process.exitcode
            if not worker.ready:
                self._fail(f"{self.role} worker on {worker.device} exited (code {code}) while loading its model")
                return
            self.crashes += 1
            self._log(f"[yellow]{self.role} worker on {worker.device} died (exit code {code})[/]; replacing it")
            self._replace(worker, f"{self.role} worker on {worker.device} died (exit code {code}); call retried")

    def _replace(self, worker: _Worker, reason: str) -> None:
        for call in worker.in_flight.values():
            if not call.future.done():
                call.future.set_exception(TransientModelError(reason))
        worker.in_flight.clear()
        self._workers[self._workers.index(worker)] = _Worker(self, worker.device)

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            self._log(f"[red]{reason}[/]")
        while self._pending:
            call = self._pending.popleft()
            if call.future.set_running_or_notify_cancel():
                call.future.set_exception(FatalModelError(reason))
        for worker in self._workers:
            for call in worker.in_flight.values():
                if not call.future.done():
                    call.future.set_exception(FatalModelError(reason))
            worker.in_flight.clear()

    def _watch(self) -> None:
        """Kill a worker whose call is past the timeout: a hung model never answers, and never frees its device."""
        while True:
            time.sleep(WATCH_INTERVAL_S)
            with self._lock:
                if self._closing:
                    return
                now = time.monotonic()
                for worker in list(self._workers):
                    overdue = [c for c in worker.in_flight.values() if now - c.sent > self.timeout_s]
                    if worker.dead or not overdue:
                        continue
                    worker.dead = True
                    self.hangs += 1
                    worker.process.kill()
                    self._log(
                        f"[yellow]{self.role} call on {worker.device} ran past {self.timeout_s:.0f} s[/]: "
                        "killed the worker and started another"
                    )
                    for call in overdue:
                        call.future.set_exception(TransientModelError(f"no reply within {self.timeout_s:.0f} s"))
                        del worker.in_flight[call.call_id]
                    self._replace(worker, f"{self.role} worker on {worker.device} replaced after a hung call")


@contextmanager
def device_pools(
    models: dict[str, Any],
    run_dir: Path,
    roles: Roles,
    timeout_s: float,
    log: Callable[[str], None] = lambda line: None,
    images_uri: str | None = None,
) -> Iterator[dict[str, DevicePool]]:
    """A pool for every role whose model runs on a device; all of them stopped on the way out."""
    pools: dict[str, DevicePool] = {}
    try:
        for role, model in models.items():
            if getattr(model, "execution", "cpu") == "device":
                pools[role] = DevicePool(role, model, run_dir, roles, timeout_s, log, images_uri)  # type: ignore[arg-type]
        yield pools
    finally:
        for pool in pools.values():
            pool.shutdown()
