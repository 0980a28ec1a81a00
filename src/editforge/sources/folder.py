"""Photos in a folder (recursively), in a stable order."""

from __future__ import annotations

import os
from pathlib import Path

from editforge.images import PHOTO_SUFFIXES
from editforge.sources import SourceItem


def folder_items(root: Path) -> list[SourceItem]:
    root = Path(root)
    found: list[Path] = []
    # os.walk does not follow directory symlinks, so a symlink loop cannot trap the scan.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = Path(dirpath) / name
            # Regular files, symlinks to regular files, and broken symlinks (whose failure is recorded);
            # never a FIFO or device, or a symlink to one, whose read would block the worker forever.
            if (
                not name.startswith(".")
                and name.lower().endswith(PHOTO_SUFFIXES)
                and (path.is_file() or (path.is_symlink() and not path.exists()))
            ):
                found.append(path)
    return [SourceItem(uri=str(p.resolve() if not p.is_symlink() else p.absolute()), path=p) for p in sorted(found)]
