"""What the `hf` and `webdataset` exports share: one record per row, its metadata and its image bytes.

A record is built from the ledger's views (editforge.dataset), streaming: the metadata is plain JSON-able
values, the images are PNG bytes read from the run's store (or re-encoded once when `align` puts an
edit back on its source's geometry). Both exports write the same fields; only the container differs.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Literal, get_args

from editforge import taxonomy
from editforge.config import ConfigError
from editforge.dataset import ExampleView, SessionView, example_views, session_views
from editforge.images import decode_png, encode_png
from editforge.records import ModelRef
from editforge.stages.align import AlignMethod, align_to
from editforge.store.images import open_image_store
from editforge.store.ledger import Ledger

Subset = Literal["sft", "preference", "multi_turn"]
SUBSETS: tuple[Subset, ...] = get_args(Subset)
ALIGN_METHODS: tuple[str, ...] = get_args(AlignMethod)
INSTALL_HINT = "pip install 'editforge[export]'"

# A key names files inside archives: letters, digits, '_' and '-' only (no dot: webdataset splits a
# member name into key and extension at the first dot; no '/' or '..': nothing can leave its folder).
_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SAFE_ROLE = re.compile(r"[a-z][a-z0-9_]{0,23}")  # with a key, a member name stays under 100 bytes
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ExportDependencyError(ConfigError):
    """An export format needs a package that is not installed (the CLI prints it as one line)."""


def require(*modules: str) -> list[ModuleType]:
    """Import the optional packages an export needs, or say how to install them."""
    loaded = []
    for name in modules:
        try:
            loaded.append(importlib.import_module(name))
        except ImportError as exc:
            raise ExportDependencyError(
                f"this export needs the `{name.split('.')[0]}` package: {INSTALL_HINT}"
            ) from exc
    return loaded


def missing_dependencies(fmt: str) -> list[str]:
    """The packages an export format needs that are not importable (empty: it can run)."""
    needs = {"hf": ("pyarrow", "datasets"), "webdataset": ("pyarrow",)}.get(fmt, ())
    return [name for name in needs if importlib.util.find_spec(name) is None]


def safe_key(key: str) -> str:
    """A sample key usable as a file-name stem, or ValueError (never a path: no '/', '..', dots)."""
    if not isinstance(key, str) or not _SAFE_KEY.fullmatch(key):
        raise ValueError(f"refusing export key {key!r}: only letters, digits, '_' and '-' (1-64) are allowed")
    return key


def fsync(path: Path) -> None:
    """Flush a finished file to disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_align(align: str) -> AlignMethod:
    if align not in ALIGN_METHODS:
        raise ConfigError(f"unknown alignment {align!r}; choose one of {', '.join(ALIGN_METHODS)}")
    return align  # type: ignore[return-value]


@dataclass(frozen=True)
class Blob:
    """One image as exported: its store path, its PNG bytes and size, and how it was aligned."""

    path: str  # store path relative to the run dir (the original, before any alignment)
    data: bytes
    size: tuple[int, int]  # (width, height) of `data`
    alignment: dict | None = None  # {"method", "from_size", "to_size"} when align != "none"


