"""A Hugging Face dataset folder: one config per subset, parquet shards with the images embedded.

Layout (under `out_dir`, `OUT/hf/` from the CLI)::

    README.md                                   dataset card; its YAML `configs:` maps configs to files
    data/sft/train-00000-of-00002.parquet       …one folder of shards per non-empty subset
    data/preference/train-00000-of-00001.parquet
    data/multi_turn/train-00000-of-00001.parquet

Images are stored the way `datasets.Image` stores them — a struct `{bytes, path}` holding the PNG, with
the features in the parquet schema's `huggingface` metadata — so `datasets` decodes them to PIL images,
and any parquet reader (pyarrow, duckdb, polars) still sees plain bytes. `path` is the image's store
path in the run directory. Loading::

    datasets.load_dataset("OUT/hf", "sft", split="train")                      # the folder (or a Hub repo)
    datasets.load_dataset("parquet", data_files="OUT/hf/data/sft/*.parquet", split="train")

Written streaming — row groups of at most 100 rows / 64 MB, shards of at most `shard_rows` rows and about
`shard_bytes` of images — so memory stays bounded whatever the size. Shards are written under temporary
names and renamed once their count is known; the same ledger gives the same bytes (no timestamps in the files).
"""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from editforge.export.common import (
    SUBSETS,
    AlignMethod,
    ExportRecord,
    Tally,
    check_align,
    export_records,
    fsync,
    require,
)
from editforge.records import CRITERIA
from editforge.store.files import open_atomic, staging_dir, swap_dir
from editforge.store.ledger import Ledger

ROW_GROUP_ROWS = 100
ROW_GROUP_BYTES = 64 << 20
SHARD_GLOB = "train-*.parquet"
DEFAULT_SHARD_BYTES = 500 << 20  # the Hub streams and dedups shards of a few hundred MB best


def features(subset: str) -> Any:
    """The `datasets.Features` of a subset (needs the `datasets` package)."""
    (datasets,) = require("datasets")
    Value, Image = datasets.Value, datasets.Image  # noqa: N806 - the library's names
    List = getattr(datasets, "List", None) or datasets.Sequence  # noqa: N806 - `List` since datasets 4
    # A list of structs is written `[struct]`: before datasets 4, Sequence(dict) meant a dict of lists.
    string, f64, i32, i64 = Value("string"), Value("float64"), Value("int32"), Value("int64")
    model = {"provider": string, "model": string, "prompt_version": string, "temperature": f64}
    alignment = {"method": string, "from_size": List(i32), "to_size": List(i32)}
    place = {
        "labels": List(string),
        "source_url": string,
        "attribution": string,
        "license": string,
        "source_size": List(i32),
    }
    if subset == "multi_turn":
        return datasets.Features(
            {
                "session_id": string,
                "source_image": Image(),
                "turn_images": List(Image()),
                "turn_prompts": List(string),
                "turn_summaries": List(string),
                "turn_edit_types": List(string),
                "turn_edit_type_keys": List(string),
                "turn_scores": List(f64),
                "turn_thresholds": List(f64),
                "num_turns": i32,
                "turn_task_ids": List(string),
                "turn_output_sizes": List(List(i32)),
                "turn_judges": [model],
                "turn_editors": [model],
                "turn_alignments": [alignment],
                **place,
                "photo_id": string,
                "on_failed_turn": string,
                "session_seed": i64,
            }
        )
    columns = {
        "task_id": string,
        "source_image": Image(),
        "edited_image": Image(),
        "text": string,
        "summarized_text": string,
        "edit_type": string,
        "edit_type_key": string,
        "category": string,
        "scores": dict.fromkeys(CRITERIA, f64),
        "score": f64,
        "threshold": f64,
        "rationale": string,
        **place,
        "output_size": List(i32),
        "judge": model,
        "editor": model,
        "writer": model,
        "rewriter": model,
        "photo_id": string,
        "attempt_id": string,
        "attempt_index": i32,
        "task_seed": i64,
        "attempt_seed": i64,
        "alignment": alignment,
    }
    if subset == "preference":
        columns.update(
            {
                "rejected_images": List(Image()),
                "rejected_scores": List(f64),
                "rejected_rationales": List(string),
                "rejected_attempt_ids": List(string),
                "rejected_seeds": List(i64),
                "rejected_alignments": [alignment],
            }
        )
    return datasets.Features(columns)


def _image(blob: Any) -> dict:
    return {"bytes": blob.data, "path": blob.path}


