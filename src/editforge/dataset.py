"""The ledger's passing work, joined into one view per example: what every export format reads.

`example_views` yields single-turn examples (SFT and preference); `session_views` yields multi-turn
sessions, each turn with its accepted edit. Both stream from the ledger in plan order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from urllib.parse import quote

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
        return content_labels(self.long.labels, self.photo.facts)


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
        # the photo the session starts from, as its first turn's writer saw it
        return content_labels(self.turns[0].long.labels, self.photo.facts)


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


# A session is over when its plan ran out ("complete") or a failed turn ended it ("ended", under
# on_failed_turn=end, or after skipping under on_failed_turn=skip). A session still "planned" was cut
# short by an interrupt or a deferral: its turns so far are not the example it was planned to be.
FINISHED_SESSIONS = ("complete", "ended")


def session_is_example(ledger: Ledger, session: Session) -> bool:
    """Whether the session is a multi-turn example: finished, with at least two accepted turns."""
    return ledger.session_status(session.session_id) in FINISHED_SESSIONS and len(session_turns(ledger, session)) >= 2


def session_views(ledger: Ledger) -> Iterator[SessionView]:
    """Every finished session with at least two accepted turns (a multi-turn example), in plan order."""
    published = photo_publisher(ledger)
    for session in ledger.sessions():
        if ledger.session_status(session.session_id) not in FINISHED_SESSIONS:
            continue
        turns = session_turns(ledger, session)
        if len(turns) >= 2:
            yield SessionView(session=session, photo=published(ledger.photo(session.photo_id)), turns=turns)


URL_PREFIX_META = "export_url_prefix"  # set by `editforge export --url-prefix`, kept for later exports
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def public_uri(uri: str, images_root: str | None, url_prefix: str | None = None) -> str:
    """Where a dataset says a photo came from: a URL as it is; a local file as its path relative to the
    images folder, under `url_prefix` when one is given — never an absolute path of the machine that
    built the dataset (it would leak the builder's directories and point nowhere for anyone else)."""
    if _URL.match(uri):
        return uri
    path, rel = Path(uri), None
    for root in {Path(images_root), Path(images_root).resolve()} if images_root else ():
        if path.is_relative_to(root):
            rel = path.relative_to(root).as_posix()
            break
    if rel is None:  # outside the folder (the bundled samples): its name is all a reader can use
        rel = PurePath(uri).name
    return f"{url_prefix.rstrip('/')}/{quote(rel)}" if url_prefix else rel


def photo_publisher(ledger: Ledger) -> Callable[[Photo], Photo]:
    """Photo → the same photo with the uri a dataset may carry (see `public_uri`)."""
    settings = json.loads(ledger.get_meta("plan_settings") or "{}")
    root, prefix = settings.get("images"), ledger.get_meta(URL_PREFIX_META)

    def published(photo: Photo) -> Photo:
        return photo.model_copy(update={"uri": public_uri(photo.uri, root, prefix)})

    return published


def example_views(ledger: Ledger) -> Iterator[ExampleView]:
    """Every curated example, in plan order; streams task by task (bounded memory)."""
    published = photo_publisher(ledger)
    for task in ledger.tasks("passed"):
        if task.session_id is not None:  # later turns of a session belong to the multi-turn subset
            continue
        attempts = ledger.attempts(task.task_id)
        verdicts = ledger.verdicts(task.task_id)
        long = ledger.instruction(task.task_id, "long")
        if long is None:
            continue
        by_id = {a.attempt_id: a for a in attempts}
        photo = published(ledger.photo(task.photo_id))
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


def deliberate_flaw(attempt: Attempt) -> str | None:
    """The flaw the offline classical editor put in this edit on purpose ("weak", "overdone", "patchy",
    ...), or None. About a fifth of its edits are spoilt that way so the keyless path exercises the judge
    and makes preference pairs; such an attempt is a staged miss, not a model failure. Other editors: None."""
    if attempt.model.provider != "offline" or not attempt.raw_reply.startswith("{"):
        return None
    try:
        flaw = json.loads(attempt.raw_reply).get("flaw")
    except (ValueError, AttributeError):
        return None
    return str(flaw) if flaw else None


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
        "deliberate_flaw": deliberate_flaw(view.chosen),  # offline editor only: a staged miss that passed
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
                "deliberate_flaw": deliberate_flaw(a),  # offline editor only: spoilt on purpose, see README
            }
            for a, v in view.rejected
        ],
    }
