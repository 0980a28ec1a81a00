"""The ledger's passing tasks, joined into one view per example: what every export format reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from editforge import taxonomy
from editforge.records import Attempt, Example, Instruction, Photo, Task, Verdict
from editforge.stages.curate import curate
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


def example_views(ledger: Ledger) -> Iterator[ExampleView]:
    """Every curated example, in plan order; streams task by task (bounded memory)."""
    for task in ledger.tasks("passed"):
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
        "writer": view.long.model.model_dump(),
        "rewriter": view.short.model.model_dump() if view.short else None,
        "editor": view.chosen.model.model_dump(),
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
