"""Out of the ledger, into the files people train from. Every row keeps its provenance."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from editforge.config import ConfigError

if TYPE_CHECKING:
    from editforge.store.ledger import Ledger

# format -> where it goes inside the run directory. `picobanana` writes the release's JSONL files at the
# top of the run dir (paths relative to it); the others are self-contained folders with images embedded.
FORMATS: dict[str, str] = {"picobanana": ".", "hf": "hf", "webdataset": "webdataset"}


def resolve_formats(formats: str | Iterable[str]) -> list[str]:
    """`all`, one name, a comma-separated string or a list → known format names, in FORMATS order."""
    names = [f.strip() for f in formats.split(",")] if isinstance(formats, str) else [f.strip() for f in formats]
    names = [n for n in names if n]
    if "all" in names:
        return list(FORMATS)
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        named = ", ".join(unknown) or "(none)"
        raise ConfigError(f"unknown export format {named}; choose from all, {', '.join(FORMATS)}")
    return [f for f in FORMATS if f in names]


def export_all(
    ledger: Ledger, run_dir: Path, formats: str | Iterable[str] = "all", align: str = "none"
) -> dict[str, dict[str, int]]:
    """Write each asked-for format from the ledger; returns rows written per subset, per format.

    `align` (none, resize, pad, crop) applies to the formats that embed images (hf, webdataset); the
    picobanana files point at the stored images as they are. A format whose optional packages are
    missing raises `ExportDependencyError` (a ConfigError) naming `pip install 'editforge[export]'`.
    """
    from editforge.export.common import check_align

    run_dir = Path(run_dir)
    chosen = resolve_formats(formats)
    align = check_align(align)
    results: dict[str, dict[str, int]] = {}
    for fmt in chosen:
        if fmt == "picobanana":
            from editforge.export.picobanana import export_picobanana

            results[fmt] = export_picobanana(ledger, run_dir)
        elif fmt == "hf":
            from editforge.export.hf import export_hf

            results[fmt] = export_hf(ledger, run_dir, run_dir / FORMATS[fmt], align=align)
        else:
            from editforge.export.webdataset import export_webdataset

            results[fmt] = export_webdataset(ledger, run_dir, run_dir / FORMATS[fmt], align=align)
    return results
