"""Choose which edit types to try on which photo.

Types are spread evenly (each photo takes the types used least so far, ties broken by the seed) so
a small run still covers the taxonomy, and a type is only planned where the photo has what it needs
(a person, visible text) — Pico-Banana's category-specific filtering. Ids are deterministic, so a
resumed run re-plans exactly the same tasks.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from editforge import taxonomy
from editforge.records import Photo, Task, stable_id


def photo_allows(photo: Photo, edit_type: str) -> bool:
    needs = taxonomy.get(edit_type).needs
    if needs == "person":
        return photo.facts.has_person
    if needs == "text":
        return photo.facts.has_text
    return True


def derive_seed(*parts: object) -> int:
    return int(stable_id(*parts, length=8), 16)


def plan_tasks(photos: list[Photo], allowed: frozenset[str], per_photo: int, seed: int) -> list[Task]:
    rng = np.random.default_rng(seed)
    used: Counter[str] = Counter()
    order = [k for k in taxonomy.keys() if k in allowed]  # taxonomy order: stable across runs
    tasks: list[Task] = []
    for photo in photos:
        candidates = [k for k in order if photo_allows(photo, k)]
        tie_break = rng.permutation(len(candidates))
        # Least-used first; among equals, types few photos allow (a person, visible text) go first, since
        # this photo may be one of the few chances to try them.
        ranked = sorted(
            range(len(candidates)),
            key=lambda i: (used[candidates[i]], taxonomy.get(candidates[i]).needs is None, tie_break[i]),
        )
        for i in ranked[:per_photo]:
            edit_type = candidates[i]
            used[edit_type] += 1
            task_seed = derive_seed(seed, photo.photo_id, edit_type)
            tasks.append(
                Task(
                    task_id=stable_id("task", photo.photo_id, edit_type, 1, None, seed),
                    photo_id=photo.photo_id,
                    edit_type=edit_type,
                    seed=task_seed,
                    input_image=photo.image,
                )
            )
    return tasks
