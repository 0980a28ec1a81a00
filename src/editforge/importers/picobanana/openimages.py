"""Source photos from Open Images: a row's Flickr URL → `ImageID` (the metadata CSV) → `<ImageID>.jpg`
in the training tars or an unpacked folder — the route the release's README describes.

Both inputs are huge (about 1.74M CSV rows, tars of tens of GB), so both are streamed once: the CSV row
by row, keeping only the rows whose URL a manifest asks for; each tar member by member (never
extracted to disk, so a member name cannot write anywhere), keeping only the ImageIDs still missing.
"""

from __future__ import annotations

import csv
import os
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

MAX_MEMBER_BYTES = 64 << 20  # an Open Images copy is ≤1024 px: a bigger member is not one of them
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def url_key(url: str) -> str:
    """What identifies a Flickr photo across the URL's spellings: its path (http/https and the farm/cN
    host names vary between the release and the CSV for the same photo)."""
    # By hand rather than urlsplit: this runs for each of the CSV's ~1.7M rows (urlsplit was 3x slower).
    url = url.strip()
    start = url.find("://")
    path_at = url.find("/", start + 3) if start >= 0 else -1
    path = url[path_at:] if path_at >= 0 else ""
    for mark in ("?", "#"):
        path = path.split(mark, 1)[0]
    return path.rstrip("/")


def resolve_image_ids(csv_path: Path, urls: Iterable[str]) -> dict[str, str]:
    """URL → ImageID for the given URLs, from Open Images' CSV (`ImageID`, `OriginalURL` columns)."""
    wanted: dict[str, list[str]] = {}
    for url in urls:
        wanted.setdefault(url_key(url), []).append(url)
    found: dict[str, str] = {}
    with open(csv_path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, None) or []
        try:
            id_col, url_col = header.index("ImageID"), header.index("OriginalURL")
        except ValueError:
            raise ValueError(f"{csv_path}: needs the columns ImageID and OriginalURL (has {header[:8]})") from None
        width = max(id_col, url_col)
        for row in reader:
            if len(row) > width:
                urls_here = wanted.get(url_key(row[url_col]))
                if urls_here:
                    for url in urls_here:
                        found.setdefault(url, row[id_col].strip())
    return found


def _is_tar(path: Path) -> bool:
    return path.name.lower().endswith(_TAR_SUFFIXES)


def find_images(
    locations: Iterable[Path], wanted: set[str], problems: list[str]
) -> Iterator[tuple[str, bytes | Exception]]:
    """(ImageID, JPEG bytes or the error reading it) for each wanted ImageID found in the folders and tars.

    Folders first (cheap lookups), then each tar streamed once, stopping early when nothing is missing.
    A tar that breaks part-way is named in `problems`; what it gave before counts, the rest is looked
    for in the next tars.
    """
    missing = set(wanted)
    paths = [Path(p) for p in locations]
    tars = [p for p in paths if p.is_file() and _is_tar(p)]
    for root in paths:
        if root.is_dir():
            tars += sorted(p for p in root.rglob("*") if p.is_file() and _is_tar(p))
            for dirpath, _dirs, files in os.walk(root):
                for name in files:
                    image_id = name.rsplit(".", 1)[0]
                    if name.lower().endswith(".jpg") and image_id in missing:
                        missing.discard(image_id)
                        yield image_id, _read_file(Path(dirpath) / name)
    for tar in tars:
        if not missing:
            return
        yield from _from_tar(tar, missing, problems)


def _read_file(path: Path) -> bytes | Exception:
    try:
        if not path.is_file() or path.stat().st_size > MAX_MEMBER_BYTES:  # never a FIFO, device or giant
            return OSError(f"{path}: not a regular file of at most {MAX_MEMBER_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        return exc


def _from_tar(tar: Path, missing: set[str], problems: list[str]) -> Iterator[tuple[str, bytes | Exception]]:
    try:
        with tarfile.open(tar, mode="r|*") as archive:  # streaming: a .tar.gz is read once, front to back
            for member in archive:
                if not missing:
                    return
                name = member.name.rsplit("/", 1)[-1]
                image_id = name.rsplit(".", 1)[0]
                if not (member.isfile() and name.lower().endswith(".jpg") and image_id in missing):
                    continue
                missing.discard(image_id)
                if member.size > MAX_MEMBER_BYTES:
                    yield image_id, OSError(f"{tar}:{member.name}: {member.size} bytes is too big for a photo")
                    continue
                data = archive.extractfile(member)
                yield image_id, data.read() if data else OSError(f"{tar}:{member.name}: unreadable")
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:  # truncated or corrupt: what was read counts
        problems.append(f"{tar}: unreadable part-way ({type(exc).__name__}: {exc})")
