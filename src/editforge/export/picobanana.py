"""Pico-Banana-400K's own files: `sft.jsonl` and `preference.jsonl`, with exactly the release's keys.

Beside each, `<name>.meta.jsonl` holds our richer fields for the same rows, line for line (scores per
criterion, rationale, models, seeds, sizes, source attribution): loaders written for the release keep
working, and nothing we know is lost. See docs/format.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from editforge import taxonomy
from editforge.export.rows import example_views, provenance
from editforge.store.files import open_atomic
from editforge.store.ledger import Ledger

SFT_KEYS = ("open_image_input_url", "text", "output_image", "edit_type", "summarized_text")
PREFERENCE_KEYS = (*SFT_KEYS, "rejected_images")


def _line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n"


def export_picobanana(ledger: Ledger, out: Path) -> dict[str, int]:
    """Write the files from the ledger; returns rows written per file."""
    counts = {"sft": 0, "preference": 0}
    with (
        open_atomic(out / "sft.jsonl") as sft,
        open_atomic(out / "sft.meta.jsonl") as sft_meta,
        open_atomic(out / "preference.jsonl") as pref,
        open_atomic(out / "preference.meta.jsonl") as pref_meta,
    ):
        for view in example_views(ledger):
            row = {
                "open_image_input_url": view.photo.uri,
                "text": view.long.text,
                "output_image": view.chosen.output_image,
                "edit_type": taxonomy.get(view.task.edit_type).release_name,
                "summarized_text": view.short.text if view.short else "",
            }
            meta = provenance(view)
            if view.example.kind == "sft":
                sft.write(_line(row))
                sft_meta.write(_line(meta))
            else:
                row["rejected_images"] = [a.output_image for a, _ in view.rejected]
                pref.write(_line(row))
                pref_meta.write(_line(meta))
            counts[view.example.kind] += 1
    return counts
