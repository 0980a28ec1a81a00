"""Gather concurrent single calls to a local model into its `*_many` batch calls.

The stage functions (engine.work) run unchanged in many threads of one worker, each calling the model's
single-call method (`edit`, `judge`, ...). `BatchingModel` stands in for the model: each single call
waits in a queue; a collector thread takes up to `max_batch` of them, waiting at most `batch_wait_s`
after the first, and makes one `*_many` call. Nothing here knows about processes, so the same class
serves inside a spawned device worker and inside a Ray actor.

An out-of-memory error halves the batch and runs the halves; the lower limit sticks for the rest of the
worker's life (the memory it lacked does not come back) and is counted and logged, never fatal. At batch
1 the error goes back to the caller as the transient error it is, for the engine to retry.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from editforge.models.base import DeviceOutOfMemoryError, ModelCallError

# single-call method → the batch method a local role object offers (see the local provider's contract)
BATCH_METHODS: dict[str, str] = {
    "write": "write_many",
    "rewrite": "rewrite_many",
    "edit": "edit_many",
    "judge": "judge_many",
}


@dataclass
class BatchStats:
    """What a worker's model has done: reported to the runner for progress and the benchmarks."""

    batches: int = 0
    items: int = 0
    largest_batch: int = 0
    oom_halvings: int = 0
    device_seconds: float = 0.0  # wall time inside `*_many` calls
    batch_limit: int = 1  # the current largest batch (max_batch, lowered by out-of-memory errors)
    sizes: dict[int, int] = field(default_factory=dict)  # batch size → how many batches had it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Pending:
    args: tuple[Any, ...]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


class BatchingModel:
    """A local role object whose single calls are gathered into batch calls; every other attribute is the model's."""

    def __init__(
        self,
        model: Any,
        max_batch: int | None = None,
        batch_wait_s: float | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.model = model
        self.max_batch = max(1, int(max_batch if max_batch is not None else getattr(model, "max_batch", 1)))
        self.batch_wait_s = float(batch_wait_s if batch_wait_s is not None else getattr(model, "batch_wait_s", 0.05))
        self.stats = BatchStats(batch_limit=self.max_batch)
        self._log = log or (lambda line: None)
        self._device = threading.Lock()  # one batch on the device at a time, whatever its method
        self._state = threading.Lock()
        self._queues: dict[str, queue.SimpleQueue[_Pending | None]] = {}
        self._collectors: list[threading.Thread] = []

    def __getattr__(self, name: str) -> Any:  # ref, supported_types, execution, devices...: the model's own
        return getattr(self.model, name)

    # -- the single-call protocol the stages use -------------------------------------------------
    def write(self, request: Any) -> Any:
        return self._call("write", request)

    def rewrite(self, long_instruction: str, edit_type: Any, seed: int) -> Any:
        return self._call("rewrite", long_instruction, edit_type, seed)

    def edit(self, image: Any, instruction: str, seed: int) -> Any:
        return self._call("edit", image, instruction, seed)

    def judge(self, source: Any, edited: Any, instruction: str, edit_type: Any, sample: int = 0) -> Any:
        # Passes of a multi-pass judge are batched with their own pass index only (one `sample` a batch).
        options = {"sample": sample} if sample else {}
        return self._call("judge", source, edited, instruction, edit_type, options=options)

    def close(self) -> None:
        with self._state:
            for q in self._queues.values():
                q.put(None)
            self._queues.clear()

    # -- gathering -------------------------------------------------------------------------------
    def _call(self, method: str, *args: Any, options: dict[str, Any] | None = None) -> Any:
        options = options or {}
        if not hasattr(self.model, BATCH_METHODS[method]):  # a model without a batch method: call it as it is
            with self._device:
                return getattr(self.model, method)(*args, **options)
        pending = _Pending(args)
        self._queue(method, options).put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _queue(self, method: str, options: dict[str, Any]) -> queue.SimpleQueue[_Pending | None]:
        key = method + "".join(f" {k}={v}" for k, v in sorted(options.items()))
        with self._state:
            if key not in self._queues:
                q: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
                self._queues[key] = q
                args = (method, q, options)
                thread = threading.Thread(target=self._collect, args=args, name=f"batch-{key}", daemon=True)
                thread.start()
                self._collectors.append(thread)
            return self._queues[key]

    def _collect(self, method: str, q: queue.SimpleQueue[_Pending | None], options: dict[str, Any]) -> None:
        while True:
            first = q.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.batch_wait_s
            closing = False
            while len(batch) < self.stats.batch_limit:
                try:
                    item = q.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            self._run(method, batch, options)
            if closing:
                return

    def _run(self, method: str, batch: list[_Pending], options: dict[str, Any] | None = None) -> None:
        columns = [list(column) for column in zip(*(p.args for p in batch), strict=True)]
        with self._device:
            started = time.perf_counter()
            try:
                replies = getattr(self.model, BATCH_METHODS[method])(*columns, **(options or {}))
                error: BaseException | None = None
            except DeviceOutOfMemoryError as exc:
                error = exc
            except BaseException as exc:  # a whole-batch failure is every item's failure
                for p in batch:
                    p.finish(error=exc)
                return
            elapsed = time.perf_counter() - started
            self.stats.device_seconds += elapsed
        if error is not None:
            self._out_of_memory(method, batch, error, options)
            return
        if not isinstance(replies, list) or len(replies) != len(batch):
            got = len(replies) if isinstance(replies, list) else type(replies).__name__
            bad = RuntimeError(f"{BATCH_METHODS[method]} returned {got} replies for {len(batch)} items")
            for p in batch:
                p.finish(error=bad)
            return
        self._count(len(batch))
        share = elapsed / len(batch)
        for p, reply in zip(batch, replies, strict=True):
            _charge_device_time(reply, share)
            if isinstance(reply, BaseException):
                p.finish(error=reply)
            else:
                p.finish(result=reply)

    def _out_of_memory(
        self, method: str, batch: list[_Pending], error: BaseException, options: dict[str, Any] | None
    ) -> None:
        if len(batch) == 1:  # nothing left to halve: the engine retries it as a transient failure
            batch[0].finish(error=error)
            return
        half = len(batch) // 2
        with self._state:
            self.stats.oom_halvings += 1
            self.stats.batch_limit = max(1, min(self.stats.batch_limit, half))
        self._log(
            f"out of device memory at batch {len(batch)} ({BATCH_METHODS[method]}): "
            f"retrying as {half} + {len(batch) - half}; batches are now at most {self.stats.batch_limit}"
        )
        self._run(method, batch[:half], options)
        self._run(method, batch[half:], options)

    def _count(self, size: int) -> None:
        with self._state:
            self.stats.batches += 1
            self.stats.items += size
            self.stats.largest_batch = max(self.stats.largest_batch, size)
            self.stats.sizes[size] = self.stats.sizes.get(size, 0) + 1


def _charge_device_time(reply: Any, share: float) -> None:
    """A reply whose provider did not measure its device time gets its share of the batch's wall time."""
    usage = reply.usage if isinstance(reply, ModelCallError) or hasattr(reply, "usage") else None
    if usage is None or usage.device_seconds:
        return
    priced = usage.model_copy(update={"device_seconds": round(share, 6)})
    reply.usage = priced
