"""A run's photos and plan, kept in the ledger rather than in the driver's memory.

A Pico-Banana-sized run has tens of thousands of photos and 400K planned tasks: held as objects they
were most of the driver's memory (the plan alone ~0.6 GB). Tasks are planned and stored in chunks, and
a photo is read back from the ledger when a task needs it; tasks come in plan order, which is photo
order, so a small cache serves nearly every lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from itertools import islice

from editforge.records import Photo, Task
from editforge.store.ledger import Ledger

PLAN_CHUNK = 5000  # tasks written per transaction while planning


class RunPhotos:
    """The photos of this run (source order, each distinct photo once), by id, read on demand."""

    def __init__(self, ledger: Ledger, photo_ids: list[str], cache_size: int = 1024) -> None:
        self.ledger = ledger
        self.ids = photo_ids
        self._members = frozenset(photo_ids)
        self._cache: OrderedDict[str, Photo] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, photo_id: object) -> bool:
        return photo_id in self._members

    def __getitem__(self, photo_id: str) -> Photo:
        photo = self._cache.get(photo_id)
        if photo is None:
            if photo_id not in self._members:
                raise KeyError(photo_id)
            photo = self._cache[photo_id] = self.ledger.photo(photo_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(photo_id)
        return photo

    def __iter__(self) -> Iterator[Photo]:
        for photo_id in self.ids:
            yield self.ledger.photo(photo_id)  # not cached: planning walks every photo once


def add_planned(ledger: Ledger, tasks: Iterable[Task], chunk: int = PLAN_CHUNK) -> int:
    """Store a (lazily made) plan chunk by chunk; a resume re-plans the same ids and adds only the missing."""
    added, stream = 0, iter(tasks)
    while batch := list(islice(stream, chunk)):
        added += ledger.add_tasks(batch)
    return added
