"""Manifest rows, checked: every malformed row is a problem naming its file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

from editforge.importers.picobanana.manifest import read_manifests, source_urls

GOOD = {"open_image_input_url": "https://farm1.staticflickr.com/1/1_o.jpg", "text": "Add a hat.",
        "output_image": "images/positive-edit/1.png", "edit_type": "Add/Remove/Replace accessories (glasses, hats, "
        "jewelry, masks)".lower(), "summarized_text": "hat"}  # fmt: skip


def _write(folder: Path, split: str, rows: list) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{split}.jsonl").write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")


def test_bad_rows_are_named_and_good_ones_kept(tmp_path: Path) -> None:
    _write(tmp_path, "sft", [
        GOOD,
        {**GOOD, "output_image": "../../etc/passwd"},
        {**GOOD, "output_image": "file:///etc/passwd"},
        {**GOOD, "text": ""},
        {k: v for k, v in GOOD.items() if k != "open_image_input_url"},
        "[1, 2]",
        "",
        {**GOOD, "summarized_text": None},
        {**GOOD, "output_image": "https://cdn.example/nb/images/positive-edit/9.png"},
    ])  # fmt: skip
    _write(tmp_path, "preference", [{**GOOD, "rejected_images": []}, {**GOOD, "rejected_images": ["images/n/1.png"]}])
    manifest = read_manifests(tmp_path, ["sft", "preference"])
    problems = {str(p.ref): p.reason for p in manifest.problems}
    assert set(problems) == {"sft.jsonl:2", "sft.jsonl:3", "sft.jsonl:4", "sft.jsonl:5", "sft.jsonl:6",
                             "preference.jsonl:1"}  # fmt: skip
    assert "not a relative path" in problems["sft.jsonl:2"] and "not a relative path" in problems["sft.jsonl:3"]
    assert "`text` is missing" in problems["sft.jsonl:4"] and "open_image_input_url" in problems["sft.jsonl:5"]
    assert "not a JSON object" in problems["sft.jsonl:6"] and "rejected_images" in problems["preference.jsonl:1"]
    assert [str(r.ref) for r in manifest.singles] == ["sft.jsonl:1", "sft.jsonl:8", "sft.jsonl:9", "preference.jsonl:2"]
    assert manifest.singles[2].output_image == "https://cdn.example/nb/images/positive-edit/9.png"  # fetched as is
    assert manifest.singles[0].edit_type == "accessories" and manifest.singles[1].summarized_text == ""
    assert manifest.rows == {"sft": 8, "preference": 2}  # the blank line is not a row
    assert list(source_urls(manifest)) == [GOOD["open_image_input_url"]]


def test_multi_turn_rows_and_limit(tmp_path: Path) -> None:
    files = [{"id": "original_input_image", "url": "https://x/1_o.jpg"}, {"id": "edit_turn1", "url": "images/a.png"},
             {"id": "edit_turn2", "url": "images/b.png"}, {"id": "final_image", "url": "images/c.png"}]  # fmt: skip
    _write(tmp_path, "multi-turn", [
        {"files": files, "metadata_edit_turn_prompts": ["one", "two", "three"]},
        {"files": files, "metadata_edit_turn_prompts": ["one", "two"]},
        {"files": [f for f in files if f["id"] != "edit_turn1"], "metadata_edit_turn_prompts": ["a", "b"]},
        {"files": files[:1], "metadata_edit_turn_prompts": ["a"]},
    ])  # fmt: skip
    manifest = read_manifests(tmp_path, ["multi-turn"])
    assert manifest.sessions[0].outputs == ("images/a.png", "images/b.png", "images/c.png")
    problems = {str(p.ref): p.reason for p in manifest.problems}
    assert "2 prompts for 3 turn images" in problems["multi-turn.jsonl:2"]
    assert "out of sequence" in problems["multi-turn.jsonl:3"] and "final_image" in problems["multi-turn.jsonl:4"]
    assert read_manifests(tmp_path, ["multi-turn"], limit=1).rows == {"multi-turn": 1}
