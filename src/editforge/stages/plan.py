"""Choose which edit types to try on which photo.

Types are spread evenly (each photo takes the types used least so far, ties broken by the seed) so
a small run still covers the taxonomy, and a type is only planned where the photo has what it needs
(a person, visible text) — Pico-Banana's category-specific filtering. Ids are deterministic, and a
resumed run keeps the types its photos were given, whatever photos were added since.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from editforge import taxonomy
from editforge.records import Photo, Session, Task, stable_id


def photo_allows(photo: Photo, edit_type: str) -> bool:
    needs = taxonomy.get(edit_type).needs
    if needs == "person":
        return photo.facts.has_person
    if needs == "text":
        return photo.facts.has_text
    return True


def derive_seed(*parts: object) -> int:
    return int(stable_id(*parts, length=8), 16)


def plan_tasks(
    photos: Iterable[Photo],
    allowed: frozenset[str],
    per_photo: int,
    seed: int,
    weights: dict[str, float] | None = None,
    planned: PlannedSoFar | None = None,
) -> list[Task]:
    """Single-turn tasks: each photo takes the types furthest below their share of the plan so far."""
    return list(iter_plan_tasks(photos, allowed, per_photo, seed, weights, planned))


@dataclass
class PlannedSoFar:
    """What a resumed run already planned: the photos that have their types, and how often each type was
    given. Those photos are not planned again and the counts start from there, so photos added to the
    folder since never change what the earlier photos were given."""

    photo_ids: set[str] = field(default_factory=set)
    type_counts: dict[str, int] = field(default_factory=dict)


def iter_plan_tasks(
    photos: Iterable[Photo],
    allowed: frozenset[str],
    per_photo: int,
    seed: int,
    weights: dict[str, float] | None = None,
    planned: PlannedSoFar | None = None,
) -> Iterator[Task]:
    """`plan_tasks`, one task at a time: a 400K-task plan never has to sit in memory whole. Each photo's
    tie-break is drawn from (seed, photo id), not from its position in the folder, so a photo added
    before it in the folder does not change its types."""
    weights = weights or dict.fromkeys(allowed, 1.0)
    planned = planned or PlannedSoFar()
    used: Counter[str] = Counter(planned.type_counts)
    order = [k for k in taxonomy.keys() if k in allowed and weights.get(k, 0) > 0]  # taxonomy order: stable
    for photo in photos:
        if photo.photo_id in planned.photo_ids:
            continue
        candidates = [k for k in order if photo_allows(photo, k)]
        tie_break = np.random.default_rng([seed, derive_seed("plan", photo.photo_id)]).permutation(len(candidates))
        # Least used relative to its weight first; among equals, types few photos allow (a person,
        # visible text) go first, since this photo may be one of the few chances to try them.
        ranked = sorted(
            range(len(candidates)),
            key=lambda i: (
                round(used[candidates[i]] / weights[candidates[i]], 9),
                taxonomy.get(candidates[i]).needs is None,
                tie_break[i],
            ),
        )
        for i in ranked[:per_photo]:
            edit_type = candidates[i]
            used[edit_type] += 1
            yield Task(
                task_id=stable_id("task", photo.photo_id, edit_type, 1, None, seed),
                photo_id=photo.photo_id,
                edit_type=edit_type,
                seed=derive_seed(seed, photo.photo_id, edit_type),
                input_image=photo.image,
            )


def next_turn_types(photo: Photo, history_types: list[str], allowed: frozenset[str]) -> list[str]:
    """Types that make sense as a session's next turn: not one already done in the session; a type that
    needs visible text only where the photo has text or an earlier turn added it."""
    has_text = photo.facts.has_text or "add_text" in history_types
    out = []
    for key in taxonomy.keys():
        if key not in allowed or key in history_types:
            continue
        needs = taxonomy.get(key).needs
        if (needs == "person" and not photo.facts.has_person) or (needs == "text" and not has_text):
            continue
        out.append(key)
    return out


def plan_sessions(
    starters: list[tuple[Task, Photo]],
    allowed: frozenset[str],
    count: int,
    lengths: dict[int, float],
    seed: int,
    on_failed_turn: Literal["end", "skip"] = "end",
    weights: dict[str, float] | None = None,
) -> list[Session]:
    """Up to `count` sessions, each extending a passing single-turn task (distinct photos first).

    A session of N turns adds N−1 types; a type that refers back (text colour after added text) is
    preferred when the history allows it, since those are the turns single-turn data cannot teach.
    """
    rng = np.random.default_rng([seed, 2])
    weights = weights or dict.fromkeys(allowed, 1.0)
    order = rng.permutation(len(starters))
    firsts: list[int] = []
    rest: list[int] = []
    seen: set[str] = set()
    for i in order:
        (rest if starters[i][1].photo_id in seen else firsts).append(i)
        seen.add(starters[i][1].photo_id)
    ranked = firsts + rest
    sizes, probs = list(lengths), np.array(list(lengths.values()), dtype=float)
    sessions: list[Session] = []
    for i in ranked[:count]:
        task, photo = starters[i]
        n_turns = int(rng.choice(sizes, p=probs / probs.sum()))
        history = [task.edit_type]
        for _ in range(n_turns - 1):
            options = [k for k in next_turn_types(photo, history, allowed) if weights.get(k, 0) > 0]
            if not options:
                break
            referring = [k for k in options if taxonomy.get(k).needs == "text" and "add_text" in history]
            pick = referring[0] if referring and rng.random() < 0.8 else options[int(rng.integers(len(options)))]
            history.append(pick)
        if len(history) < 2:
            continue
        sessions.append(
            Session(
                session_id=stable_id("session", task.task_id, seed),
                photo_id=photo.photo_id,
                first_task_id=task.task_id,
                seed=derive_seed(seed, "session", task.task_id),
                planned_types=history[1:],
                on_failed_turn=on_failed_turn,
            )
        )
    return sessions


def turn_task(session: Session, turn: int, edit_type: str, input_image: str, history: list[str]) -> Task:
    """Turn `turn` (≥ 2) of a session, editing `input_image` knowing the earlier instructions."""
    return Task(
        task_id=stable_id("turn", session.session_id, turn, edit_type),
        photo_id=session.photo_id,
        edit_type=edit_type,
        seed=derive_seed(session.seed, turn, edit_type),
        turn=turn,
        session_id=session.session_id,
        input_image=input_image,
        history=list(history),
    )
