"""The functions a worker process runs: build the models once, then call one stage per request.

Each returns a record (or a `StageFailure` saying why not) and never raises for a bad photo or a
failed model call, so one bad item cannot take a worker, or the run, down. Arguments and results are
small records; pixels travel through the run's image store on disk.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from editforge.config import Roles
from editforge.images import PhotoError
from editforge.models.base import FatalModelError, ModelCallError, Role, TransientModelError
from editforge.models.registry import build_role
from editforge.records import Attempt, Instruction, Photo, SourceFailure, Task, Usage, Verdict
from editforge.sources import SourceItem
from editforge.stages.edit import edit_attempt
from editforge.stages.ingest import ingest_photo
from editforge.stages.judge import TIEBREAK_PASS, judge_attempt, judge_attempt_with_flag
from editforge.stages.write import rewrite_instruction, write_instruction
from editforge.store.images import ImageStore, open_image_store


@dataclass
class StageFailure:
    reason: str
    usage: Usage = field(default_factory=Usage)


@dataclass
class WorkerContext:
    run_dir: Path
    roles: Roles
    _models: dict[str, Any] = field(default_factory=dict)
    images_uri: str | None = None  # the image store on object storage, else under the run directory
    images: ImageStore = field(init=False)

    def __post_init__(self) -> None:
        # Told explicitly, never looked up: a worker on another node may not see the run directory's files.
        self.images = open_image_store(self.run_dir, self.images_uri) if self.images_uri else ImageStore(self.run_dir)

    def model(self, role: Role | Literal["prefilter", "tiebreak"]) -> Any:
        if role not in self._models:
            if role == "prefilter":  # the cheap judge in front of a paid one: always the metric judge
                self._models[role] = build_role("judge", "offline")
            elif role == "tiebreak":  # the judge that settles disagreeing passes: a judge by another name
                spec = self.roles.tiebreak
                self._models[role] = build_role("judge", spec.provider, spec.model, spec.options)  # type: ignore[union-attr]
            else:
                spec = getattr(self.roles, role)
                self._models[role] = build_role(role, spec.provider, spec.model, spec.options)
        return self._models[role]


_context: WorkerContext | None = None


def init_parent(run_dir: Path, roles: Roles, models: dict[str, Any], images_uri: str | None = None) -> None:
    """The runner's own context, for I/O-bound models it calls from threads (models already built)."""
    global _context
    _context = WorkerContext(run_dir, roles, dict(models), images_uri)


def init_worker(run_dir: Path, roles: Roles, images_uri: str | None = None) -> None:
    """Worker initializer (a pool process or a Ray actor): each worker builds its own models, once."""
    global _context
    # Ctrl-C is the parent's to handle: it stops handing out work and leaves a resumable ledger.
    with contextlib.suppress(ValueError):  # not the main thread (a threaded Ray actor): no signals to set
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _context = WorkerContext(run_dir, roles, images_uri=images_uri)


def context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("worker used before init_worker()")
    return _context


def do_ingest(item: SourceItem, max_side: int) -> Photo | SourceFailure:
    from editforge.models.offline.core.analysis import analyze  # cheap, keyless: always used to pick types

    ctx = context()
    try:
        data = item.read_bytes()
    except OSError as exc:
        why = str(exc) if str(exc).startswith(item.uri) else f"{item.uri}: cannot read ({exc.strerror or exc})"
        return SourceFailure(uri=item.uri, reason=why)
    try:
        return ingest_photo(item.uri, data, ctx.images, analyze, max_side, item.attribution, item.license)
    except PhotoError as exc:
        return SourceFailure(uri=item.uri, reason=str(exc))
    except OSError:
        raise  # writing the store failed (a full disk): the run's problem, not this photo's
    except Exception as exc:  # a photo that trips a library bug is that photo's failure
        return SourceFailure(uri=item.uri, reason=f"{item.uri}: {type(exc).__name__}: {exc}")


def do_write(task: Task, photo: Photo) -> Instruction | StageFailure:
    ctx = context()
    try:
        return write_instruction(ctx.model("writer"), task, photo, ctx.images)
    except (TransientModelError, FatalModelError):
        raise
    except ModelCallError as exc:
        return StageFailure(f"writer: {exc.reason}", exc.usage)
    except Exception as exc:
        return StageFailure(f"writer error: {type(exc).__name__}: {exc}")


def do_rewrite(task: Task, long: Instruction) -> Instruction | StageFailure:
    try:
        return rewrite_instruction(context().model("rewriter"), task, long)
    except (TransientModelError, FatalModelError):
        raise
    except ModelCallError as exc:
        return StageFailure(f"rewriter: {exc.reason}", exc.usage)
    except Exception as exc:
        return StageFailure(f"rewriter error: {type(exc).__name__}: {exc}")


def do_edit(task: Task, instruction: str, index: int, feedback: str | None = None) -> Attempt:
    ctx = context()
    return edit_attempt(ctx.model("editor"), task, instruction, index, ctx.images, feedback)


def do_judge(task: Task, attempt: Attempt, threshold: float, sample: int | None = None) -> Verdict:
    ctx = context()
    return judge_attempt(ctx.model("judge"), task, attempt, ctx.images, threshold, sample)


def do_tiebreak(task: Task, attempt: Attempt, threshold: float) -> Verdict:
    ctx = context()
    verdict = judge_attempt(ctx.model("tiebreak"), task, attempt, ctx.images, threshold)
    return verdict.model_copy(update={"pass_index": TIEBREAK_PASS})


def do_prefilter(task: Task, attempt: Attempt, threshold: float) -> Verdict | None:
    """The metric judge's verdict when it is decisive (unchanged or broken output), else None."""
    ctx = context()
    prefilter = ctx.model("prefilter")
    verdict, hard_fail = judge_attempt_with_flag(prefilter, task, attempt, ctx.images, threshold)
    return verdict if hard_fail else None


def build_models(roles: Roles) -> dict[Role, Any]:
    """Every role's model, built once in the runner to learn its types, execution and identity."""
    models: dict[str, Any] = {
        role: build_role(role, spec.provider, spec.model, spec.options)
        for role, spec in ((r, getattr(roles, r)) for r in ("writer", "rewriter", "editor", "judge"))
    }
    if roles.tiebreak is not None:
        spec = roles.tiebreak
        models["tiebreak"] = build_role("judge", spec.provider, spec.model, spec.options)
    return models  # type: ignore[return-value]


def install_model(role: Role, model: Any) -> None:
    """A device worker's model for `role` (its batching stand-in), used by the stage functions above."""
    context()._models[role] = model
