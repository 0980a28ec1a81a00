"""The gallery's files: thumbnails, a paged row index as `.js` files, a compact key index and facets.

A browser opening `index.html` from disk (file://) may not `fetch()` local files, so every data file is
a script that assigns to a global: `pages/page-0001.js` sets `window.EF_PAGES[1]`, `data/keys.js` sets
`window.EF_KEYS` (one small entry per row, column by column: enough to filter and sort 100K rows
without loading a page), `data/summary.js` sets `window.EF_SUMMARY` (facets with counts, page size).
Pages are loaded on demand. Thumbnails are made once: a rerun keeps the ones already there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from editforge import taxonomy
from editforge.stages.labels import LABELS

STATUSES = ("passed", "failed", "error")
SUBSETS = ("sft", "preference", "multi_turn", "failed")
VIEW_SIZE = 50  # cards per gallery page (a filtered, sorted page loads at most this many index files)
_STORE_NAME = re.compile(r"(?:^|/)images/([0-9a-f]{2})/([0-9a-f]+)\.\w+$")
_SAFE_URL = re.compile(r"^https?://", re.I)


def _make_thumb(job: tuple[str, str, int]) -> bool:
    """Write one thumbnail (WebP) atomically; False, and a placeholder thumbnail, if the source could
    not be read. Any failure is this image's: a truncated file, a decompression bomb (PIL's
    DecompressionBombError is no OSError), a format PIL trips on (it raises SyntaxError for some)."""
    src, dst, side = job
    tmp = f"{dst}.{os.getpid()}.tmp"
    try:
        with Image.open(src) as im:
            im.draft("RGB", (side, side))  # JPEG: decode at a reduced scale
            im = im.convert("RGB")
            im.thumbnail((side, side), Image.Resampling.LANCZOS)
            im.save(tmp, "WEBP", quality=78, method=4)
        os.replace(tmp, dst)
        return True
    except Exception:  # noqa: BLE001 - one bad image must never abort the report
        _placeholder(tmp, dst, side, f"unreadable: {os.path.basename(src)}"[:40])
        return False


def _placeholder(tmp: str, dst: str, side: int, text: str) -> None:
    from PIL import ImageDraw

    card = Image.new("RGB", (side, side * 3 // 4), (224, 224, 224))
    ImageDraw.Draw(card).text((8, side * 3 // 8 - 6), text, fill=(90, 90, 90))
    card.save(tmp, "WEBP", quality=60)
    os.replace(tmp, dst)


class Thumbnails:
    """Schedules thumbnails of local images; skips those already on disk (a rerun makes none)."""

    def __init__(self, report_dir: Path, side: int = 256, workers: int | None = None) -> None:
        self.report_dir, self.side = report_dir, side
        self.workers = workers or max(1, min(8, os.cpu_count() or 1))
        self.pending: list[tuple[str, str, int]] = []
        self.seen: set[str] = set()
        self.made = self.kept = self.failed = 0
        self._pool: ProcessPoolExecutor | None = None

    def name(self, src: str) -> str:
        match = _STORE_NAME.search(src.replace(os.sep, "/"))
        if match:  # a run's store: already named by a hash of the pixels
            return f"thumbs/{match[1]}/{match[2]}.webp"
        digest = hashlib.sha1(src.encode()).hexdigest()[:20]
        return f"thumbs/{digest[:2]}/{digest}.webp"

    def add(self, src: str) -> str:
        rel = self.name(src)
        if rel not in self.seen:
            self.seen.add(rel)
            dst = self.report_dir / rel
            if dst.exists():
                self.kept += 1
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                self.pending.append((src, str(dst), self.side))
                if len(self.pending) >= 256:
                    self.flush()
        return rel

    def flush(self) -> None:
        jobs, self.pending = self.pending, []
        if not jobs:
            return
        if len(jobs) < 16 or self.workers == 1:
            results = [_make_thumb(job) for job in jobs]
        else:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=self.workers)
            results = list(self._pool.map(_make_thumb, jobs, chunksize=8))
        self.made += sum(results)
        self.failed += len(results) - sum(results)

    def close(self) -> None:
        self.flush()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


@dataclass
class GalleryIndex:
    rows: int = 0
    pages: int = 0
    page_size: int = 200
    facets: dict[str, Counter[str]] = field(default_factory=dict)
    labels_by_status: dict[str, Counter[str]] = field(default_factory=dict)


@lru_cache(maxsize=4096)
def _relative_dir(folder: str, report_dir: Path) -> str:
    return os.path.relpath(folder, report_dir).replace(os.sep, "/")


def _link(report_dir: Path, path: str) -> str:
    """A relative, percent-encoded link (so never a `scheme:`) from the report to a local file."""
    folder, name = os.path.split(path)
    return quote(f"{_relative_dir(folder, report_dir)}/{name}")


def _image(image: dict | None, report_dir: Path, thumbs: Thumbnails | None) -> dict | None:
    """A row's image as `{"thumb": ..., "full": ...}` relative to the report, or a URL."""
    if not image:
        return None
    if "path" in image:
        full = _link(report_dir, image["path"])
        if not os.path.isfile(image["path"]):  # deleted from the store: say so, no broken image
            return {"missing": os.path.basename(image["path"])}
        return {"thumb": thumbs.add(image["path"]) if thumbs else full, "full": full}
    url = image.get("url", "")
    if _SAFE_URL.match(url):  # never a javascript: or data: link from a manifest
        return {"thumb": url, "full": url}
    return {"missing": image.get("missing") or url}


