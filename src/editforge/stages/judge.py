"""Judge one attempt. An unparseable or failing judge is recorded as a judge failure, never a score."""

from __future__ import annotations

from editforge import taxonomy
from editforge.models.base import FatalModelError, Judge, ModelCallError, TransientModelError
from editforge.records import Attempt, Task, Verdict
from editforge.stages.io import ImageIO


def judge_attempt(judge: Judge, task: Task, attempt: Attempt, images: ImageIO, threshold: float) -> Verdict:
    return judge_attempt_with_flag(judge, task, attempt, images, threshold)[0]


def judge_attempt_with_flag(
    judge: Judge, task: Task, attempt: Attempt, images: ImageIO, threshold: float
) -> tuple[Verdict, str | None]:
    """The verdict, and the judge's hard-fail flag (plainly unusable output) for a judge chain."""
    if attempt.output_image is None:
        raise ValueError(f"attempt {attempt.attempt_id} has no image to judge")
    base = {
        "attempt_id": attempt.attempt_id,
        "task_id": task.task_id,
        "threshold": threshold,
        "model": judge.ref,
    }
    try:
        reply = judge.judge(
            images.get(task.input_image),
            images.get(attempt.output_image),
            attempt.instruction,
            taxonomy.get(task.edit_type),
        )
    except (TransientModelError, FatalModelError):
        raise  # the engine's to retry or to stop the run on
    except ModelCallError as exc:
        # A reply that never parsed was still billed: its cost stays with the failed verdict.
        return Verdict(**base, status="failed", rationale=exc.reason, raw_reply=exc.raw, usage=exc.usage), None
    except Exception as exc:  # a judge bug is a judge failure for this attempt, never a guessed score
        return Verdict(**base, status="failed", rationale=f"judge error: {type(exc).__name__}: {exc}"), None
    if reply.scores is None:
        rationale = reply.abstain_reason or reply.rationale
        return Verdict(**base, status="abstained", rationale=rationale, raw_reply=reply.raw, usage=reply.usage), None
    verdict = Verdict(
        **base,
        status="scored",
        scores=reply.scores,
        rationale=reply.rationale,
        raw_reply=reply.raw,
        usage=reply.usage,
        hard_fail=reply.hard_fail,
    )
    return verdict, reply.hard_fail
