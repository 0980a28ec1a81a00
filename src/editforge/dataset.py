"""The ledger's passing work, joined into one view per example: what every export format reads.

`example_views` yields single-turn examples (SFT and preference); `session_views` yields multi-turn
sessions, each turn with its accepted edit. Both stream from the ledger in plan order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from editforge import taxonomy
from editforge.records import Attempt, Example, Instruction, Photo, Session, Task, Verdict
from editforge.stages.curate import curate, first_pass
from editforge.stages.labels import content_labels
from editforge.store.ledger import Ledger


@dataclass
class ExampleView:
    example: Example
    task: Task
    photo: Photo
    long: Instruction
    short: Instruction | None
    chosen: Attempt
    verdict: Verdict
    rejected: list[tuple[Attempt, Verdict | None]]

    @property
    def labels(self) -> list[str]:
        return content_labels([self.long.text, self.short.text if self.short else ""], self.photo.facts)


@dataclass
class TurnView:
    task: Task
    long: Instruction
    short: Instruction | None
    chosen: Attempt
    verdict: Verdict


@dataclass
class SessionView:
    session: Session
    photo: Photo
    turns: list[TurnView]  # accepted turns in order; turns[0] is the single-turn example it extends

    @property
    def labels(self) -> list[str]:
        texts = [t.long.text for t in self.turns] + [t.short.text for t in self.turns if t.short]
        return content_labels(texts, self.photo.facts)


def accepted_turn(ledger: Ledger, task: Task) -> TurnView | None:
    """The task's passing edit with its instructions, or None if it has none."""
    attempts = ledger.attempts(task.task_id)
    verdicts = ledger.verdicts(task.task_id)
    chosen = first_pass(attempts, verdicts)
    long = ledger.instruction(task.task_id, "long")
    if chosen is None or long is None:
        return None
    short = ledger.instruction(task.task_id, "short")
    return TurnView(task=task, long=long, short=short, chosen=chosen, verdict=verdicts[chosen.attempt_id])


def session_turns(ledger: Ledger, session: Session) -> list[TurnView]:
    """The accepted turns of a session so far, turn 1 first."""
    first = ledger.task(session.first_task_id)
    turns = [turn for turn in [accepted_turn(ledger, first)] if turn] if first else []
    for task in ledger.session_tasks(session.session_id):
        turn = accepted_turn(ledger, task)
        if turn is not None:
            turns.append(turn)
    return turns


def session_views(ledger: Ledger) -> Iterator[SessionView]:
    """Every session with at least two accepted turns (a multi-turn example), in plan order."""
    for session in ledger.sessions():
        turns = session_turns(ledger, session)
        if len(turns) >= 2:
            yield SessionView(session=session, photo=ledger.photo(session.photo_id), turns=turns)


def example_views(ledger: Ledger) -> Iterator[ExampleView]:
    """Every curated example, in plan order; streams task by task (bounded memory)."""
    for task in ledger.tasks("passed"):
        if task.session_id is not None:  # later turns of a session belong to the multi-turn subset
            continue
        attempts = ledger.attempts(task.task_id)
        verdicts = ledger.verdicts(task.task_id)
        long = ledger.instruction(task.task_id, "long")
        if long is None:
            continue
        by_id = {a.attempt_id: a for a in attempts}
        photo = ledger.photo(task.photo_id)
        short = ledger.instruction(task.task_id, "short")
        for example in curate(task.task_id, attempts, verdicts):
            yield ExampleView(
                example=example,
                task=task,
                photo=photo,
                long=long,
                short=short,
                chosen=by_id[example.chosen_attempt_id],
                verdict=verdicts[example.chosen_attempt_id],
                rejected=[(by_id[r], verdicts.get(r)) for r in example.rejected_attempt_ids],
            )


def provenance(view: ExampleView) -> dict:
    """Our richer fields for one example (documented in docs/format.md)."""
    edit_type = taxonomy.get(view.task.edit_type)
    verdict = view.verdict
    return {
        "output_image": view.chosen.output_image,
        "task_id": view.task.task_id,
        "attempt_id": view.chosen.attempt_id,
        "attempt_index": view.chosen.index,
        "edit_type_key": edit_type.key,
        "category": edit_type.category,
        "input_image": view.task.input_image,
        "source": {
            "uri": view.photo.uri,
            "attribution": view.photo.attribution,
            "license": view.photo.license,
            "photo_id": view.photo.photo_id,
        },
        "source_size": [view.photo.width, view.photo.height],
        "output_size": [view.chosen.width, view.chosen.height],
        "scores": verdict.scores.model_dump() if verdict.scores else None,
        "score": verdict.score,
        "threshold": verdict.threshold,
        "rationale": verdict.rationale,
        "judge": verdict.model.model_dump(),
        "judge_pass_scores": verdict.pass_scores or None,  # multi-pass judging: each pass's weighted score
        "judge_tiebreak": verdict.tiebreak,
        "writer": view.long.model.model_dump(),
        "rewriter": view.short.model.model_dump() if view.short else None,
        "editor": view.chosen.model.model_dump(),
        "labels": view.labels,
        "task_seed": view.task.seed,
        "attempt_seed": view.chosen.seed,
        "rejected": [
            {
                "attempt_id": a.attempt_id,
                "attempt_index": a.index,
                "output_image": a.output_image,
                "seed": a.seed,
                "score": v.score if v else None,
                "scores": v.scores.model_dump() if v and v.scores else None,
                "rationale": v.rationale if v else a.error,
            }
            for a, v in view.rejected
        ],
    }
