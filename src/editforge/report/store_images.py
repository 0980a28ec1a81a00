"""Where the report finds a run's images: under the run directory, or in the run's image store.

A run made with `images_uri:` keeps its pixels in the store pinned in RUN/images_uri.txt (s3://, gs://,
file://, …), not under RUN/images. On a local filesystem (file://) the report reads the store's files
in place. On object storage the browser cannot open the images from a static report on disk, so each
image is copied once into REPORT/images/<same name> (content addressed: a rerun copies nothing) and the
gallery's thumbnails and full-size links use that copy; the report folder is then self-contained.
"""

from __future__ import annotations

from pathlib import Path

from editforge.store.files import write_atomic
from editforge.store.images import ImageStore, open_image_store, recorded_images_uri


class ReportImages:
    """A run's image name (`images/3f/3fa2….png`) → the row image the gallery takes (`{"path": ...}`)."""

    def __init__(self, run_dir: Path, report_dir: Path) -> None:
        self.run_dir = run_dir
        self.uri = recorded_images_uri(run_dir)
        self.store: ImageStore | None = None
        self.error = ""  # why the store could not be opened (its cards then name the images instead)
        if self.uri:
            try:
                self.store = open_image_store(run_dir)
            except (ImportError, ValueError, OSError) as exc:
                self.error = f"cannot open the run's image store {self.uri}: {exc}"
        self.copies = report_dir / "images"
        self.copied = 0  # images copied from a remote store by this report
        self.missing = 0  # images the store did not have (shown as named placeholders)

    def __call__(self, rel: str) -> dict:
        if self.store is None:
            if self.uri:
                self.missing += 1
                return {"missing": rel}
            return {"path": str(self.run_dir / rel)}
        try:
            return {"path": str(self.store.path(rel))}  # a local store: read in place
        except ValueError:
            pass  # object storage: no local path
        local = self.copies / rel.removeprefix("images/")
        if not local.is_file():
            try:
                write_atomic(local, self.store.read_bytes(rel))
            except (OSError, ValueError) as exc:  # one unreadable image never stops the report
                self.missing += 1
                return {"missing": f"{rel} ({exc})"}
            self.copied += 1
        return {"path": str(local)}
