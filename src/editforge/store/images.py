"""Images of a run, stored once by content hash under `OUT/images/`.

A path in the store is relative to the run directory (`images/3f/3fa2….png`), which is what the
records and the exported files carry, so a run directory can be moved or uploaded whole.
"""

from __future__ import annotations

import hashlib
import threading
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
        # The runner's I/O threads share one store: a lookup racing another thread's eviction would raise.
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_lock": None, "_cache": OrderedDict()}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    @staticmethod
    def rel_path(image: np.ndarray) -> str:
        """Where `image` is (or would be) stored, relative to the run directory."""
        key = pixel_hash(image)
        return f"images/{key[:2]}/{key}.png"

    def put(self, image: np.ndarray) -> str:
        rel = self.rel_path(image)
        if not self._exists(rel):  # stored once: a retried or resumed call costs no second write
            self._write(rel, encode_png(image))
        self._remember(rel, image.copy())  # the caller keeps its array and may change it
        return rel

    def get(self, rel: str) -> np.ndarray:
        with self._lock:
            cached = self._cache.get(rel)
            if cached is not None:
                self._cache.move_to_end(rel)
        if cached is not None:
            return cached.copy()  # callers may modify what they get (the cached array is never changed)
        image = decode_png(self.read_bytes(rel))  # outside the lock: decoding is the slow part
        self._remember(rel, image)
        return image.copy()

    def _exists(self, rel: str) -> bool:
        return (self.run_dir / rel).exists()

    def _write(self, rel: str, data: bytes) -> None:
        write_atomic(self.run_dir / rel, data)

    def _remember(self, rel: str, image: np.ndarray) -> None:
        if self._cache_size:
            with self._lock:
                self._cache[rel] = image
                self._cache.move_to_end(rel)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)

    def read_bytes(self, rel: str) -> bytes:
        """The stored PNG file as it is (exports copy it without decoding)."""
        return self.path(rel).read_bytes()

    def path(self, rel: str) -> Path:
        resolved = (self.run_dir / rel).resolve()
        if not resolved.is_relative_to(self.run_dir.resolve()):
            raise ValueError(f"image path {rel!r} escapes the run directory")
        return resolved


def open_image_store(run_dir: Path, uri: str | None = None) -> ImageStore:
    """The run's image store: under the run directory, or at `uri` (object storage) when the run said so.

    `uri` None means "whatever this run uses": the one recorded by `record_image_store`, else local."""
    if uri is None:
        uri = recorded_images_uri(run_dir)
    if uri is None:
        return ImageStore(run_dir)
    from editforge.store.remote_images import FsspecImageStore  # fsspec only for runs that use it

    return FsspecImageStore(run_dir, uri)


IMAGES_URI_FILE = "images_uri.txt"  # in the run directory: where its images live, when not under it


def recorded_images_uri(run_dir: Path) -> str | None:
    marker = Path(run_dir) / IMAGES_URI_FILE
    return marker.read_text(encoding="utf-8").strip() or None if marker.exists() else None


def record_images_uri(run_dir: Path, uri: str | None) -> None:
    """Pin the run's image store on first use; a resume that points elsewhere would lose its images."""
    recorded = recorded_images_uri(run_dir)
    local = Path(run_dir) / "images"
    started = recorded is None and local.is_dir() and any(local.iterdir())
    if recorded == uri:
        return
    if recorded is not None or started:
        raise ValueError(
            f"{run_dir} keeps its images {'at ' + recorded if recorded else 'under the run directory'}; "
            f"resume it with images_uri {recorded or 'unset'} (asked: {uri or 'unset'})"
        )
    write_atomic(Path(run_dir) / IMAGES_URI_FILE, f"{uri}\n".encode())
