"""One edit attempt. A failed attempt is a record with its reason, never an exception upward."""

from __future__ import annotations

import time

from editforge.images import check_rgb
from editforge.models import prompting
from editforge.models.base import Editor, FatalModelError, ModelCallError, TransientModelError
from editforge.records import Attempt, Task, Usage, stable_id
from editforge.stages.io import ImageIO
from editforge.stages.plan import derive_seed


def attempt_seed(task: Task, index: int) -> int:
    return derive_seed(task.seed, "attempt", index)


def attempt_id(task: Task, index: int) -> str:
    return stable_id("attempt", task.task_id, index)


def edit_attempt(
    editor: Editor, task: Task, instruction: str, index: int, images: ImageIO, feedback: str | None = None
) -> Attempt:
    """Attempt `index`; `feedback` (why the judge rejected the previous attempt) reaches an editor that
    declares `takes_feedback` (a hosted model reads it; the classical editor parses instructions)."""
    seed = attempt_seed(task, index)
    feedback = feedback if feedback and getattr(editor, "takes_feedback", False) else None
    prompt = prompting.editor_retry_prompt(instruction, feedback) if feedback else instruction
    base = {
        "attempt_id": attempt_id(task, index),
        "task_id": task.task_id,
        "index": index,
        "seed": seed,
        "instruction": instruction,
        "feedback": feedback,
        "model": editor.ref,
    }
    source = images.get(task.input_image)
    started = time.perf_counter()
    reply = None
    try:
        reply = editor.edit(source, prompt, seed)
        check_rgb(reply.image)
    except (TransientModelError, FatalModelError):
        raise  # the engine's to retry or to stop the run on
    except ModelCallError as exc:
        return Attempt(
            **base,
            status="failed",
            error=exc.reason,
            raw_reply=exc.raw,
            usage=exc.usage,  # a refusal or an image-less reply is billed all the same
            elapsed_s=time.perf_counter() - started,
        )
    except Exception as exc:  # an editor bug on odd input is this attempt's failure, not the run's
        return Attempt(
            **base,
            status="failed",
            error=f"editor error: {type(exc).__name__}: {exc}",
            usage=reply.usage if reply is not None else Usage(),  # an unusable image that was paid for
            elapsed_s=time.perf_counter() - started,
        )
    elapsed = time.perf_counter() - started
    height, width = reply.image.shape[:2]
    return Attempt(
        **base,
        status="ok",
        output_image=images.put(reply.image),
        width=width,
        height=height,
        raw_reply=reply.raw,
        usage=reply.usage,
        elapsed_s=elapsed,
    )
