"""Judge one attempt. An unparseable or failing judge is recorded as a judge failure, never a score.

A sampling judge (a VLM) can judge an attempt several times (`judge_passes`); `combine_passes` averages
the passes that scored and keeps each one's weighted score, so the spread is recorded, not hidden.
"""

from __future__ import annotations

import json
import statistics

from editforge import taxonomy
from editforge.models.base import FatalModelError, Judge, ModelCallError, TransientModelError
from editforge.records import CRITERIA, Attempt, Scores, Task, Usage, Verdict
from editforge.stages.io import ImageIO

TIEBREAK_PASS = -1  # the pass index a second judge's verdict is kept under, beside passes 0..N-1


def judge_attempt(
    judge: Judge, task: Task, attempt: Attempt, images: ImageIO, threshold: float, sample: int | None = None
) -> Verdict:
    """The verdict; with `sample`, one pass of several (the judge samples with that index as its seed)."""
    return judge_attempt_with_flag(judge, task, attempt, images, threshold, sample)[0]


def judge_attempt_with_flag(
    judge: Judge, task: Task, attempt: Attempt, images: ImageIO, threshold: float, sample: int | None = None
) -> tuple[Verdict, str | None]:
    """The verdict, and the judge's hard-fail flag (plainly unusable output) for a judge chain."""
    if attempt.output_image is None:
        raise ValueError(f"attempt {attempt.attempt_id} has no image to judge")
    base = {
        "attempt_id": attempt.attempt_id,
        "task_id": task.task_id,
        "threshold": threshold,
        "model": judge.ref,
        "pass_index": sample,
    }
    try:
        args = (images.get(task.input_image), images.get(attempt.output_image), attempt.instruction)
        kind = taxonomy.get(task.edit_type)
        reply = judge.judge(*args, kind) if sample is None else judge.judge(*args, kind, sample=sample)
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


def combine_passes(passes: list[Verdict], threshold: float) -> Verdict:
    """One verdict from N passes over the same attempt: the mean of the passes that scored.

    Passes that failed to parse or abstained are not guessed into the mean; if fewer than half of the
    passes scored, the verdict is a failure (or an abstention, when every pass abstained). Each pass
    was priced as its own call, so the combined verdict carries no usage of its own.
    """
    first = passes[0]
    raw = json.dumps([p.raw_reply for p in passes])
    base = {"attempt_id": first.attempt_id, "task_id": first.task_id, "threshold": threshold, "model": first.model}
    scored = [p for p in passes if p.status == "scored" and p.scores is not None]
    if 2 * len(scored) < len(passes):
        status = "abstained" if all(p.status == "abstained" for p in passes) else "failed"
        why = "; ".join(dict.fromkeys(p.rationale for p in passes if p.status != "scored"))
        rationale = f"{len(scored)} of {len(passes)} judge passes scored: {why}"
        return Verdict(**base, status=status, rationale=rationale[:2000], raw_reply=raw, usage=Usage())
    mean = Scores(**{c: statistics.fmean(getattr(p.scores, c) for p in scored) for c in CRITERIA})
    weighted = [p.scores.weighted() for p in scored]  # type: ignore[union-attr]
    typical = min(scored, key=lambda p: abs(p.scores.weighted() - mean.weighted()))  # type: ignore[union-attr]
    spread = ", ".join(f"{w:.3f}" for w in weighted)
    hard = next((p.hard_fail for p in scored if p.hard_fail), None)
    return Verdict(
        **base,
        status="scored",
        scores=mean,
        rationale=f"{typical.rationale} (mean of {len(scored)} of {len(passes)} passes: {spread})",
        raw_reply=raw,
        usage=Usage(),
        hard_fail=hard,
        pass_scores=weighted,
    )


def passes_disagree(verdict: Verdict) -> bool:
    """True when some passes would pass the attempt and others fail it: a case for a second judge."""
    return len({w >= verdict.threshold for w in verdict.pass_scores}) > 1
