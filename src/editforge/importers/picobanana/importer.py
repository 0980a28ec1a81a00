"""`import_picobanana`: the release → a run directory the rest of editforge reads (ledger, image store,
the Pico-Banana files, the HF dataset, WebDataset shards, the report).

Steps, each resumable: manifests (fetched once, or read from a folder) → rows checked → source photos
from Open Images (or Flickr when asked) → edited images from the base URL → ledger records for every
row whose images are all there → the row problems listed in `import-problems.tsv` → exports. A rerun
fetches only what is missing or failed transiently; nothing verified is fetched twice.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from editforge.config import ConfigError
from editforge.importers.picobanana.book import ImportBook, Missing, Stored, edit_key, source_key
from editforge.importers.picobanana.fetch import Fetcher, fetch_manifests
from editforge.importers.picobanana.manifest import (
    DEFAULT_BASE_URL,
    SPLITS,
    Manifest,
    SessionRow,
    SingleRow,
    read_manifests,
    source_urls,
)
from editforge.importers.picobanana.records import (
    DATASET_LICENSE,
    PHOTO_LICENSE,
    photo_record,
    single_task_id,
    write_session,
    write_single,
)
from editforge.records import Photo, Task
from editforge.sources.download import DownloadError
from editforge.sources.urlpolicy import UrlPolicy
from editforge.store.files import write_atomic
from editforge.store.ledger import Ledger
from editforge.store.lock import RunLock

NOTICE = (
    f"Pico-Banana-400K is licensed {DATASET_LICENSE} by Apple (non-commercial, no derivatives) and its source "
    f"photos {PHOTO_LICENSE}, attribution per row. This rebuild is for your local use only: do not "
    "redistribute it (no upload to a hub, no sharing of its files)."
)
CARD_LICENCE = {"license": "cc-by-nc-nd-4.0", "text": NOTICE}


@dataclass
class ImportOptions:
    out: Path
    splits: list[str] = field(default_factory=lambda: list(SPLITS))
    base_url: str = DEFAULT_BASE_URL
    manifest_dir: Path | None = None
    openimages: list[Path] = field(default_factory=list)  # tars and/or folders of <ImageID>.jpg
    openimages_csv: Path | None = None
    flickr_fallback: bool = False
    limit: int | None = None  # rows per split
    allow_private_urls: bool = False
    connections: int = 32
    per_host_rps: float | None = 50.0
    deadline_s: float = 120.0
    tries: int = 2  # in-run tries of a transient download failure (the next import tries again anyway)
    retry_wait_s: float = 2.0
    exports: list[str] = field(default_factory=lambda: ["picobanana", "hf", "webdataset"])
    align: str = "none"


@dataclass
class ImportSummary:
    rows: dict[str, int]  # split -> rows read
    imported: int  # rows in the ledger
    problems: list[tuple[str, str, str]]  # (row, status, reason): bad or missing rows
    retryable: int  # images to try again on the next import
    exported: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_options(options: ImportOptions) -> None:
    unknown = [s for s in options.splits if s not in SPLITS]
    if unknown or not options.splits:
        raise ConfigError(f"--splits: unknown {', '.join(unknown) or '(none)'}; choose from {', '.join(SPLITS)}")
    if options.manifest_dir is not None:
        for split in options.splits:
            if not (options.manifest_dir / f"{split}.jsonl").is_file():
                raise ConfigError(f"--manifest-dir {options.manifest_dir}: no {split}.jsonl")
    for location in options.openimages:
        if not location.exists():
            raise ConfigError(f"--openimages-dir {location}: no such file or folder")
    if options.openimages and options.openimages_csv is None:
        raise ConfigError("--openimages-dir needs --openimages-csv (it maps each Flickr URL to an ImageID)")
    if options.openimages_csv is not None and not options.openimages_csv.is_file():
        raise ConfigError(f"--openimages-csv {options.openimages_csv}: not a file")
    if not options.base_url.endswith("/"):
        options.base_url += "/"


def import_picobanana(options: ImportOptions, progress: Callable[[str, int], None] | None = None) -> ImportSummary:
    check_options(options)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out), Ledger(out / "ledger.sqlite") as ledger:
        if ledger.get_meta("imported_from") is None and ledger.count("photos"):
            raise ConfigError(f"{out} holds an editforge run, not an import: choose another --out")
        ledger.set_meta("imported_from", "pico-banana-400k")
        ledger.set_meta("dataset_card_licence", json.dumps(CARD_LICENCE))
        book = ImportBook(ledger)
        summary = asyncio.run(_import(options, ledger, book, progress or (lambda stage, n: None)))
        _write_problems(out, summary.problems)
        write_atomic(out / "LICENSE-NOTICE.txt", (NOTICE + "\n").encode())
        if options.exports:
            from editforge.export import export_all

            summary.exported = export_all(ledger, out, options.exports, options.align)
    return summary


async def _import(
    options: ImportOptions, ledger: Ledger, book: ImportBook, progress: Callable[[str, int], None]
) -> ImportSummary:
    policy = UrlPolicy(allow_private=options.allow_private_urls, deadline_s=options.deadline_s,
                       per_host_rps=options.per_host_rps, tries=options.tries,
                       retry_wait_s=options.retry_wait_s)  # fmt: skip
    folder = options.manifest_dir
    if folder is None:
        folder = options.out / "manifests"
        try:
            await fetch_manifests(options.base_url, options.splits, folder, policy)
        except DownloadError as exc:
            raise ConfigError(f"cannot fetch the release's manifests: {exc}") from None
    manifest = read_manifests(folder, options.splits, options.limit)
    imported = {ref for ref, status, _ in _rows(book) if status == "imported"}
    todo_singles = [r for r in manifest.singles if str(r.ref) not in imported]
    todo_sessions = [r for r in manifest.sessions if str(r.ref) not in imported]
    fetcher = Fetcher(options.out, book, policy, options.connections, lambda n: progress("images", n))
    notes: list[str] = []
    book.forget_local_misses(_inputs_fingerprint(options))
    try:
        settled = book.settled()
        wanted_sources = [u for u in source_urls(_subset(todo_singles, todo_sessions)) if source_key(u) not in settled]
        unresolved = wanted_sources
        if wanted_sources and options.openimages_csv is not None:
            unresolved = await fetcher.open_images(wanted_sources, options.openimages_csv, options.openimages)
        if unresolved and options.flickr_fallback:
            before = {u: book.failure(source_key(u)) for u in unresolved}
            await fetcher.urls({source_key(u): u for u in unresolved})
            for url, earlier in before.items():
                now = book.failure(source_key(url))
                if earlier is not None and now is not None:  # say both why Open Images and Flickr failed
                    why = f"{earlier.reason}; Flickr fallback: {now.reason}"
                    book.record(Missing(now.key, why, now.retryable, earlier.origin))
        elif unresolved and options.openimages_csv is None:
            why = "no Open Images files given (--openimages-dir and --openimages-csv) and no --flickr-fallback"
            for url in unresolved:
                book.record(Missing(source_key(url), f"{url}: {why}", retryable=False, origin="openimages"))
        resolved = {u for u in source_urls(_subset(todo_singles, todo_sessions)) if book.stored(source_key(u))}
        edits = _edit_paths(todo_singles, todo_sessions, resolved)
        settled = book.settled()
        await fetcher.urls({edit_key(p): urljoin(options.base_url, p) for p in edits if edit_key(p) not in settled})
        notes += fetcher.problems
    finally:
        fetcher.close()
    for problem in manifest.problems:
        book.set_row(str(problem.ref), "bad-row", problem.reason)
    _write_rows(ledger, book, todo_singles, todo_sessions, manifest)
    order = {split: i for i, split in enumerate(SPLITS)}
    problems = sorted(
        (row for row in _rows(book) if row[1] != "imported" and _split_of(row[0]) in options.splits),
        key=lambda row: (order[_split_of(row[0])], int(row[0].rsplit(":", 1)[1])),
    )
    retryable = ledger.db.execute("SELECT COUNT(*) FROM import_images WHERE ok = 0 AND retryable = 1").fetchone()[0]
    imported_now = sum(1 for _, status, _ in _rows(book) if status == "imported")
    return ImportSummary(rows=manifest.rows, imported=imported_now, problems=problems, retryable=retryable, notes=notes)


def _inputs_fingerprint(options: ImportOptions) -> str:
    """What decides which source photos can be found locally: the files given (by size) and the fallback."""
    files = [(str(p.resolve()), p.stat().st_size if p.is_file() else p.stat().st_mtime_ns) for p in options.openimages]
    csv_file = options.openimages_csv
    csv_id = (str(csv_file.resolve()), csv_file.stat().st_size) if csv_file else None
    return json.dumps({"files": sorted(files), "csv": csv_id, "flickr": options.flickr_fallback})


def _split_of(ref: str) -> str:
    return ref.split(":", 1)[0].removesuffix(".jsonl")


def _rows(book: ImportBook) -> list[tuple[str, str, str]]:
    return list(book.ledger.db.execute("SELECT ref, status, COALESCE(reason, '') FROM import_rows"))


def _subset(singles: list[SingleRow], sessions: list[SessionRow]) -> Manifest:
    return Manifest(singles=singles, sessions=sessions)


def _edit_paths(singles: list[SingleRow], sessions: list[SessionRow], resolved: set[str]) -> list[str]:
    """The edited images of the rows whose source photo is there (no point fetching the others yet)."""
    paths: dict[str, None] = {}
    for row in singles:
        if row.source_url in resolved:
            paths.update(dict.fromkeys([*row.rejected_images, row.output_image]))
    for session in sessions:
        if session.source_url in resolved:
            paths.update(dict.fromkeys(session.outputs))
    return list(paths)


def _missing(book: ImportBook, keys: list[str]) -> str | None:
    """Why a row cannot be written yet: the first of its images that is not stored."""
    for key in keys:
        if book.stored(key) is None:
            failure = book.failure(key)
            return failure.reason if failure else f"{key.split(':', 1)[1]}: not fetched (its source is missing)"
    return None


def _write_rows(
    ledger: Ledger, book: ImportBook, singles: list[SingleRow], sessions: list[SessionRow], manifest: Manifest
) -> None:
    photos: dict[str, Photo] = {}

    def photo(url: str) -> Photo:
        if url not in photos:
            photos[url] = photo_record(url, book.stored(source_key(url)))  # type: ignore[arg-type]
            ledger.add_photo(photos[url])
        return photos[url]

    # A preference row whose chosen edit is an sft row's is that task's failures: one task, both rows.
    sft_rows = {r.output_image: r for r in manifest.singles if r.ref.split == "sft"}
    rejected_for = {r.output_image: r for r in manifest.singles if r.ref.split == "preference"}
    todo = {r.ref for r in singles}
    for row in singles:
        merged_into_sft = row.ref.split == "preference" and row.output_image in sft_rows
        preference = rejected_for.get(row.output_image) if row.ref.split == "sft" else row
        rejected = list(preference.rejected_images) if preference else []
        keys = [source_key(row.source_url), *(edit_key(p) for p in [*rejected, row.output_image])]
        why = _missing(book, keys)
        if why is not None:
            book.set_row(str(row.ref), "missing", why)
            continue
        # A merged preference row is written by its sft row, unless that row was imported by an earlier
        # run (without this split): then the task is written again, now with the failed attempts first.
        if not merged_into_sft or sft_rows[row.output_image].ref not in todo:
            task_row = sft_rows[row.output_image] if merged_into_sft else row
            stored = [book.stored(edit_key(p)) for p in rejected]
            chosen = book.stored(edit_key(row.output_image))
            write_single(ledger, task_row, photo(row.source_url), chosen, stored,  # type: ignore[arg-type]
                         str(preference.ref) if preference else None)  # fmt: skip
        book.set_row(str(row.ref), "imported")
    first_turns = {(r.source_url, r.text): r for r in manifest.singles if r.ref.split == "sft"}
    for session in sessions:
        keys = [source_key(session.source_url), *(edit_key(p) for p in session.outputs)]
        why = _missing(book, keys)
        if why is not None:
            book.set_row(str(session.ref), "missing", why)
            continue
        match = first_turns.get((session.source_url, session.prompts[0]))
        first: Task | None = ledger.task(single_task_id(match)) if match else None
        turns: list[Stored] = [book.stored(edit_key(p)) for p in session.outputs]  # type: ignore[misc]
        write_session(ledger, session, photo(session.source_url), turns, first)
        book.set_row(str(session.ref), "imported")


def _write_problems(out: Path, problems: list[tuple[str, str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(["row", "status", "reason"])
    writer.writerows(problems)
    write_atomic(out / "import-problems.tsv", buf.getvalue().encode())