@dataclass
class ExportRecord:
    """One row of a subset: JSON-able metadata plus its images by role.

    Roles: `source`, `edited`, `rejected_0`… (preference), `turn_1`… (multi-turn, turn 1's output first).
    """

    subset: Subset
    key: str
    meta: dict
    images: list[tuple[str, Blob]] = field(default_factory=list)

    def __post_init__(self) -> None:
        safe_key(self.key)
        for role, _ in self.images:
            if not _SAFE_ROLE.fullmatch(role):
                raise ValueError(f"refusing image role {role!r}")

    def image(self, role: str) -> Blob:
        return next(blob for name, blob in self.images if name == role)

    def image_list(self, prefix: str) -> list[Blob]:
        return [blob for name, blob in self.images if name.startswith(prefix)]

    def nbytes(self) -> int:
        return sum(len(blob.data) for _, blob in self.images)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header, without decoding it."""
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    image = decode_png(data)
    return image.shape[1], image.shape[0]


class ImageReader:
    """Reads store images as PNG bytes; edits are aligned to their source size when asked."""

    def __init__(self, run_dir: Path, align: AlignMethod) -> None:
        self.store = open_image_store(Path(run_dir))  # wherever the run keeps its images
        self.align = align

    def source(self, rel: str) -> Blob:
        data = self.store.read_bytes(rel)
        return Blob(rel, data, png_size(data))

    def edit(self, rel: str, width: int, height: int) -> Blob:
        """An edit, put on the (width, height) geometry of its source when alignment is on."""
        data = self.store.read_bytes(rel)
        size = png_size(data)
        if self.align == "none":
            return Blob(rel, data, size)
        if size != (width, height):
            data = encode_png(align_to(decode_png(data), width, height, self.align))
        alignment = {"method": self.align, "from_size": list(size), "to_size": [width, height]}
        return Blob(rel, data, (width, height), alignment)


def _model(ref: ModelRef | None) -> dict | None:
    return ref.model_dump() if ref is not None else None


def example_record(view: ExampleView, images: ImageReader) -> ExportRecord:
    """An SFT or preference row: the fields of sft.jsonl + sft.meta.jsonl, with the images themselves."""
    task, photo, verdict, chosen = view.task, view.photo, view.verdict, view.chosen
    edit_type = taxonomy.get(task.edit_type)
    width, height = photo.width, photo.height
    source = images.source(task.input_image)
    edited = images.edit(chosen.output_image, width, height)  # type: ignore[arg-type]
    meta = {
        "task_id": task.task_id,
        "attempt_id": chosen.attempt_id,
        "attempt_index": chosen.index,
        "photo_id": photo.photo_id,
        "text": view.long.text,
        "summarized_text": view.short.text if view.short else "",
        "edit_type": edit_type.release_name,
        "edit_type_key": edit_type.key,
        "category": edit_type.category,
        "scores": verdict.scores.model_dump() if verdict.scores else None,
        "score": verdict.score,
        "threshold": verdict.threshold,
        "rationale": verdict.rationale,
        "labels": view.labels,
        "source_url": photo.uri,
        "attribution": photo.attribution,
        "license": photo.license,
        "source_size": [width, height],
        "output_size": [chosen.width, chosen.height],
        "judge": _model(verdict.model),
        "editor": _model(chosen.model),
        "writer": _model(view.long.model),
        "rewriter": _model(view.short.model if view.short else None),
        "task_seed": task.seed,
        "attempt_seed": chosen.seed,
        "alignment": edited.alignment,
    }
    record = ExportRecord(view.example.kind, task.task_id, meta, [("source", source), ("edited", edited)])
    if view.example.kind == "preference":
        rejected = [(a, v, images.edit(a.output_image, width, height)) for a, v in view.rejected]  # type: ignore[arg-type]
        meta["rejected_attempt_ids"] = [a.attempt_id for a, _, _ in rejected]
        meta["rejected_scores"] = [v.score if v else None for _, v, _ in rejected]
        meta["rejected_rationales"] = [(v.rationale if v else a.error) or "" for a, v, _ in rejected]
        meta["rejected_seeds"] = [a.seed for a, _, _ in rejected]
        meta["rejected_alignments"] = [blob.alignment for _, _, blob in rejected]
        record.images += [(f"rejected_{i}", blob) for i, (_, _, blob) in enumerate(rejected)]
    return record


def session_record(view: SessionView, images: ImageReader) -> ExportRecord:
    """A multi-turn row: the original photo and every accepted turn's edit, with each turn's fields."""
    photo, turns = view.photo, view.turns
    width, height = photo.width, photo.height
    source = images.source(turns[0].task.input_image)
    outputs = [images.edit(t.chosen.output_image, width, height) for t in turns]  # type: ignore[arg-type]
    meta = {
        "session_id": view.session.session_id,
        "photo_id": photo.photo_id,
        "num_turns": len(turns),
        "turn_task_ids": [t.task.task_id for t in turns],
        "turn_prompts": [t.long.text for t in turns],
        "turn_summaries": [t.short.text if t.short else "" for t in turns],
        "turn_edit_types": [taxonomy.get(t.task.edit_type).release_name for t in turns],
        "turn_edit_type_keys": [t.task.edit_type for t in turns],
        "turn_scores": [t.verdict.score for t in turns],
        "turn_output_sizes": [[t.chosen.width, t.chosen.height] for t in turns],
        "turn_thresholds": [t.verdict.threshold for t in turns],
        "turn_judges": [_model(t.verdict.model) for t in turns],
        "turn_editors": [_model(t.chosen.model) for t in turns],
        "turn_alignments": [blob.alignment for blob in outputs],
        "labels": view.labels,
        "source_url": photo.uri,
        "attribution": photo.attribution,
        "license": photo.license,
        "source_size": [width, height],
        "on_failed_turn": view.session.on_failed_turn,
        "session_seed": view.session.seed,
    }
    blobs = [("source", source)] + [(f"turn_{i}", blob) for i, blob in enumerate(outputs, start=1)]
    return ExportRecord("multi_turn", view.session.session_id, meta, blobs)


def export_records(ledger: Ledger, run_dir: Path, align: AlignMethod) -> Iterator[ExportRecord]:
    """Every row of every subset, streaming: SFT and preference in plan order, then the sessions."""
    images = ImageReader(run_dir, check_align(align))
    for view in example_views(ledger):
        yield example_record(view, images)
    for session in session_views(ledger):
        yield session_record(session, images)


@dataclass
class Tally:
    """What a dataset card reports: rows per subset and edit type, the models and thresholds used."""

    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUBSETS, 0))
    by_type: dict[str, dict[str, int]] = field(default_factory=lambda: {s: {} for s in SUBSETS})
    judges: set[str] = field(default_factory=set)
    editors: set[str] = field(default_factory=set)
    writers: set[str] = field(default_factory=set)
    thresholds: set[float] = field(default_factory=set)
    licenses: set[str] = field(default_factory=set)

    def add(self, record: ExportRecord) -> None:
        meta, subset = record.meta, record.subset
        self.rows[subset] += 1
        types = meta["turn_edit_types"] if subset == "multi_turn" else [meta["edit_type"]]
        for name in types:
            self.by_type[subset][name] = self.by_type[subset].get(name, 0) + 1
        judges = meta["turn_judges"] if subset == "multi_turn" else [meta["judge"]]
        editors = meta["turn_editors"] if subset == "multi_turn" else [meta["editor"]]
        self.judges.update(_label(j) for j in judges if j)
        self.editors.update(_label(e) for e in editors if e)
        for role in ("writer", "rewriter"):
            if meta.get(role):
                self.writers.add(f"{role}: {_label(meta[role])}")
        self.thresholds.update(meta["turn_thresholds"] if subset == "multi_turn" else [meta["threshold"]])
        self.licenses.add(meta["license"] or "unknown")


def _label(ref: dict) -> str:
    return ModelRef.model_validate(ref).label()