def _js(name: str, value: object) -> str:
    return f"{name} = {json.dumps(value, ensure_ascii=True, separators=(',', ':'))};\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)


class _Keys:
    """The per-row key index, column by column (indices into the facet lists)."""

    def __init__(self) -> None:
        self.categories, self.types = taxonomy.categories(), taxonomy.keys()
        self.labels = list(LABELS)
        self.cat: list[int | list[int]] = []
        self.type: list[int | list[int]] = []
        self.st: list[int] = []
        self.sub: list[int] = []
        self.lab: list[int] = []
        self.score: list[float | None] = []

    def add(self, row: dict) -> None:
        # An imported turn without an edit type has a category outside the taxonomy's: it gets no facet.
        cats = sorted(
            {self.categories.index(t["category"]) for t in row["turns"] if t.get("category") in self.categories}
        )
        self.cat.append(cats[0] if len(cats) == 1 else cats)  # one index, or a session's several
        types = sorted({self.types.index(t["type"]) for t in row["turns"] if t.get("type") in self.types})
        self.type.append(types[0] if len(types) == 1 else types)
        self.st.append(STATUSES.index(row["status"]))
        self.sub.append(sum(1 << SUBSETS.index(s) for s in row["subsets"]))
        self.lab.append(sum(1 << self.labels.index(lab) for lab in row["labels"] if lab in self.labels))
        self.score.append(row["score"])

    def dump(self) -> dict:
        return {"cat": self.cat, "type": self.type, "st": self.st, "sub": self.sub, "lab": self.lab,
                "score": self.score}  # fmt: skip


def write_gallery(
    rows: Iterable[dict], report_dir: Path, page_size: int = 200, thumbs: Thumbnails | None = None
) -> GalleryIndex:
    """Write `pages/*.js` and `data/keys.js` from streamed rows (bounded memory); returns the facets."""
    index = GalleryIndex(page_size=page_size)
    index.facets = {name: Counter() for name in ("category", "type", "status", "subset", "label")}
    keys, page, written = _Keys(), [], set()

    def flush() -> None:
        index.pages += 1
        name = f"page-{index.pages:04d}.js"
        _write(report_dir / "pages" / name, _js(f"window.EF_PAGES[{index.pages}]", page))
        written.add(name)
        page.clear()

    for row in rows:
        row["id"] = index.rows
        row["score"] = None if row["score"] is None else round(row["score"], 4)  # as the key index sorts it
        for turn in row["turns"]:
            turn["input"] = _image(turn.get("input"), report_dir, thumbs)
            for attempt in turn["attempts"]:
                attempt["img"] = _image(attempt.get("img"), report_dir, thumbs)
        keys.add(row)
        facets = index.facets
        facets["status"][row["status"]] += 1
        facets["subset"].update(row["subsets"])
        facets["label"].update(row["labels"])
        facets["category"].update({t["category"] for t in row["turns"] if t.get("category")})
        facets["type"].update({t["type"] for t in row["turns"] if t.get("type")})
        index.labels_by_status.setdefault(row["status"], Counter()).update(row["labels"])
        page.append(row)
        index.rows += 1
        if len(page) >= page_size:
            flush()
    if page:
        flush()
    for stale in (report_dir / "pages").glob("page-*.js"):
        if stale.name not in written:
            stale.unlink()
    if thumbs is not None:
        thumbs.close()
    _write(report_dir / "data" / "keys.js", _js("window.EF_KEYS", keys.dump()))
    return index


def summary_data(index: GalleryIndex, title: str, mode: str) -> dict:
    """`data/summary.js`: what the gallery's controls offer, with counts, and how the index is paged."""
    types = {t.key: t for t in taxonomy.all_types()}
    return {
        "title": title,
        "mode": mode,
        "rows": index.rows,
        "pages": index.pages,
        "page_size": index.page_size,
        "view_size": min(index.page_size, VIEW_SIZE),
        "categories": taxonomy.categories(),
        "types": [{"key": k, "name": types[k].release_name} for k in taxonomy.keys()],
        "statuses": list(STATUSES),
        "subsets": list(SUBSETS),
        "labels": list(LABELS),
        "counts": {name: dict(counter) for name, counter in index.facets.items()},
    }


def write_summary(report_dir: Path, summary: dict) -> None:
    _write(report_dir / "data" / "summary.js", _js("window.EF_SUMMARY", summary))
