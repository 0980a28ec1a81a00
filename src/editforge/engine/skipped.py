"""What a run tells people about the photos it could not use, and when that leaves nothing to do."""

from __future__ import annotations

import os
from pathlib import Path

from editforge.config import RunConfig
from editforge.images import PHOTO_SUFFIXES
from editforge.records import SourceFailure

SHOWN = 3  # reasons quoted in the one line; the ledger (and `editforge status`) keeps every one


class NoUsablePhotos(RuntimeError):
    """Ingest ended with not one photo to edit: a run that made nothing must not look like success."""


def no_usable_photos(config: RunConfig, failures: list[SourceFailure]) -> NoUsablePhotos:
    """The error for a source that gave no photo: where, how many files were skipped, and why."""
    where = {"folder": config.images, "urls": config.urls}.get(config.source, config.source)
    reasons = [failure.reason for failure in failures]
    if config.source == "folder" and config.images is not None:
        reasons += [f"{path.name}: not a photo type ({', '.join(PHOTO_SUFFIXES)})" for path in _others(config.images)]
    if not reasons:
        return NoUsablePhotos(f"no usable photos in {where} (it holds no files)")
    more = f"; and {len(reasons) - SHOWN} more" if len(reasons) > SHOWN else ""
    return NoUsablePhotos(
        f"no usable photos in {where} ({len(reasons)} files skipped: {'; '.join(reasons[:SHOWN])}{more})"
    )


def _others(root: Path) -> list[Path]:
    """Visible files that the folder source does not even try (wrong suffix)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        visible = (n for n in sorted(filenames) if not n.startswith("."))
        found += [Path(dirpath) / n for n in visible if not n.lower().endswith(PHOTO_SUFFIXES)]
    return found
