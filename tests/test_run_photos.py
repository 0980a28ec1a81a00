"""A run's photos and plan through the ledger: the same plan as in memory, stored in chunks, resumable,
and photos read back by id (what keeps the driver flat at 400K planned tasks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from editforge.engine.run_photos import RunPhotos, add_planned
from editforge.records import Photo, PhotoFacts
from editforge.stages.plan import iter_plan_tasks, plan_tasks
from editforge.store.ledger import Ledger

ALLOWED = frozenset({"color_tone", "weather", "zoom_in", "add_text", "person_lineart", "translate_text"})


def _photos(n: int) -> list[Photo]:
    return [
        Photo(photo_id=f"p{i:03d}", uri=f"/{i}.jpg", image=f"images/{i}.png", width=8, height=8,
              facts=PhotoFacts(has_person=i % 3 == 0))
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        yield ledger


def test_the_plan_stored_in_chunks_is_the_plan_made_in_memory(ledger: Ledger) -> None:
    photos = _photos(40)
    for photo in photos:
        ledger.add_photo(photo)
    run_photos = RunPhotos(ledger, [p.photo_id for p in photos])
    assert add_planned(ledger, iter_plan_tasks(run_photos, ALLOWED, 3, seed=7), chunk=7) == 120
    assert list(ledger.tasks()) == plan_tasks(photos, ALLOWED, 3, seed=7)  # same tasks, same order


def test_a_resumed_plan_adds_only_what_is_missing_in_order(ledger: Ledger) -> None:
    photos = _photos(10)
    plan = plan_tasks(photos, ALLOWED, 2, seed=1)
    ledger.add_tasks(plan[:7])  # killed after the first chunk
    assert add_planned(ledger, iter(plan), chunk=4) == len(plan) - 7
    assert [t.task_id for t in ledger.tasks()] == [t.task_id for t in plan]


def test_photos_are_read_back_by_id_and_only_the_runs_own(ledger: Ledger) -> None:
    photos = _photos(5)
    for photo in photos:
        ledger.add_photo(photo)
    run_photos = RunPhotos(ledger, [p.photo_id for p in photos[:3]], cache_size=2)
    assert len(run_photos) == 3 and "p001" in run_photos and "p004" not in run_photos
    for _ in range(2):
        assert [run_photos[p.photo_id] for p in photos[:3]] == photos[:3]
    with pytest.raises(KeyError):
        run_photos["p004"]  # in the ledger, but not a source of this run
    assert list(run_photos) == photos[:3]
