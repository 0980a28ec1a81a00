"""Multi-turn sessions and mix targets, end to end on the offline models."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

from editforge.config import build_config
from editforge.engine.runner import RunSummary
from editforge.pipeline import run
from editforge.records import Photo, PhotoFacts, Task
from editforge.stages.plan import next_turn_types, plan_sessions, plan_tasks


def _run(out: Path, photos: Path, **settings) -> RunSummary:
    config = build_config({"out": out, "images": photos, "workers": 2, "seed": 4, **settings}, {})
    return run(config, quiet=True)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sessions_chain_turns_on_accepted_images_with_history(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    runner = _run(out, photo_dir, per_photo=2, targets={"multi_turn": 2})
    rows, meta = _jsonl(out / "multi-turn.jsonl"), _jsonl(out / "multi-turn.meta.jsonl")
    assert len(rows) >= 2 and runner.targets == [f"multi_turn: {len(rows)}/2 (met)"]
    for row, info in zip(rows, meta, strict=True):
        ids = [f["id"] for f in row["files"]]
        n = len(row["metadata_edit_turn_prompts"])
        assert 2 <= n <= 5 and len(info["turns"]) == n
        assert ids == ["original_input_image", *[f"edit_turn{i}" for i in range(1, n)], "final_image"]
        turns = info["turns"]
        assert [f["url"] for f in row["files"][1:]] == [t["output_image"] for t in turns]
        for before, after in zip(turns, turns[1:], strict=False):
            assert after["input_image"] == before["output_image"]  # each turn edits the last accepted image
        assert len({t["edit_type_key"] for t in turns}) == n  # a session never repeats a type
    db = sqlite3.connect(out / "ledger.sqlite")
    for (js,) in db.execute("SELECT json FROM tasks WHERE json_extract(json, '$.session_id') IS NOT NULL"):
        task = Task.model_validate_json(js)
        assert len(task.history) == task.turn - 1  # written knowing every earlier accepted turn


def test_failed_turn_policy_is_recorded(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    _run(out, photo_dir, per_photo=2, targets={"multi_turn": 3}, sessions={"on_failed_turn": "skip"})
    db = sqlite3.connect(out / "ledger.sqlite")
    policies = {json.loads(js)["on_failed_turn"] for (js,) in db.execute("SELECT json FROM sessions")}
    assert policies == {"skip"}
    statuses = {s for (s,) in db.execute("SELECT status FROM sessions")}
    assert statuses <= {"complete", "ended", "failed"}


def test_single_turn_targets_stop_the_run_early(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    runner = _run(out, photo_dir, per_photo=4, workers=1, targets={"sft": 3})
    (line,) = runner.targets
    made = int(line.split()[1].split("/")[0])
    assert line.endswith("(met)") and 3 <= made <= 3 + 2  # tasks already in flight (2 per worker) still finish
    counts = runner.counts
    assert counts.get("planned", 0) > 0  # 16 tasks planned; the target needed only a few


def test_targets_say_how_far_they_got_when_photos_run_out(tmp_path: Path, photo_dir: Path) -> None:
    runner = _run(tmp_path / "run", photo_dir, per_photo=1, targets={"sft": 50})
    (line,) = runner.targets
    assert line.startswith("sft: ") and "/50 (NOT met" in line


def _photo(i: int, person: bool = False, text: bool = False) -> Photo:
    return Photo(photo_id=f"p{i}", uri=f"/{i}.jpg", image=f"images/{i}.png", width=8, height=8,
                 facts=PhotoFacts(has_person=person, has_text=text))  # fmt: skip


def test_type_weights_shape_the_plan() -> None:
    photos = [_photo(i) for i in range(40)]
    allowed = frozenset({"color_tone", "weather", "zoom_in", "outpainting"})
    plan = plan_tasks(
        photos, allowed, 1, seed=0, weights={"color_tone": 3, "weather": 1, "zoom_in": 0, "outpainting": 0}
    )
    counts = Counter(t.edit_type for t in plan)
    assert set(counts) == {"color_tone", "weather"} and counts["color_tone"] == 30 and counts["weather"] == 10


def test_next_turns_need_what_earlier_turns_made() -> None:
    allowed = frozenset({"add_text", "text_font_color", "color_tone", "person_lineart"})
    plain = _photo(0)
    assert next_turn_types(plain, ["color_tone"], allowed) == ["add_text"]
    assert "text_font_color" in next_turn_types(plain, ["add_text"], allowed)  # there is text now
    assert "person_lineart" in next_turn_types(_photo(1, person=True), ["color_tone"], allowed)


def test_sessions_prefer_turns_that_refer_back() -> None:
    photo = _photo(0)
    first = Task(task_id="t", photo_id="p0", edit_type="add_text", seed=1, input_image="images/0.png")
    allowed = frozenset({"add_text", "text_font_color", "color_tone", "weather", "zoom_in"})
    sessions = [plan_sessions([(first, photo)], allowed, 1, {2: 1.0}, seed=s)[0] for s in range(20)]
    assert sum(s.planned_types == ["text_font_color"] for s in sessions) >= 12


def test_session_only_types_are_never_single_turns(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    _run(out, photo_dir, per_photo=14, workers=2)  # every type the offline writer has, per photo
    db = sqlite3.connect(out / "ledger.sqlite")
    single = {t for (t,) in db.execute("SELECT edit_type FROM tasks WHERE session_id IS NULL")}
    assert "text_font_color" not in single and "add_text" in single
