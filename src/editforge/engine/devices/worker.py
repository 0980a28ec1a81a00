"""The main of one device worker: a spawned process that owns one model copy on one device.

It builds its role the way the runner does (`build_role`), loads the weights onto its device, wraps the
model in a `BatchingModel` and then runs the unchanged stage functions of engine.work in a few threads,
so that concurrent calls meet in the batcher. It speaks to the pool over one pipe:

    pool → worker   ("call", id, fn, args) | ("stop",)
    worker → pool   ("ready", info) | ("failed", reason) | ("done", id, ok, result-or-error, stats) | ("log", line)
"""

from __future__ import annotations

import importlib.util
import pickle
import signal
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from editforge.config import Roles
from editforge.models.base import Role

AUTO = "auto"


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a spawned worker needs, picklable: the role, where it runs, the run it serves."""

    role: Role
    device: str
    run_dir: Path
    roles: Roles
    slots: int  # calls it runs at once: enough for a batch to fill while the previous one runs
    max_batch: int | None = None
    batch_wait_s: float | None = None
    providers: dict[str, str] = field(default_factory=dict)  # the runner's provider table (plug-ins, tests)
    images_uri: str | None = None  # the run's image store when it is not under run_dir


def resolve_device(device: str) -> tuple[str, int]:
    """(the device to load on, how many CUDA devices this process sees); "auto" → cuda:0 if any, else cpu."""
    if importlib.util.find_spec("torch") is None:
        return ("cpu" if device == AUTO else device), 0
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == AUTO:
        device = "cuda:0" if count else "cpu"
    return device, count


def memory_in_use(device: str) -> int | None:
    """Bytes torch has allocated on a CUDA device; None elsewhere (CPU memory is not the scarce kind)."""
    if not device.startswith("cuda"):
        return None
    import torch

    return int(torch.cuda.memory_allocated(torch.device(device)))


def serve(conn: Connection, spec: WorkerSpec) -> None:
    """The spawned process's entry point."""
    # Ctrl-C is the runner's to handle: it stops handing out work and leaves a resumable ledger.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from editforge.engine import work
    from editforge.engine.devices.batching import BatchingModel
    from editforge.models import registry

    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(message)

    registry.PROVIDERS.update(spec.providers)
    work.init_worker(spec.run_dir, spec.roles, spec.images_uri)
    try:
        model = work.context().model(spec.role)  # built as every worker builds it (a tiebreak is a judge)
        device, count = resolve_device(spec.device)
        if hasattr(model, "load"):
            model.load(device)
    except BaseException as exc:  # a model that cannot load: the pool stops the role with this reason
        send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    batcher = BatchingModel(model, spec.max_batch, spec.batch_wait_s, log=lambda line: send(("log", line)))
    work.install_model(spec.role, batcher)
    send(("ready", {"device": device, "cuda_devices": count, "batch_note": getattr(model, "batch_note", None)}))

    def run_one(call_id: int, fn: Any, args: tuple[Any, ...]) -> None:
        try:
            ok, value = True, fn(*args)
        except BaseException as exc:  # the pool decides: transient → retried, fatal → run stops
            ok, value = False, _picklable(exc)
        stats = {**batcher.stats.as_dict(), "memory": memory_in_use(device)}
        try:
            send(("done", call_id, ok, value, stats))
        except Exception as exc:  # a result that cannot travel is this call's failure, not the worker's
            send(("done", call_id, False, RuntimeError(f"result could not be sent: {exc}"), stats))

    with ThreadPoolExecutor(max_workers=spec.slots, thread_name_prefix=f"{spec.role}-call") as calls:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the runner is gone: nothing left to serve
                break
            if message[0] == "stop":
                break
            _, call_id, fn, args = message
            calls.submit(run_one, call_id, fn, args)
        batcher.close()


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return RuntimeError(text)
