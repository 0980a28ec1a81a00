"""The 35 edit types and 8 categories of Pico-Banana-400K, as data.

One source of truth: everything else refers to a type by its `key`. The table ships in
`data/taxonomy.tsv` (a copy of the reference table) so the release strings stay exact.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

Requirement = Literal["person", "text"]


@dataclass(frozen=True)
class EditType:
    key: str
    category: str
    release_name: str  # the exact `edit_type` string of the Pico-Banana-400K release
    paper_count: int
    paper_success_rate: float | None
    needs: Requirement | None  # what the photo must contain for this type to be tried


@cache
def all_types() -> tuple[EditType, ...]:
    text = resources.files("editforge").joinpath("data/taxonomy.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return tuple(
        EditType(
            key=row["key"],
            category=row["category"],
            release_name=row["release_edit_type"],
            paper_count=int(row["paper_count"]),
            paper_success_rate=float(row["paper_success_rate"]) if row["paper_success_rate"] else None,
            needs=row["needs"] or None,  # type: ignore[arg-type]
        )
        for row in rows
    )


@cache
def _index() -> dict[str, EditType]:
    index: dict[str, EditType] = {}
    for t in all_types():
        index[t.key] = t
        index[t.release_name.lower()] = t
    return index


# A turn of an imported multi-turn session: the release gives no edit type per turn. It is never
# planned (not in all_types()/keys()) and the config refuses it; it only names what is not known.
UNSPECIFIED = EditType(
    key="unspecified", category="Unspecified", release_name="", paper_count=0, paper_success_rate=None, needs=None
)


def get(key_or_release_name: str) -> EditType:
    """Look a type up by key or by its release string (case-insensitive)."""
    if key_or_release_name == UNSPECIFIED.key:
        return UNSPECIFIED
    found = _index().get(key_or_release_name.strip().lower()) or _index().get(key_or_release_name.strip())
    if found is None:
        raise KeyError(f"unknown edit type {key_or_release_name!r}; run `editforge taxonomy` for the 35 keys")
    return found


def keys() -> list[str]:
    return [t.key for t in all_types()]


def categories() -> list[str]:
    seen: dict[str, None] = {}
    for t in all_types():
        seen.setdefault(t.category, None)
    return list(seen)


def by_category(category: str) -> list[EditType]:
    return [t for t in all_types() if t.category == category]


# Coarse content labels an example may carry: what the photo shows, for filtering and plots. A VLM writer
# names them (stages/labels.py has the rest); Pico-Banana-400K never released any.
CONTENT_LABELS: tuple[str, ...] = (
    "people", "animals", "text_signage", "buildings", "vehicles", "food", "nature", "sky",
)  # fmt: skip
