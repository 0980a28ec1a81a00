"""A pool of Ray actors behind the standard `concurrent.futures.Executor` interface.

The dispatcher hands every non-I/O call to `loop.run_in_executor(executor, fn, *args)`; this class is
that executor on a cluster. Each actor runs `work.init_worker` once (builds its models, opens the image
store) and then `fn(*args)` per call — the same functions, arguments and results as a local worker
process. A call goes to the least loaded live actor; when every actor is full and the pool is below
`max_actors` a new one is started (Ray places it wherever the resources it asks for are free), and an
actor above `min_actors` left idle for `idle_s` is released. When every slot of every actor is taken, a
call waits here, in the driver, and is "running" (its timeout's clock started) only once an actor
that has started takes it.

Faults: an actor that dies (its process killed, its node lost, out of memory) fails its calls with a
`RayActorError`; the pool drops it and sends those calls again to another actor, up to `resubmits`
times, then hands the engine a transient error (retried with backoff, then left planned for a rerun).
An actor that cannot start (its model does not load) is a fatal error: the run stops and says why.
Nothing is written twice: the worker functions only return records (images are content
addressed, so writing one again is a no-op) and the driver alone writes the ledger, once per result.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ObjectLostError, RayActorError, RayTaskError, WorkerCrashedError

from editforge.config import RayPool, Roles
from editforge.engine import work
from editforge.models.base import FatalModelError, TransientModelError

# Errors that say "the worker went away", not "the call failed": the call is sent again elsewhere.
LOST = (RayActorError, WorkerCrashedError, ObjectLostError)
CANNOT_START = "error raised in its creation task"  # Ray's words for an actor whose __init__ raised


@dataclass(frozen=True)
class WorkerInit:
    """What every actor of a run is started with (small and picklable)."""

    run_dir: str
    roles: Roles
    images_uri: str | None = None
    providers: dict[str, str] = field(default_factory=dict)  # the driver's provider table (plug-ins, tests)
    paths: tuple[str, ...] = ()  # where the driver found plug-in provider modules; added to sys.path


class RoleWorker:
    """One Ray actor: a worker process of the local engine, placed by Ray.

    For a device role (`device_role` set) it also builds that role's model, loads it on the device Ray
    gave the actor, and puts the batching stand-in (engine.devices.batching) in front of it: the actor's
    `max_concurrency` calls run in threads and meet there as batches, as in the local device workers."""

    def __init__(self, init: WorkerInit, cv_threads: int, device_role: str | None = None) -> None:
        import sys

        import cv2

        from editforge.models import registry

        sys.path.extend(p for p in init.paths if p not in sys.path)
        registry.PROVIDERS.update(init.providers)
        cv2.setNumThreads(cv_threads)  # the actor's CPUs are the parallelism, as in the local pool
        work.init_worker(Path(init.run_dir), init.roles, init.images_uri)
        self.batcher: Any = None
        if device_role is not None:
            from editforge.engine.devices.batching import BatchingModel
            from editforge.engine.devices.worker import AUTO, resolve_device

            spec = getattr(init.roles, device_role)
            model = registry.build_role(device_role, spec.provider, spec.model, spec.options)
            if hasattr(model, "load"):  # Ray set CUDA_VISIBLE_DEVICES to this actor's GPUs: "auto" is cuda:0
                model.load(resolve_device(AUTO)[0])
            self.batcher = BatchingModel(model)
            work.install_model(device_role, self.batcher)

    def batch_stats(self) -> dict[str, Any] | None:
        return self.batcher.stats.as_dict() if self.batcher is not None else None

    def pid(self) -> int:
        return os.getpid()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)


@dataclass
class _Actor:
    handle: Any
    pid_ref: Any  # ObjectRef of its pid: known once it has started
    ready: Future  # done once the actor has started (its model loaded)
    in_flight: int = 0
    idle_since: float = field(default_factory=time.monotonic)


@dataclass(eq=False)
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future
    resubmitted: int = 0
    actor: _Actor | None = None  # where it runs now
    ref: Any = None  # its ObjectRef there
    abandoned: bool = False  # the dispatcher gave up on it (timed out): its actor was killed


class ActorPoolExecutor(Executor):
    def __init__(
        self,
        name: str,
        spec: RayPool,
        init: WorkerInit,
        resubmits: int = 3,
        idle_s: float = 60.0,
        device_role: str | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self.max_actors = spec.max_actors or 1
        self.slots = spec.max_concurrency or 1
        self.resubmits = resubmits
        self.idle_s = idle_s
        cv_threads = max(1, int(spec.num_cpus))
        self._remote = ray.remote(RoleWorker).options(
            num_cpus=spec.num_cpus,
            num_gpus=spec.num_gpus,
            max_concurrency=self.slots,
            max_restarts=0,  # the pool replaces a dead actor itself and resends its calls
            name=None,
        )
        self._init_args = (init, cv_threads, device_role)
        self._lock = threading.Lock()
        self._actors: list[_Actor] = []
        self._waiting: deque[_Call] = deque()  # calls no actor slot is free for yet (they wait here, not on an actor)
        self._sent: dict[Future, _Call] = {}  # calls on an actor, by the future the dispatcher holds
        self._closed = False
        self.started = 0  # actors started over the pool's life
        self.lost_actors = 0  # actors found dead
        self.resent = 0  # calls sent again after their actor died
        self.hung_replaced = 0  # actors killed and replaced because a call on them ran past its timeout
        self._wake = threading.Event()
        threading.Thread(target=self._feed, name=f"editforge-{name}-feeder", daemon=True).start()
        for _ in range(spec.min_actors):
            self._start_actor()

    # -- Executor -----------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if kwargs:
            raise TypeError("ActorPoolExecutor.submit takes positional arguments only")
        if self._closed:
            raise RuntimeError(f"{self.name} pool is shut down")
        call = _Call(fn, args, Future())
        self._send(call)  # the future turns "running" when an actor that has started takes the call
        return call.future

    def abandon(self, future: Future) -> None:
        """The dispatcher gave up on this call (it ran past its timeout). A threaded actor cannot interrupt a
        running call (`ray.cancel` only drops one not yet started, and `force` is refused for actor tasks),
        so its actor is killed: the pool starts a replacement, and the actor's other calls are sent again."""
        with self._lock:
            call = self._sent.get(future)
            if call is None or call.actor is None:
                return
            call.abandoned = True
            actor = call.actor
            if actor in self._actors:
                self._actors.remove(actor)
                self.hung_replaced += 1
        ray.cancel(call.ref)
        ray.kill(actor.handle, no_restart=True)
        self._wake.set()  # a replacement actor takes the calls waiting for a slot

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            actors, self._actors = self._actors, []
        self._wake.set()  # the feeder sees the pool closed and ends
        for actor in actors:
            ray.kill(actor.handle, no_restart=True)
        while self._waiting:
            self._resolve(self._waiting.popleft(), error=RuntimeError(f"{self.name} pool is shut down"))

    # -- what the tests and the benchmark look at ---------------------------------------------------
    def pids(self, timeout_s: float = 60.0) -> list[int]:
        """The process ids of the live actors (waits for them to start)."""
        with self._lock:
            refs = [a.pid_ref for a in self._actors]
        return list(ray.get(refs, timeout=timeout_s))

    def batch_stats(self, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """Each live device actor's batching figures (batches, items, largest batch, ...)."""
        with self._lock:
            handles = [a.handle for a in self._actors]
        return [s for s in ray.get([h.batch_stats.remote() for h in handles], timeout=timeout_s) if s]

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._actors)

    # -- inside -------------------------------------------------------------------------------------
    def _start_actor(self) -> _Actor:
        handle = self._remote.remote(*self._init_args)
        pid_ref = handle.pid.remote()
        actor = _Actor(handle, pid_ref, pid_ref.future())
        self._actors.append(actor)
        self.started += 1
        return actor

    def _pick(self) -> _Actor | None:
        """The least loaded actor with a free slot; a new one when all are full and the pool may grow;
        None when the pool is full (the call waits in the pool). Holds the lock."""
        self._release_idle()
        free = [a for a in self._actors if a.in_flight < self.slots]
        if free:
            return min(free, key=lambda a: a.in_flight)
        if len(self._actors) < self.max_actors:
            return self._start_actor()
        return None

    def _release_idle(self) -> None:
        now = time.monotonic()
        for actor in list(self._actors):
            if len(self._actors) <= self.spec.min_actors:
                return
            if actor.in_flight == 0 and now - actor.idle_since > self.idle_s:
                self._actors.remove(actor)
                ray.kill(actor.handle, no_restart=True)

    def _send(self, call: _Call) -> None:
        with self._lock:
            if self._closed:
                self._resolve(call, error=RuntimeError(f"{self.name} pool is shut down"))
                return
            actor = self._pick() if not self._waiting else None  # first come, first served
            if actor is None:
                self._waiting.append(call)
                return
            actor.in_flight += 1
        self._dispatch(actor, call)

    def _drain(self) -> None:
        """Hand waiting calls to the slots that freed up (or to new actors, within max_actors)."""
        ready: list[tuple[_Actor, _Call]] = []
        with self._lock:
            while self._waiting and not self._closed:
                if self._waiting[0].future.done():  # cancelled while it waited
                    self._waiting.popleft()
                    continue
                actor = self._pick()
                if actor is None:
                    break
                actor.in_flight += 1
                ready.append((actor, self._waiting.popleft()))
        for actor, call in ready:
            self._dispatch(actor, call)

    def _dispatch(self, actor: _Actor, call: _Call) -> None:
        call.actor = actor
        call.abandoned = False
        with self._lock:
            self._sent[call.future] = call
        call.ref = actor.handle.call.remote(call.fn, *call.args)
        # The call's clock (the dispatcher's timeout) starts when it runs: once its actor has started, not
        # while the actor loads its model. An actor runs at most `slots` calls, so a sent call runs at once.
        actor.ready.add_done_callback(lambda _: self._mark_running(call))
        # Ray completes this future on its own thread: hand the result over and return at once.
        call.ref.future().add_done_callback(lambda done: self._finished(actor, call, done))

    def _mark_running(self, call: _Call) -> None:
        with self._lock:
            if not call.future.running() and not call.future.done():
                call.future.set_running_or_notify_cancel()

    def _resolve(self, call: _Call, result: Any = None, error: BaseException | None = None) -> None:
        self._sent.pop(call.future, None)
        if call.future.done():  # cancelled by its caller while it waited
            return
        if not call.future.running() and not call.future.set_running_or_notify_cancel():
            return
        if error is None:
            call.future.set_result(result)
        else:
            call.future.set_exception(error)

    def _finished(self, actor: _Actor, call: _Call, done: Future) -> None:
        error = done.exception()
        with self._lock:
            actor.in_flight -= 1
            actor.idle_since = time.monotonic()
            if isinstance(error, LOST) and actor in self._actors:
                self._actors.remove(actor)  # dead: every other call it held fails the same way
                self.lost_actors += 1
        if call.abandoned:  # nobody waits for it: the dispatcher retried it already
            self._resolve(call, error=TransientModelError(f"{self.name}: timed out, its actor was replaced"))
        elif error is None:
            self._resolve(call, done.result())
        elif isinstance(error, RayActorError) and CANNOT_START in str(error):
            # The model cannot load (missing weights, a bad option): every new actor would fail the same way.
            reason = str(error).strip().splitlines()[-1]
            self._resolve(call, error=FatalModelError(f"the {self.name} actors cannot start: {reason}"))
        elif isinstance(error, LOST) and call.resubmitted < self.resubmits and not self._closed:
            call.resubmitted += 1
            self.resent += 1
            # Not from Ray's callback thread: submitting from it can wait on itself.
            threading.Thread(target=self._send, args=(call,), daemon=True).start()
        elif isinstance(error, LOST):  # transient for the engine: retried with backoff, then left for a rerun
            died = f"{self.name}: the actor running this call died {call.resubmitted + 1} times"
            self._resolve(call, error=TransientModelError(died))
        elif isinstance(error, RayTaskError) and isinstance(error.cause, Exception):
            self._resolve(call, error=error.cause)  # the worker's own exception, as a local pool raises it
        else:
            self._resolve(call, error=error)
        if self._waiting:  # a slot freed up: the pool's feeder thread hands it the next waiting call
            self._wake.set()

    def _feed(self) -> None:
        # Its own thread, not Ray's callback thread: sending (or starting an actor) there can wait on itself.
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            self._drain()
