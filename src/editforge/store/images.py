"""Images of a run, stored once by content hash under `OUT/images/`.

A path in the store is relative to the run directory (`images/3f/3fa2….png`), which is what the
records and the exported files carry, so a run directory can be moved or uploaded whole.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from editforge.images import decode_png, encode_png
from editforge.store.files import write_atomic


def pixel_hash(image: np.ndarray) -> str:
    """Hash of the pixels and shape: the same picture gets the same name whatever the PNG encoder does."""
    digest = hashlib.sha256(repr(image.shape).encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()[:32]


class ImageStore:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def put(self, image: np.ndarray) -> str:
        key = pixel_hash(image)
        rel = f"images/{key[:2]}/{key}.png"
        target = self.run_dir / rel
        if not target.exists():  # stored once: a retried or resumed call costs no second write
            write_atomic(target, encode_png(image))
        return rel

    def get(self, rel: str) -> np.ndarray:
        return decode_png(self.path(rel).read_bytes())

    def path(self, rel: str) -> Path:
        resolved = (self.run_dir / rel).resolve()
        if not resolved.is_relative_to(self.run_dir.resolve()):
            raise ValueError(f"image path {rel!r} escapes the run directory")
        return resolved
