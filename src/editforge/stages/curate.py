"""Attempts and verdicts → dataset examples, the Pico-Banana way.

A passing attempt makes an SFT example. If attempts the judge scored below the bar came before it, the
same task also makes a preference example (chosen = the pass, rejected = those measured failures). A
task with no pass makes no example; its attempts and scores stay in the ledger for anyone who wants to
re-filter later.
"""

from __future__ import annotations

from editforge.records import Attempt, Example, Verdict


def first_pass(attempts: list[Attempt], verdicts: dict[str, Verdict]) -> Attempt | None:
    """The first attempt that passed; a verdict with a hard failure never passes, whatever its score."""
    for attempt in sorted(attempts, key=lambda a: a.index):
        verdict = verdicts.get(attempt.attempt_id)
        if attempt.status == "ok" and verdict is not None and verdict.passed and verdict.hard_fail is None:
            return attempt
    return None


def curate(task_id: str, attempts: list[Attempt], verdicts: dict[str, Verdict]) -> list[Example]:
    chosen = first_pass(attempts, verdicts)
    if chosen is None:
        return []
    examples = [Example(kind="sft", task_id=task_id, chosen_attempt_id=chosen.attempt_id)]
    # The rejected side of a pair is an image the judge measured and failed: a refusal has no image, and
    # an attempt whose judge abstained or failed was never shown to be worse than the chosen one.
    rejected = [
        a.attempt_id
        for a in sorted(attempts, key=lambda a: a.index)
        if a.index < chosen.index and a.output_image is not None and _measured_failure(verdicts.get(a.attempt_id))
    ]
    if rejected:
        examples.append(
            Example(
                kind="preference",
                task_id=task_id,
                chosen_attempt_id=chosen.attempt_id,
                rejected_attempt_ids=rejected,
            )
        )
    return examples


def _measured_failure(verdict: Verdict | None) -> bool:
    # "released": an imported dataset's own reject decision (Pico-Banana's judge measured it; only the
    # scores were not published) — as much a measured failure as one of our judges' scores.
    return verdict is not None and verdict.status in ("scored", "released") and verdict.passed is False