def hf_row(record: ExportRecord) -> dict:
    """A record as a row of its subset's parquet table (image columns as `{bytes, path}`)."""
    row = dict(record.meta)
    row["source_image"] = _image(record.image("source"))
    if record.subset == "multi_turn":
        row["turn_images"] = [_image(blob) for blob in record.image_list("turn_")]
    else:
        row["edited_image"] = _image(record.image("edited"))
        if record.subset == "preference":
            row["rejected_images"] = [_image(blob) for blob in record.image_list("rejected_")]
    return row


class ShardedParquet:
    """Rows in, parquet shards out: `train-0000i-of-0000N.parquet`, N known only when closed."""

    def __init__(self, folder: Path, schema: Any, shard_rows: int, shard_bytes: int) -> None:
        (self.pa, self.pq) = require("pyarrow", "pyarrow.parquet")
        self.folder, self.schema, self.shard_rows, self.shard_bytes = folder, schema, shard_rows, shard_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".tmp-train-*"):  # left by an export that was killed
            stale.unlink()
        self.temps: list[Path] = []
        self.writer: Any = None
        self.in_shard = self.shard_size = 0
        self.buffer: list[dict] = []
        self.buffered_bytes = 0
        self.rows = 0
        options = inspect.signature(self.pq.ParquetWriter.__init__).parameters
        # Content-defined chunking (pyarrow ≥ 21) lets the Hub's storage deduplicate re-uploaded shards.
        self.options = {"use_content_defined_chunking": True} if "use_content_defined_chunking" in options else {}

    def add(self, row: dict, nbytes: int) -> None:
        if self.writer is None:
            path = self.folder / f".tmp-train-{len(self.temps):05d}.parquet"
            self.temps.append(path)
            self.writer = self.pq.ParquetWriter(path, self.schema, compression="zstd", **self.options)
        self.buffer.append(row)
        self.buffered_bytes += nbytes
        self.in_shard += 1
        self.shard_size += nbytes
        self.rows += 1
        if len(self.buffer) >= ROW_GROUP_ROWS or self.buffered_bytes >= ROW_GROUP_BYTES:
            self._flush()
        if self.in_shard >= self.shard_rows or self.shard_size >= self.shard_bytes:
            self._close_shard()

    def _flush(self) -> None:
        if self.buffer:
            self.writer.write_table(self.pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer, self.buffered_bytes = [], 0

    def _close_shard(self) -> None:
        self._flush()
        self.writer.close()
        fsync(self.temps[-1])
        self.writer, self.in_shard, self.shard_size = None, 0, 0

    def close(self) -> list[Path]:
        """Finish the last shard, replace the folder's old shards with the new ones; returns them."""
        if self.writer is not None:
            self._close_shard()
        for old in self.folder.glob(SHARD_GLOB):
            old.unlink()
        final = []
        for i, temp in enumerate(self.temps):
            path = self.folder / f"train-{i:05d}-of-{len(self.temps):05d}.parquet"
            temp.replace(path)
            final.append(path)
        if not final and not any(self.folder.iterdir()):
            self.folder.rmdir()  # an empty subset has no config: `datasets` cannot load a split of no rows
        return final

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        for temp in self.temps:
            temp.unlink(missing_ok=True)


def export_hf(
    ledger: Ledger,
    run_dir: Path,
    out_dir: Path,
    align: AlignMethod = "none",
    shard_rows: int = 1000,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
) -> dict[str, int]:
    """Write the dataset folder from the ledger; returns rows written per subset.

    A shard ends after `shard_rows` rows or once its images reach `shard_bytes`, whichever comes first.
    """
    require("pyarrow", "pyarrow.parquet", "datasets")
    align = check_align(align)
    if shard_rows < 1 or shard_bytes < 1:
        raise ValueError("shard_rows and shard_bytes must be positive")
    final = Path(out_dir)
    # The whole folder is written beside the old one and swapped in as a set: a crash leaves the
    # previous complete export or the new one, never a mix of shards.
    out_dir = staging_dir(final)
    writers = {
        s: ShardedParquet(out_dir / "data" / s, features(s).arrow_schema, shard_rows, shard_bytes) for s in SUBSETS
    }
    tally = Tally()
    try:
        for record in export_records(ledger, Path(run_dir), align):
            writers[record.subset].add(hf_row(record), record.nbytes())
            tally.add(record)
        shards = {subset: [final / p.relative_to(out_dir) for p in w.close()] for subset, w in writers.items()}
        with open_atomic(out_dir / "README.md") as fh:
            # An imported dataset brings its own licence (editforge.importers); a run's card says `other`.
            licence = ledger.get_meta("dataset_card_licence")
            fh.write(dataset_card(tally, shards, align, Path(run_dir).name, json.loads(licence) if licence else None))
    except BaseException:
        for writer in writers.values():
            writer.abort()
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    swap_dir(out_dir, final)
    return dict(tally.rows)


# -- the dataset card --------------------------------------------------------------------------------

_ABOUT = {
    "sft": "one passing edit per row: source image, edited image, long and short instruction, judge scores",
    "preference": "a passing edit (chosen) and the failed attempts before it (`rejected_images`), for DPO",
    "multi_turn": "sessions of 2+ accepted edits of one photo, each turn editing the previous turn's image",
}


def _size_category(n: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < bound:
            return name
    return "1M<n<10M"


def dataset_card(
    tally: Tally, shards: dict[str, list[Path]], align: str, name: str, licence: dict | None = None
) -> str:
    """README.md: the Hub's YAML header (configs → data files) and what a user needs to know.

    `licence` ({"license": SPDX-like id, "text": ...}) is the dataset's own, when it has one (an import).
    """
    present = [s for s in SUBSETS if shards[s]]
    header = {
        **({"license": licence["license"]} if licence else {"license": "other"}),
        **({} if licence else {"license_name": "per-row-source-licenses"}),
        "pretty_name": f"{name} (editforge)",
        "task_categories": ["image-to-image"],
        "tags": ["image-editing", "instruction-based-image-editing", "pico-banana", "editforge"],
        "size_categories": [_size_category(sum(tally.rows.values()))],
        "configs": [
            {
                "config_name": subset,
                **({"default": True} if subset == present[0] else {}),
                "data_files": [{"split": "train", "path": f"data/{subset}/{SHARD_GLOB}"}],
            }
            for subset in present
        ],
    }
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {name}",
        "",
        "Instruction-based image edits of real photos, built with editforge the way "
        "Apple's Pico-Banana-400K was built: a writer model writes an edit instruction for a photo, a rewriter "
        "shortens it, an editor applies it, and a judge scores the result on four criteria; only edits that "
        "pass the judge are kept. Failed attempts before a pass form preference pairs.",
        "",
        "## Subsets",
        "",
        "| config | rows | shards | what a row is |",
        "|---|---:|---:|---|",
    ]
    for subset in SUBSETS:
        config = f"`{subset}`" if shards[subset] else f"{subset} (empty, no config)"
        lines.append(f"| {config} | {tally.rows[subset]} | {len(shards[subset])} | {_ABOUT[subset]} |")
    lines += ["", "## Rows per edit type", ""]
    types = sorted({t for s in SUBSETS for t in tally.by_type[s]})
    if types:
        lines += ["| edit type | sft | preference | multi-turn turns |", "|---|---:|---:|---:|"]
        for t in types:
            lines.append(f"| {t} | " + " | ".join(str(tally.by_type[s].get(t, 0)) for s in SUBSETS) + " |")
    else:
        lines.append("No rows yet.")
    weights = ", ".join(f"{k} {w:.2f}" for k, w in CRITERIA.items())
    lines += [
        "",
        "## How edits were judged",
        "",
        f"- judge model(s) and prompt version: {', '.join(sorted(tally.judges)) or 'none'}",
        f"- pass threshold on the weighted score: {', '.join(f'{t:g}' for t in sorted(tally.thresholds)) or 'n/a'}",
        f"- criteria and weights: {weights} (`scores` holds each criterion, `score` the weighted sum)",
        f"- editor(s): {', '.join(sorted(tally.editors)) or 'none'}",
        *(f"- {w}" for w in sorted(tally.writers)),
        "- alignment: "
        + (
            "none (edits keep the editor's output size; `output_size` gives it)"
            if align == "none"
            else f"`{align}` — every edit was put on its source photo's size (`alignment` records from/to sizes)"
        ),
        "",
        "## Licence",
        "",
        "The source photos keep their own licences, given per row in `license`, `attribution` and "
        "`source_url` (licences seen: " + ", ".join(f"`{x}`" for x in sorted(tally.licenses)) + "). "
        + (
            licence["text"]
            if licence
            else "The licence of the instructions and edits is the dataset owner's to set; this card says `other` "
            "until they do."
        ),
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'sft = load_dataset("path/to/this-folder", "sft", split="train")  # this folder, or its Hub repo id',
        "row = sft[0]  # row['source_image'] and row['edited_image'] are PIL images",
        "",
        "# any subset's shards, without the card:",
        'pref = load_dataset("parquet", data_files="path/to/this-folder/data/preference/*.parquet", split="train")',
        "```",
        "",
        "Without `datasets`: `pyarrow.parquet.read_table(...)`; image columns are structs of PNG `bytes` and the "
        "image's `path` in the run directory.",
        "",
    ]
    return "\n".join(lines)
