"""What the import has fetched and verified so far, in the run's ledger (its own two tables).

An image is `verified` once its bytes decoded in full and sit in the content-addressed store: the
file is written (atomically) before its row is committed, so after a kill -9 a verified image is
never fetched again, and an image whose row is missing is simply fetched again. Failures are kept
with their reason; a retryable one (timeout, 5xx, 429, cut short) is tried again by the next import,
a permanent one (404, not an image, not in Open Images) is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from editforge.images import PhotoError, decode_photo
from editforge.store.files import write_atomic
from editforge.store.images import ImageStore
from editforge.store.ledger import Ledger

_SCHEMA = """
CREATE TABLE IF NOT EXISTS import_images (
    key TEXT PRIMARY KEY, ok INTEGER NOT NULL, store_path TEXT, width INTEGER, height INTEGER,
    origin TEXT, reason TEXT, retryable INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS import_rows (ref TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT);
"""


@dataclass(frozen=True)
class Stored:
    key: str
    store_path: str
    width: int
    height: int
    origin: str  # where the bytes came from: openimages:<ImageID>, a URL, a file


@dataclass(frozen=True)
class Missing:
    key: str
    reason: str
    retryable: bool
    origin: str | None = None  # "openimages": not found locally (reconsidered when those inputs change)


def source_key(url: str) -> str:
    return f"source:{url}"


def edit_key(path: str) -> str:
    return f"edit:{path}"


class ImportBook:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        ledger.db.executescript(_SCHEMA)

    def stored(self, key: str) -> Stored | None:
        row = self.ledger.db.execute(
            "SELECT store_path, width, height, origin FROM import_images WHERE key = ? AND ok = 1", (key,)
        ).fetchone()
        return Stored(key, *row) if row else None

    def settled(self) -> set[str]:
        """Keys not to fetch again: verified, or failed for good."""
        rows = self.ledger.db.execute("SELECT key FROM import_images WHERE ok = 1 OR retryable = 0")
        return {key for (key,) in rows}

    def failure(self, key: str) -> Missing | None:
        row = self.ledger.db.execute(
            "SELECT reason, retryable FROM import_images WHERE key = ? AND ok = 0", (key,)
        ).fetchone()
        return Missing(key, row[0], bool(row[1])) if row else None

    def record(self, outcome: Stored | Missing) -> None:
        if isinstance(outcome, Stored):
            values = (outcome.key, 1, outcome.store_path, outcome.width, outcome.height, outcome.origin, None, 0)
        else:
            values = (outcome.key, 0, None, None, None, outcome.origin, outcome.reason, int(outcome.retryable))
        self.ledger.db.execute("INSERT OR REPLACE INTO import_images VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)

    def forget_local_misses(self, inputs: str) -> None:
        """Photos Open Images lacked are looked for again when its inputs (tars, CSV, fallback) change."""
        if self.ledger.get_meta("openimages_inputs") != inputs:
            self.ledger.db.execute("DELETE FROM import_images WHERE ok = 0 AND origin = 'openimages'")
            self.ledger.set_meta("openimages_inputs", inputs)

    def set_row(self, ref: str, status: str, reason: str | None = None) -> None:
        self.ledger.db.execute("INSERT OR REPLACE INTO import_rows VALUES (?, ?, ?)", (ref, status, reason))


def verify_and_store(store: ImageStore, key: str, data: bytes, origin: str) -> Stored | Missing:
    """Decode the bytes in full (a truncated or corrupt image is refused), then store them by content.

    A plain RGB PNG (the release's edits) is stored as it came: its pixels are what was hashed, and
    encoding them again would cost more than the decode. Anything else is stored re-encoded.
    """
    try:
        image: np.ndarray = decode_photo(data, origin)
    except PhotoError as exc:
        return Missing(key, str(exc), retryable=False)
    if _plain_rgb_png(data):
        rel = store.rel_path(image)
        target = store.path(rel)
        if not target.exists():
            write_atomic(target, data)
    else:
        rel = store.put(image)
    return Stored(key, rel, int(image.shape[1]), int(image.shape[0]), origin)


def _plain_rgb_png(data: bytes) -> bool:
    """A PNG whose decoded pixels are exactly its samples: 8-bit RGB (IHDR bit depth 8, colour type 2),
    no eXIf chunk (whose orientation decode_photo would apply)."""
    return (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        and data[12:16] == b"IHDR"
        and data[24:26] == b"\x08\x02"
        and (b"eXIf" not in data)
    )
