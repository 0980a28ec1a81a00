"""Where photos come from. A source lists `SourceItem`s; reading the bytes happens in a worker."""

from __future__ import annotations

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
        return self.path.read_bytes()
