"""Release rows → the ledger's records, so every part of editforge reads an import like a run.

The release gives the photo, both instructions, the edit type, the chosen edit and the rejected ones;
not the judge's scores. So each attempt gets a `released` verdict: the release's accept (chosen) or
reject decision, with the paper's models named, and no score (none is ever made up). An sft row and a
preference row with the same `output_image` are one task (the preference row adds the failed attempts
before the pass), which is how editforge curates: a pass is an SFT example, and the failures before it
make it a preference pair too. A multi-turn row is a session; its turns carry no edit type in the
release (`unspecified`), except turn 1 when it is an sft row of the same photo and instruction.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from editforge.importers.picobanana.book import Stored
from editforge.importers.picobanana.manifest import SessionRow, SingleRow
from editforge.records import Attempt, Instruction, ModelRef, Photo, Session, Task, Verdict, stable_id
from editforge.store.ledger import Ledger
from editforge.taxonomy import UNSPECIFIED

# The paper's models for each role (Qiu et al. 2025, arXiv 2510.19808): what made the released rows.
WRITER = ModelRef(provider="pico-banana-400k", model="gemini-2.5-flash", prompt_version="release")
REWRITER = ModelRef(provider="pico-banana-400k", model="qwen2.5-7b-instruct", prompt_version="release")
EDITOR = ModelRef(provider="pico-banana-400k", model="gemini-2.5-flash-image", prompt_version="release")
JUDGE = ModelRef(provider="pico-banana-400k", model="gemini-2.5-pro", prompt_version="release")
PHOTO_LICENSE = "CC BY 2.0 (Open Images / Flickr)"
DATASET_LICENSE = "CC BY-NC-ND 4.0"


def photo_record(url: str, source: Stored) -> Photo:
    where = source.origin.removeprefix("openimages:")
    attribution = f"Open Images {where}; {url}" if source.origin.startswith("openimages:") else url
    return Photo(
        photo_id=PurePosixPath(source.store_path).stem[:16],  # the store names a file by its pixel hash
        uri=url,  # the release's `open_image_input_url`, as released
        image=source.store_path,
        width=source.width,
        height=source.height,
        attribution=attribution,
        license=PHOTO_LICENSE,
    )


def _attempt(task: Task, index: int, instruction: str, edit: Stored) -> Attempt:
    return Attempt(
        attempt_id=stable_id(task.task_id, index),
        task_id=task.task_id,
        index=index,
        seed=0,
        instruction=instruction,
        status="ok",
        output_image=edit.store_path,
        width=edit.width,
        height=edit.height,
        model=EDITOR,
        raw_reply=f"released as {edit.origin}",
    )


def _verdict(attempt: Attempt, passed: bool, why: str) -> Verdict:
    return Verdict(
        attempt_id=attempt.attempt_id,
        task_id=attempt.task_id,
        status="released",
        decision=passed,
        rationale=why + " (the release has no judge scores)",
        model=JUDGE,
    )


def single_task_id(row: SingleRow) -> str:
    return stable_id("picobanana", row.output_image)


def write_single(
    ledger: Ledger, row: SingleRow, photo: Photo, chosen: Stored, rejected: list[Stored], rejected_from: str | None
) -> Task:
    """One task (plus its instructions, attempts and verdicts) for an sft row and/or its preference row.

    Every write is idempotent (same ids, insert-or-replace), and the caller marks the row imported only
    after the last one: a kill part-way leaves a row that the next import simply writes again.
    """
    task = Task(task_id=single_task_id(row), photo_id=photo.photo_id, edit_type=row.edit_type, seed=0,
                input_image=photo.image)  # fmt: skip
    attempts = [_attempt(task, i, row.text, edit) for i, edit in enumerate([*rejected, chosen], start=1)]
    ledger.add_tasks([task])
    ledger.add_instruction(Instruction(task_id=task.task_id, kind="long", text=row.text, model=WRITER))
    if row.summarized_text.strip():
        ledger.add_instruction(
            Instruction(task_id=task.task_id, kind="short", text=row.summarized_text, model=REWRITER)
        )
    for attempt in attempts:
        ledger.add_attempt(attempt)
        passed = attempt is attempts[-1]
        why = f"chosen in {row.ref}" if passed else f"a rejected image of {rejected_from or row.ref}"
        ledger.add_verdict(_verdict(attempt, passed, why))
    ledger.set_task_status(task.task_id, "passed")
    return task


def _passed_turn(ledger: Ledger, task: Task, prompt: str, edit: Stored, why: str) -> Attempt:
    ledger.add_tasks([task])
    ledger.add_instruction(Instruction(task_id=task.task_id, kind="long", text=prompt, model=WRITER))
    attempt = _attempt(task, 1, prompt, edit)
    ledger.add_attempt(attempt)
    ledger.add_verdict(_verdict(attempt, True, why))
    ledger.set_task_status(task.task_id, "passed")
    return attempt


def write_session(ledger: Ledger, row: SessionRow, photo: Photo, turns: list[Stored], first: Task | None) -> Session:
    """A multi-turn row: turn 1 (an existing sft task when it is one), then one task per later turn."""
    if first is None:
        first = Task(task_id=stable_id("picobanana-turn", row.ref.split, row.ref.line), photo_id=photo.photo_id,
                     edit_type=UNSPECIFIED.key, seed=0, input_image=photo.image)  # fmt: skip
        _passed_turn(ledger, first, row.prompts[0], turns[0], f"turn 1 of {row.ref}")
    session = Session(session_id=stable_id("picobanana-session", row.ref.split, row.ref.line),
                      photo_id=photo.photo_id, first_task_id=first.task_id, seed=0,
                      planned_types=[UNSPECIFIED.key] * (len(turns) - 1))  # fmt: skip
    ledger.add_sessions([session])
    current = turns[0].store_path
    for number in range(2, len(turns) + 1):
        task = Task(task_id=stable_id(session.session_id, number), photo_id=photo.photo_id,
                    edit_type=UNSPECIFIED.key, seed=0, turn=number, session_id=session.session_id,
                    input_image=current, history=list(row.prompts[: number - 1]))  # fmt: skip
        attempt = _passed_turn(ledger, task, row.prompts[number - 1], turns[number - 1], f"turn {number} of {row.ref}")
        current = attempt.output_image or current
    ledger.set_session_status(session.session_id, "complete")
    return session
