"""WebDataset tar shards, one folder per subset, each shard with a parquet index beside it.

Layout (under `out_dir`, `OUT/webdataset/` from the CLI)::

    sft/sft-000000.tar                 samples, at most `maxcount` per shard and about `maxsize` bytes
    sft/sft-000000.index.parquet       one row per sample: key, edit type, score, labels, member offsets
    preference/preference-000000.tar   …
    multi_turn/multi_turn-000000.tar

A sample is the members `<key>.source.png`, `<key>.edited.png`, `<key>.rejected_0.png`… (preference),
`<key>.turn_1.png`… (multi-turn: turn 1's output first) and `<key>.json` (every field of the row, and
under `files` the store path each image came from). The key is the task id (sft, preference) or the
session id (multi-turn); only letters, digits, '_' and '-' — a key that could name a path is refused.
Loading::

    import webdataset as wds
    for sample in wds.WebDataset("OUT/webdataset/sft/sft-{000000..000003}.tar", shardshuffle=False):
        sample["__key__"], sample["source.png"], sample["edited.png"], sample["json"]  # bytes

The index lets one filter without opening a tar: `members` gives each file's name, the byte offset of
its data in the tar and its size, so one image can be read with a seek. Tars are written with fixed
headers (mtime 0, uid/gid 0, no user names, mode 0644): the same ledger gives the same bytes.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from editforge.export.common import (
    SUBSETS,
    AlignMethod,
    ExportRecord,
    check_align,
    export_records,
    fsync,
    require,
    safe_key,
)
from editforge.store.files import staging_dir, swap_dir
from editforge.store.ledger import Ledger

DEFAULT_MAXSIZE = 1 << 30  # 1 GiB: big enough to stream well, small enough to move and retry
_BLOCK = tarfile.BLOCKSIZE


def _padded(n: int) -> int:
    return -(-n // _BLOCK) * _BLOCK


def sample_members(record: ExportRecord) -> list[tuple[str, bytes]]:
    """A record as (member name, bytes): its images as PNG files, then its metadata as JSON."""
    key = safe_key(record.key)
    members = [(f"{key}.{role}.png", blob.data) for role, blob in record.images]
    meta = {
        "__key__": key,
        "subset": record.subset,
        **record.meta,
        "files": {f"{role}.png": blob.path for role, blob in record.images},
    }
    members.append((f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode()))
    return members


def index_row(record: ExportRecord, members: list[dict]) -> dict:
    meta = record.meta
    if record.subset == "multi_turn":
        edit_types, keys, scores = meta["turn_edit_types"], meta["turn_edit_type_keys"], meta["turn_scores"]
    else:
        edit_types, keys, scores = [meta["edit_type"]], [meta["edit_type_key"]], [meta["score"]]
    return {
        "key": record.key,
        "edit_type": edit_types[-1],  # multi-turn: the last turn's; every turn's is in `edit_types`
        "edit_type_key": keys[-1],
        "score": scores[-1],
        "labels": meta["labels"],
        "edit_types": edit_types,
        "scores": scores,
        "num_rejected": len(meta.get("rejected_attempt_ids", [])),
        "members": members,
    }


class TarShards:
    """Samples in, `<subset>-NNNNNN.tar` + `<subset>-NNNNNN.index.parquet` out, reproducibly."""

    def __init__(self, folder: Path, prefix: str, maxcount: int, maxsize: int) -> None:
        self.pa, self.pq = require("pyarrow", "pyarrow.parquet")
        if maxcount < 1 or maxsize < 1:
            raise ValueError("maxcount and maxsize must be positive")
        self.folder, self.prefix, self.maxcount, self.maxsize = folder, safe_key(prefix), maxcount, maxsize
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(f".tmp-{self.prefix}-*"):  # left by an export that was killed
            stale.unlink()
        self.temps: list[tuple[Path, Path]] = []
        self.tar: tarfile.TarFile | None = None
        self.count = 0
        self.index: list[dict] = []
        self.samples = 0

    def _open(self) -> None:
        n = len(self.temps)
        paths = (self.folder / f".tmp-{self.prefix}-{n:06d}.tar", self.folder / f".tmp-{self.prefix}-{n:06d}.idx")
        self.temps.append(paths)
        self.tar = tarfile.open(paths[0], "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115 - closed in _close_shard
        self.count, self.index = 0, []

    def add(self, record: ExportRecord) -> None:
        members = sample_members(record)
        size = sum(_BLOCK + _padded(len(data)) for _, data in members)
        if self.tar is not None and (self.count >= self.maxcount or self.tar.offset + size > self.maxsize):
            self._close_shard()
        if self.tar is None:
            self._open()
        assert self.tar is not None
        placed = []
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            header = self.tar.offset
            self.tar.addfile(info, io.BytesIO(data))
            # A USTAR header is one block (our names are short: safe_key caps them well under 100 bytes).
            placed.append({"name": name, "offset": header + _BLOCK, "size": len(data)})
        self.index.append(index_row(record, placed))
        self.count += 1
        self.samples += 1

    def _close_shard(self) -> None:
        assert self.tar is not None
        self.tar.close()
        self.tar = None
        self.pq.write_table(self.pa.Table.from_pylist(self.index, schema=self._index_schema()), self.temps[-1][1])
        for path in self.temps[-1]:
            fsync(path)

    def _index_schema(self) -> Any:
        pa = self.pa
        member = pa.struct([("name", pa.string()), ("offset", pa.int64()), ("size", pa.int64())])
        return pa.schema(
            [
                ("key", pa.string()),
                ("edit_type", pa.string()),
                ("edit_type_key", pa.string()),
                ("score", pa.float64()),
                ("labels", pa.list_(pa.string())),
                ("edit_types", pa.list_(pa.string())),
                ("scores", pa.list_(pa.float64())),
                ("num_rejected", pa.int32()),
                ("members", pa.list_(member)),
            ]
        )

    def close(self) -> list[Path]:
        """Finish the last shard, replace the folder's old shards with the new ones; returns the tars."""
        if self.tar is not None:
            self._close_shard()
        for old in [*self.folder.glob(f"{self.prefix}-*.tar"), *self.folder.glob(f"{self.prefix}-*.index.parquet")]:
            old.unlink()
        tars = []
        for i, (tar, idx) in enumerate(self.temps):
            tar.replace(self.folder / f"{self.prefix}-{i:06d}.tar")
            idx.replace(self.folder / f"{self.prefix}-{i:06d}.index.parquet")
            tars.append(self.folder / f"{self.prefix}-{i:06d}.tar")
        if not tars and not any(self.folder.iterdir()):
            self.folder.rmdir()
        return tars

    def abort(self) -> None:
        if self.tar is not None:
            self.tar.close()
        for paths in self.temps:
            for path in paths:
                path.unlink(missing_ok=True)


