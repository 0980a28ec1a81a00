"""Attempts and verdicts → dataset examples, the Pico-Banana way.

A passing attempt makes an SFT example. If failed attempts came before it, the same task also makes
a preference example (chosen = the pass, rejected = those failures). A task with no pass makes no
example; its attempts and scores stay in the ledger for anyone who wants to re-filter later.
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
    # Only attempts with an image can be the rejected side of a pair: a refusal has nothing to show.
    rejected = [a.attempt_id for a in attempts if a.index < chosen.index and a.output_image is not None]
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
