"""The image store on object storage (s3://, gs://, …) or any other fsspec filesystem (file:// too).

Same names and content addressing as `ImageStore` — `images/3f/3fa2….png`, relative to the run — so
records, exports and resumes do not care where the bytes are. Workers on every node read and write
here directly: pixels never pass through the driver, only these short names do.
"""

from __future__ import annotations

from pathlib import Path

from editforge.store.files import write_atomic
from editforge.store.images import ImageStore


class FsspecImageStore(ImageStore):
    def __init__(self, run_dir: Path, uri: str, cache_size: int = 8) -> None:
        super().__init__(run_dir, cache_size)
        try:
            from fsspec.core import url_to_fs
        except ModuleNotFoundError as exc:
            raise ValueError(f"images_uri {uri!r} needs fsspec: pip install 'editforge[ray]'") from exc
        self.uri = uri.rstrip("/")
        self.fs, self.root = url_to_fs(self.uri)
        protocol = self.fs.protocol
        self._local = "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    def _full(self, rel: str) -> str:
        parts = rel.split("/")
        if rel.startswith("/") or ".." in parts or "" in parts:
            raise ValueError(f"image path {rel!r} escapes the image store")
        return f"{self.root}/{rel}"

    def _exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self._full(rel)))

    def _write(self, rel: str, data: bytes) -> None:
        if self._local:  # a plain filesystem: no reader may see half a file (an object PUT is atomic already)
            write_atomic(Path(self._full(rel)), data)
        else:
            self.fs.pipe_file(self._full(rel), data)

    def read_bytes(self, rel: str) -> bytes:
        try:
            return bytes(self.fs.cat_file(self._full(rel)))
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.uri}/{rel}: not in the image store") from None

    def path(self, rel: str) -> Path:
        """A local path exists only for a local filesystem; elsewhere use `read_bytes`."""
        if self._local:
            return Path(self._full(rel))
        raise ValueError(f"image {rel!r} lives at {self.uri}, not on a local path: read it with read_bytes")
