"""Images of a run, stored once by content hash under `OUT/images/`.

A path in the store is relative to the run directory (`images/3f/3fa2….png`), which is what the
records and the exported files carry, so a run directory can be moved or uploaded whole.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
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
    """Content-addressed PNGs, with the last few decoded images kept in memory.

    A task's photo is read by the writer, every edit and every judge call, and a judge reads the edit
    that was just written: about a fifth of the offline pipeline's work was decoding the same PNGs
    again. A path names its content, so a cached array can never be stale.
    """

    def __init__(self, run_dir: Path, cache_size: int = 8) -> None:
        self.run_dir = Path(run_dir)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def put(self, image: np.ndarray) -> str:
        key = pixel_hash(image)
        rel = f"images/{key[:2]}/{key}.png"
        target = self.run_dir / rel
        if not target.exists():  # stored once: a retried or resumed call costs no second write
            write_atomic(target, encode_png(image))
        self._remember(rel, image.copy())  # the caller keeps its array and may change it
        return rel

    def get(self, rel: str) -> np.ndarray:
        cached = self._cache.get(rel)
        if cached is not None:
            self._cache.move_to_end(rel)
            return cached.copy()  # callers may modify what they get
        image = decode_png(self.path(rel).read_bytes())
        self._remember(rel, image)
        return image.copy()

    def _remember(self, rel: str, image: np.ndarray) -> None:
        if self._cache_size:
            self._cache[rel] = image
            self._cache.move_to_end(rel)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def path(self, rel: str) -> Path:
        resolved = (self.run_dir / rel).resolve()
        if not resolved.is_relative_to(self.run_dir.resolve()):
            raise ValueError(f"image path {rel!r} escapes the run directory")
        return resolved