def export_webdataset(
    ledger: Ledger,
    run_dir: Path,
    out_dir: Path,
    align: AlignMethod = "none",
    maxcount: int = 1000,
    maxsize: int = DEFAULT_MAXSIZE,
) -> dict[str, int]:
    """Write the shards from the ledger; returns samples written per subset."""
    require("pyarrow", "pyarrow.parquet")
    align = check_align(align)
    final = Path(out_dir)
    out_dir = staging_dir(final)  # written beside the old shards, swapped in as a set (see store.files)
    writers = {s: TarShards(out_dir / s, s, maxcount, maxsize) for s in SUBSETS}
    try:
        for record in export_records(ledger, Path(run_dir), align):
            writers[record.subset].add(record)
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    swap_dir(out_dir, final)
    return {subset: writer.samples for subset, writer in writers.items()}


def shard_pattern(out_dir: Path, subset: str) -> str | None:
    """The brace pattern `webdataset.WebDataset` takes for a subset's shards (None: no shards)."""
    tars = sorted((Path(out_dir) / subset).glob(f"{subset}-*.tar"))
    if not tars:
        return None
    if len(tars) == 1:
        return str(tars[0])
    return str(Path(out_dir) / subset / f"{subset}-{{000000..{len(tars) - 1:06d}}}.tar")
