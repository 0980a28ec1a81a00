"""`editforge report`: plots and a gallery people judge a dataset by, as static files.

`build_report(run_dir=OUT)` reads a run's ledger; `build_report(manifests=[...])` reads Pico-Banana-400K
JSONL files. Both write `index.html` (opens from disk, no server, no network), `plots/*.png`, the paged
gallery index (`pages/*.js`, `data/*.js`) and `thumbs/` (made once). See docs/report.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from editforge.report.data import Stats, run_rows, run_stats
from editforge.report.gallery import GalleryIndex, Thumbnails, summary_data, write_gallery, write_summary
from editforge.report.html import write_html
from editforge.report.manifest import ImageResolver, manifest_rows, manifest_stats
from editforge.report.plots import Plot, make_plots
from editforge.report.store_images import ReportImages

__all__ = ["ReportResult", "build_report"]


@dataclass
class ReportResult:
    index_html: Path
    report_dir: Path
    stats: Stats
    gallery: GalleryIndex
    plots: list[Plot] = field(default_factory=list)
    thumbs_made: int = 0
    thumbs_kept: int = 0
    thumbs_failed: int = 0
    elapsed_s: float = 0.0


def build_report(
    run_dir: Path | None = None,
    manifests: list[Path] | None = None,
    out: Path | None = None,
    images: Path | None = None,
    base_url: str | None = None,
    page_size: int = 200,
    thumb_size: int = 256,
    workers: int | None = None,
) -> ReportResult:
    """Write the report; `out` defaults to `run_dir/report` (or `report/` beside the first manifest)."""
    from editforge.store.ledger import Ledger

    if (run_dir is None) == (not manifests):
        raise ValueError("give a run directory or Pico-Banana manifests, not both")
    if page_size < 1:
        raise ValueError("page size must be at least 1")
    start = time.perf_counter()
    if run_dir is not None:
        report_dir = Path(out or run_dir / "report").resolve()
        report_dir.mkdir(parents=True, exist_ok=True)
        thumbs = Thumbnails(report_dir, thumb_size, workers)
        images = ReportImages(Path(run_dir).resolve(), report_dir)  # RUN/images, or the run's image store
        with Ledger(run_dir / "ledger.sqlite") as ledger:
            stats = run_stats(ledger, Path(run_dir).resolve().name)
            rows = run_rows(ledger, Path(run_dir).resolve(), stats, images)
            index = write_gallery(rows, report_dir, page_size, thumbs)
        _store_notes(stats, images)
    else:
        paths = [Path(p) for p in manifests or []]
        report_dir = Path(out or paths[0].parent / "report").resolve()
        report_dir.mkdir(parents=True, exist_ok=True)
        thumbs = Thumbnails(report_dir, thumb_size, workers) if images is not None else None
        stats = manifest_stats(paths, ", ".join(p.name for p in paths))
        if images is None:
            stats.notes.append("No --images folder: the gallery shows the images from their URLs (no thumbnails).")
        resolver = ImageResolver(images.resolve() if images else None, base_url)
        index = write_gallery(manifest_rows(paths, resolver), report_dir, page_size, thumbs)
        stats.images_missing = resolver.missing
        if resolver.missing:
            where = f"under {images}" if images else "(no --images folder or --base-url to find them)"
            stats.notes.append(f"{resolver.missing} images not found {where}: their cards name them instead")
    summary = summary_data(index, stats.title, stats.mode)
    write_summary(report_dir, summary)
    plots = make_plots(stats, index, report_dir)
    html = write_html(report_dir, stats, index, plots, summary)
    return ReportResult(
        index_html=html,
        report_dir=report_dir,
        stats=stats,
        gallery=index,
        plots=plots,
        thumbs_made=thumbs.made if thumbs else 0,
        thumbs_kept=thumbs.kept if thumbs else 0,
        thumbs_failed=thumbs.failed if thumbs else 0,
        elapsed_s=time.perf_counter() - start,
    )


def _store_notes(stats: Stats, images: ReportImages) -> None:
    if images.error:
        stats.notes.append(f"{images.error}: the cards name the images instead")
    elif images.copied or (images.store is not None and images.copies.is_dir()):
        stats.notes.append(
            f"Images read from the run's image store {images.uri}: copied into the report's images/ folder "
            "(thumbnails and full-size links use the copies)"
        )
    if images.missing:
        stats.images_missing += images.missing
        stats.notes.append(f"{images.missing} images not found in the run's image store {images.uri}")
