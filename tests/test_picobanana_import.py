"""`editforge import picobanana` end to end: a fake CDN and Flickr on 127.0.0.1, an Open Images tar."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from editforge.images import decode_png
from editforge.importers.picobanana import ImportOptions, import_picobanana
from editforge.store.images import pixel_hash
from editforge.store.ledger import Ledger
from editforge.testing.fake_web import FakeWeb
from picobanana_support import build_release


@pytest.fixture
def release(tmp_path: Path, small_photos: dict[str, np.ndarray]):
    with FakeWeb() as web:
        yield build_release(tmp_path / "release", small_photos, web)


def _options(release, out: Path, **changes: object) -> ImportOptions:
    settings = {
        "out": out, "base_url": release.base_url, "openimages": [release.tar], "openimages_csv": release.csv,
        "flickr_fallback": True, "allow_private_urls": True, "connections": 8, "retry_wait_s": 0.05,
        "per_host_rps": None, "exports": ["picobanana"],
    }  # fmt: skip
    settings.update(changes)
    return ImportOptions(**settings)  # type: ignore[arg-type]


def test_import_lists_every_row_it_could_not_import_and_a_rerun_fetches_only_those(tmp_path: Path, release) -> None:
    out = tmp_path / "pb"
    summary = import_picobanana(_options(release, out))
    assert summary.rows == {"sft": 7, "preference": 2, "multi-turn": 2}
    problems = {ref: (status, reason) for ref, status, reason in summary.problems}
    assert set(problems) == {"sft.jsonl:3", "sft.jsonl:4", "sft.jsonl:5", "sft.jsonl:6", "sft.jsonl:7"}
    assert "HTTP 404" in problems["sft.jsonl:3"][1]
    assert "3d4e5f6071829304.jpg is in none of the tars" in problems["sft.jsonl:4"][1]
    assert "Flickr fallback: " in problems["sft.jsonl:4"][1] and "HTTP 404" in problems["sft.jsonl:4"][1]
    assert problems["sft.jsonl:5"][0] == "bad-row" and "not valid JSON" in problems["sft.jsonl:5"][1]
    assert "'Make it sparkle' is not one of the 35" in problems["sft.jsonl:6"][1]
    assert "cut short" in problems["sft.jsonl:7"][1] and summary.retryable == 1
    assert summary.imported == 6  # sft 1, 2; preference 1 (merged into sft 1), 2 (Flickr); both sessions
    listed = (out / "import-problems.tsv").read_text().splitlines()
    assert listed[0] == "row\tstatus\treason" and len(listed) == 6

    with Ledger(out / "ledger.sqlite") as ledger:
        tasks = {t.task_id: t for t in ledger.tasks()}
        astronaut = next(p for p in ledger.photos() if p.uri == release.source_urls["astronaut"])
        assert (astronaut.width, astronaut.height) == (256, 256) and astronaut.license.startswith("CC BY 2.0")
        assert "Open Images 0a1b2c3d4e5f6071" in astronaut.attribution
        first = next(t for t in tasks.values() if t.photo_id == astronaut.photo_id and t.turn == 1)
        attempts = ledger.attempts(first.task_id)
        verdicts = ledger.verdicts(first.task_id)
        assert [a.index for a in attempts] == [1, 2]  # the rejected image first, then the chosen one
        assert [verdicts[a.attempt_id].passed for a in attempts] == [False, True]
        assert all(v.score is None and v.status == "released" for v in verdicts.values())  # no made-up score
        assert (attempts[1].width, attempts[1].height) != (astronaut.width, astronaut.height)  # sizes recorded
        assert ledger.instruction(first.task_id, "short").text == "make it look vintage"
        assert ledger.count_sessions() == {"complete": 2}
        flickr = next(p for p in ledger.photos() if p.uri == release.source_urls["flickr"])
        assert flickr.attribution == release.source_urls["flickr"]

    rows = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    grainy = {r["text"]: r for r in rows}["Give the photo a grainy 1970s film look."]
    assert grainy["open_image_input_url"] == release.source_urls["astronaut"]
    assert grainy["edit_type"] == "Add film grain or vintage filter"
    pref = [json.loads(line) for line in (out / "preference.jsonl").read_text().splitlines()]
    assert sorted(len(p["rejected_images"]) for p in pref) == [1, 2]
    multi = [json.loads(line) for line in (out / "multi-turn.jsonl").read_text().splitlines()]
    assert sorted(len(m["metadata_edit_turn_prompts"]) for m in multi) == [2, 3]
    stored = out / grainy["output_image"]
    assert stored.is_file() and stored.parent.parent.name == "images"
    for file in (out / "images").rglob("*.png"):  # content-addressed: each name is its pixels' hash
        assert pixel_hash(decode_png(file.read_bytes())) == file.stem
    assert stored.read_bytes() == release.edits["images/positive-edit/1.png"]  # an RGB PNG is kept as released

    hits_before = dict(release.web.hits)
    summary = import_picobanana(_options(release, out))  # the server now answers 5.png in full
    assert summary.imported == 7 and summary.retryable == 0
    assert {ref for ref, _, _ in summary.problems} == {"sft.jsonl:3", "sft.jsonl:4", "sft.jsonl:5", "sft.jsonl:6"}
    asked = {path for path, n in release.web.hits.items() if n > hits_before.get(path, 0)}
    assert asked == {"/nb/images/positive-edit/5.png"}  # nothing verified, nothing permanent asked again


def test_sources_come_only_from_open_images_unless_the_flickr_fallback_is_asked(tmp_path: Path, release) -> None:
    summary = import_picobanana(_options(release, tmp_path / "pb", flickr_fallback=False, splits=["preference"]))
    problems = {ref: reason for ref, _, reason in summary.problems}
    assert "not in oi.csv (no ImageID for this URL)" in problems["preference.jsonl:2"]
    assert release.web.hits["/flickr/77/777_secret_o.jpg"] == 0
    assert summary.imported == 1


def test_manifests_are_fetched_from_the_base_url_once_and_private_addresses_are_refused(
    tmp_path: Path, release
) -> None:
    from editforge.config import ConfigError

    with pytest.raises(ConfigError, match="loopback address"):
        import_picobanana(_options(release, tmp_path / "refused", allow_private_urls=False))
    out = tmp_path / "pb"
    import_picobanana(_options(release, out, splits=["sft"], limit=2))
    assert (out / "manifests" / "sft.jsonl").read_bytes() == (release.manifests / "sft.jsonl").read_bytes()
    import_picobanana(_options(release, out, splits=["sft"], limit=2))
    assert release.web.hits["/nb/jsonl/sft.jsonl"] == 1
    assert sqlite3.connect(out / "ledger.sqlite").execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 2


def test_exports_carry_the_licence_and_the_images(tmp_path: Path, release) -> None:
    pytest.importorskip("datasets")
    import datasets

    out = tmp_path / "pb"
    import_picobanana(_options(release, out, exports=["picobanana", "hf", "webdataset"], align="resize"))
    card = (out / "hf" / "README.md").read_text()
    assert "license: cc-by-nc-nd-4.0" in card and "do not redistribute" in card
    assert "do not redistribute" in (out / "LICENSE-NOTICE.txt").read_text()
    pref = datasets.load_dataset(str(out / "hf"), "preference", split="train")
    row = next(r for r in pref if len(r["rejected_images"]) == 2)
    assert row["edited_image"].size == row["source_image"].size  # aligned on export, as asked
    assert row["summarized_text"] == "no tower" and row["edit_type"] == "Remove an existing object"
    multi = datasets.load_dataset(str(out / "hf"), "multi_turn", split="train")
    assert sorted(r["num_turns"] for r in multi) == [2, 3]
    assert list((out / "webdataset").rglob("*.tar"))


def test_the_report_reads_an_import(tmp_path: Path, release) -> None:
    pytest.importorskip("matplotlib")
    from editforge.report import build_report

    out = tmp_path / "pb"
    import_picobanana(_options(release, out))
    result = build_report(run_dir=out)
    assert any("Imported from the Pico-Banana-400K release" in note for note in result.stats.notes)
    assert result.stats.type_status["film_grain_vintage"]["passed"] == 1  # next to the paper's 0.907
    assert result.stats.verdict_status == {"released": 10} and result.stats.scored == 0  # 2+1+3 single, 1+3 turns
    assert result.index_html.is_file()
