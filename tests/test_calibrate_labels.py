"""Reading labels: usable rows resolved against the file's folder; every bad row named by its line."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from editforge.calibrate.labels import read_labels


def _write(folder: Path, rows: list[object]) -> Path:
    Image.new("RGB", (8, 8), (200, 100, 50)).save(folder / "a.png")
    Image.new("RGB", (8, 8), (50, 100, 200)).save(folder / "b.png")
    path = folder / "labels.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


GOOD = {"source": "a.png", "edited": "b.png", "instruction": "cool it down", "edit_type": "color_tone", "label": "fail"}


def test_rows_resolve_relative_paths_and_release_type_names(tmp_path: Path) -> None:
    release = {**GOOD, "edit_type": "Change overall color tone (warm ↔ cool)", "rater": "ann", "tool": "x"}
    path = _write(tmp_path, [GOOD, "", release])
    rows, problems = read_labels(path)
    assert problems == []
    assert [r.line for r in rows] == [1, 3]
    assert rows[0].source == tmp_path / "a.png" and rows[1].edit_type == "color_tone" and rows[1].rater == "ann"


def test_every_bad_row_is_named_with_its_line(tmp_path: Path) -> None:
    rows = [
        GOOD,
        "{not json",
        [1, 2],
        {**GOOD, "label": "maybe"},
        {k: v for k, v in GOOD.items() if k != "instruction"},
        {**GOOD, "edit_type": "teleport"},
        {**GOOD, "edited": "gone.png"},
        {**GOOD, "scores": {"instruction_compliance": 2}},
    ]
    good, problems = read_labels(_write(tmp_path, rows))
    assert len(good) == 1 and len(problems) == 7
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5", "6", "7", "8"]
    joined = "\n".join(problems)
    for expected in ("not JSON", "expected a JSON object", "label", "instruction", "teleport", "gone.png not found"):
        assert expected in joined


def test_root_overrides_the_labels_folder(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    path = _write(images, [GOOD])
    moved = tmp_path / "labels.jsonl"
    path.rename(moved)
    assert read_labels(moved)[0] == []
    assert len(read_labels(moved, root=images)[0]) == 1
