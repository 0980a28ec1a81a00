"""Where photos come from. A source lists `SourceItem`s; reading the bytes happens in a worker."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceItem:
    uri: str  # a path or URL: what the release calls `open_image_input_url`
    path: Path | None = None  # local file to read, when there is one
    attribution: str | None = None
    license: str | None = None

    def read_bytes(self) -> bytes:
        if self.path is None:
            raise OSError(f"{self.uri}: no local file")
        # O_NONBLOCK, then a check of what was opened: a file swapped for a FIFO (or a symlink to one)
        # after the folder was listed fails here instead of blocking the worker forever.
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"{self.uri}: not a regular file")
            return file.read()
