"""Pico-Banana-400K's own files — `sft.jsonl`, `preference.jsonl`, `multi-turn.jsonl` — with the release's keys.

Beside each, `<name>.meta.jsonl` holds our richer fields for the same rows, line for line (scores per
criterion, rationale, models, seeds, sizes, source attribution): loaders written for the release keep
working, and nothing we know is lost. See docs/format.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from editforge import taxonomy
from editforge.dataset import SessionView, deliberate_flaw, example_views, provenance, session_views
from editforge.store.files import FileSet
from editforge.store.ledger import Ledger

SFT_KEYS = ("open_image_input_url", "text", "output_image", "edit_type", "summarized_text")
PREFERENCE_KEYS = (*SFT_KEYS, "rejected_images")
MULTI_TURN_KEYS = ("files", "metadata_edit_turn_prompts")


def _line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n"


def export_picobanana(ledger: Ledger, out: Path) -> dict[str, int]:
    """Write the files from the ledger; returns rows written per file.

    The six files are replaced together (store.files.FileSet): a crash leaves the previous export or the
    new one, never a `.jsonl` whose `.meta.jsonl` describes other rows."""
    files = FileSet(out, "picobanana-export")
    try:
        counts = _write(ledger, files)
    except BaseException:
        files.abort()
        raise
    files.commit()
    return counts


def _write(ledger: Ledger, files: FileSet) -> dict[str, int]:
    counts = {"sft": 0, "preference": 0, "multi_turn": 0}
    sft, sft_meta = files.open("sft.jsonl"), files.open("sft.meta.jsonl")
    pref, pref_meta = files.open("preference.jsonl"), files.open("preference.meta.jsonl")
    multi, multi_meta = files.open("multi-turn.jsonl"), files.open("multi-turn.meta.jsonl")
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
    for session in session_views(ledger):
        multi.write(_line(multi_turn_row(session)))
        multi_meta.write(_line(session_provenance(session)))
        counts["multi_turn"] += 1
    return counts


def multi_turn_row(view: SessionView) -> dict:
    """The release's shape: the original, each turn's output (the last as `final_image`), the prompts."""
    outputs = [turn.chosen.output_image for turn in view.turns]
    files = [{"id": "original_input_image", "url": view.photo.uri}]
    files += [{"id": f"edit_turn{i}", "url": url} for i, url in enumerate(outputs[:-1], start=1)]
    files.append({"id": "final_image", "url": outputs[-1]})
    return {"files": files, "metadata_edit_turn_prompts": [turn.long.text for turn in view.turns]}


def session_provenance(view: SessionView) -> dict:
    """Per turn what the release left out: edit type, both instructions, scores, models."""
    return {
        "session_id": view.session.session_id,
        "photo_id": view.photo.photo_id,
        "input_image": view.turns[0].task.input_image,
        "source": {"uri": view.photo.uri, "attribution": view.photo.attribution, "license": view.photo.license},
        "on_failed_turn": view.session.on_failed_turn,
        "planned_types": [view.turns[0].task.edit_type, *view.session.planned_types],
        "labels": view.labels,
        "turns": [
            {
                "turn": i,
                "task_id": turn.task.task_id,
                "edit_type_key": turn.task.edit_type,
                "edit_type": taxonomy.get(turn.task.edit_type).release_name,
                "text": turn.long.text,
                "summarized_text": turn.short.text if turn.short else "",
                "input_image": turn.task.input_image,
                "output_image": turn.chosen.output_image,
                "output_size": [turn.chosen.width, turn.chosen.height],
                "attempt_index": turn.chosen.index,
                "scores": turn.verdict.scores.model_dump() if turn.verdict.scores else None,
                "score": turn.verdict.score,
                "judge": turn.verdict.model.model_dump(),
                "editor": turn.chosen.model.model_dump(),
                "deliberate_flaw": deliberate_flaw(turn.chosen),
            }
            for i, turn in enumerate(view.turns, start=1)
        ],
    }
