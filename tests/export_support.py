"""A real run with sessions, built once for the export tests (offline pipeline + hand-run turns)."""

from __future__ import annotations

from pathlib import Path

from editforge.config import build_config
from editforge.dataset import accepted_turn, example_views, session_views
from editforge.models.registry import build_role
from editforge.pipeline import run
from editforge.records import Session, Task, stable_id
from editforge.stages.edit import edit_attempt
from editforge.stages.judge import judge_attempt
from editforge.stages.plan import derive_seed
from editforge.stages.write import rewrite_instruction, write_instruction
from editforge.store.images import ImageStore
from editforge.store.ledger import Ledger

SESSION_TURNS = (["film_grain_vintage", "outpainting"], ["global_lighting"])


def add_session(ledger: Ledger, run_dir: Path, first: Task, turn_types: list[str]) -> Session:
    """Extend a passing task into a multi-turn session the way the pipeline does, stage by stage."""
    writer, rewriter, editor, judge = (build_role(r, "offline") for r in ("writer", "rewriter", "editor", "judge"))
    images = ImageStore(run_dir)
    photo = ledger.photo(first.photo_id)
    turn_one = accepted_turn(ledger, first)
    assert turn_one is not None
    session = Session(
        session_id=stable_id("session", first.task_id),
        photo_id=photo.photo_id,
        first_task_id=first.task_id,
        seed=derive_seed(first.seed, "session"),
        planned_types=list(turn_types),
    )
    ledger.add_sessions([session])
    input_image, history = turn_one.chosen.output_image, [turn_one.long.text]
    for turn, edit_type in enumerate(turn_types, start=2):
        task = Task(
            task_id=stable_id("turn", session.session_id, turn),
            photo_id=photo.photo_id,
            edit_type=edit_type,
            seed=derive_seed(session.seed, turn),
            turn=turn,
            session_id=session.session_id,
            input_image=input_image,
            history=list(history),
        )
        ledger.add_tasks([task])
        long = write_instruction(writer, task, photo, images)
        ledger.add_instruction(long)
        ledger.add_instruction(rewrite_instruction(rewriter, task, long))
        passed = None
        for index in range(1, 4):
            attempt = edit_attempt(editor, task, long.text, index, images)
            ledger.add_attempt(attempt)
            if attempt.output_image is None:
                continue
            verdict = judge_attempt(judge, task, attempt, images, 0.7)
            ledger.add_verdict(verdict)
            if verdict.passed:
                passed = attempt
                break
        ledger.set_task_status(task.task_id, "passed" if passed else "failed")
        if passed is None:
            break
        input_image, history = passed.output_image, [*history, long.text]
    done = len(history)  # accepted turns, the first included
    status = "complete" if done == len(turn_types) + 1 else ("ended" if done >= 2 else "failed")
    ledger.set_session_status(session.session_id, status)
    return session


def build_run(root: Path, photo_dir: Path) -> Path:
    """4 photos × (outpainting, color tone), one worker, then two sessions on the first passing tasks."""
    run_dir = root / "run"
    overrides = {
        "images": photo_dir,
        "out": run_dir,
        "per_photo": 2,
        "edit_types": ["outpainting", "color_tone"],
        "seed": 3,
        "workers": 1,
    }
    run(build_config({}, overrides, "test"), quiet=True)
    with Ledger(run_dir / "ledger.sqlite") as ledger:
        firsts = list(ledger.tasks("passed"))[: len(SESSION_TURNS)]
        for first, turns in zip(firsts, SESSION_TURNS, strict=True):
            add_session(ledger, run_dir, first, turns)
        views = list(example_views(ledger))
        assert any(v.example.kind == "preference" for v in views), "the test run should make preference pairs"
        assert len(list(session_views(ledger))) >= 1, "the test run should make a multi-turn session"
    return run_dir
