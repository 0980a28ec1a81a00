"""The WebDataset export, read back with `webdataset` and pyarrow and compared with the ledger row for row."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

wds = pytest.importorskip("webdataset")
pq = pytest.importorskip("pyarrow.parquet")

from editforge.export.common import ExportRecord, safe_key  # noqa: E402
from editforge.export.webdataset import export_webdataset, shard_pattern  # noqa: E402
from editforge.store.images import ImageStore  # noqa: E402
from editforge.store.ledger import Ledger  # noqa: E402


def export(run_dir: Path, out: Path, **kwargs: object) -> dict[str, int]:
    with Ledger(run_dir / "ledger.sqlite") as ledger:
        return export_webdataset(ledger, run_dir, out, **kwargs)


def samples(out: Path, subset: str) -> list[dict]:
    pattern = shard_pattern(out, subset)
    assert pattern is not None
    return list(wds.WebDataset(pattern, shardshuffle=False))


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def test_shards_match_the_ledger_and_the_index_finds_every_member(
    run_dir: Path, expected: dict, tmp_path: Path
) -> None:
    out = tmp_path / "wds"
    counts = export(run_dir, out, maxcount=3)
    assert counts == {subset: len(rows) for subset, rows in expected.items()}
    tars = sorted((out / "sft").glob("*.tar"))
    assert [t.name for t in tars] == [f"sft-{i:06d}.tar" for i in range(-(-counts["sft"] // 3))]
    store = ImageStore(run_dir)

    for subset in ("sft", "preference"):
        got = samples(out, subset)
        assert len(got) == len(expected[subset])
        for sample, view in zip(got, expected[subset], strict=True):
            meta = json.loads(sample["json"])
            assert sample["__key__"] == meta["task_id"] == view.task.task_id
            assert meta["text"] == view.long.text and meta["summarized_text"] == view.short.text
            assert meta["labels"] == view.labels and meta["score"] == pytest.approx(view.verdict.score)
            assert meta["files"]["edited.png"] == view.chosen.output_image
            assert np.array_equal(decode(sample["edited.png"]), store.get(view.chosen.output_image))
            assert np.array_equal(decode(sample["source.png"]), store.get(view.task.input_image))
            rejected = sorted(k for k in sample if k.startswith("rejected_"))
            assert len(rejected) == len(view.rejected) == len(meta.get("rejected_scores", []))
            for name, (attempt, _) in zip(rejected, view.rejected, strict=True):
                assert np.array_equal(decode(sample[name]), store.get(attempt.output_image))

    got = samples(out, "multi_turn")
    assert [s["__key__"] for s in got] == [v.session.session_id for v in expected["multi_turn"]]
    for sample, view in zip(got, expected["multi_turn"], strict=True):
        assert json.loads(sample["json"])["turn_prompts"] == [t.long.text for t in view.turns]
        for i, turn in enumerate(view.turns, start=1):
            assert np.array_equal(decode(sample[f"turn_{i}.png"]), store.get(turn.chosen.output_image))

    for subset in ("sft", "preference", "multi_turn"):
        keys = []
        for tar in sorted((out / subset).glob("*.tar")):
            index = pq.read_table(tar.with_suffix(".index.parquet")).to_pylist()
            data = tar.read_bytes()
            with tarfile.open(tar) as archive:
                for row in index:
                    keys.append(row["key"])
                    for member in row["members"]:
                        info = archive.getmember(member["name"])
                        assert (info.mtime, info.uid, info.gid, info.uname) == (0, 0, 0, "")
                        assert info.offset_data == member["offset"] and info.size == member["size"]
                        chunk = data[member["offset"] : member["offset"] + member["size"]]
                        assert chunk == archive.extractfile(info).read()
        assert keys == [s["__key__"] for s in samples(out, subset)]
    index = pq.read_table(out / "preference" / "preference-000000.index.parquet").to_pylist()
    assert all(row["num_rejected"] > 0 and row["edit_type_key"] for row in index)


def test_tars_are_byte_reproducible_and_sized_by_maxsize(run_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    export(run_dir, first)
    export(run_dir, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel

    counts = export(run_dir, first, maxsize=1)  # every sample alone in its shard; the old shards go
    assert len(list((first / "sft").glob("*.tar"))) == counts["sft"]
    assert len(list((first / "sft").glob("*.index.parquet"))) == counts["sft"]
    assert not list(first.rglob(".tmp-*"))


def test_crop_alignment_puts_every_image_on_its_source_size(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "wds"
    export(run_dir, out, align="crop")
    changed = 0
    for subset in ("sft", "preference", "multi_turn"):
        for sample in samples(out, subset):
            meta = json.loads(sample["json"])
            edits = [k for k in sample if k.endswith(".png") and k != "source.png"]
            assert edits
            for name in edits:
                assert list(decode(sample[name]).shape[1::-1]) == meta["source_size"]
            alignments = meta.get("turn_alignments") or [meta["alignment"], *meta.get("rejected_alignments", [])]
            assert all(a["method"] == "crop" and a["to_size"] == meta["source_size"] for a in alignments)
            changed += sum(a["from_size"] != a["to_size"] for a in alignments)
    assert changed > 0


def test_a_key_that_could_name_a_path_is_refused(run_dir: Path, tmp_path: Path) -> None:
    for bad in ("../evil", "/etc/passwd", "a/b", "x.y", "..", ""):
        with pytest.raises(ValueError, match="refusing"):
            safe_key(bad)
    with pytest.raises(ValueError, match="refusing"):
        ExportRecord("sft", "../../escape", {})

    crafted = tmp_path / "crafted"
    shutil.copytree(run_dir, crafted)
    db = sqlite3.connect(crafted / "ledger.sqlite")
    (sid,) = db.execute("SELECT session_id FROM sessions ORDER BY seq LIMIT 1").fetchone()
    evil = "../../escape"
    with db:
        db.execute(
            "UPDATE sessions SET session_id = ?, json = json_set(json, '$.session_id', ?) WHERE session_id = ?",
            (evil, evil, sid),
        )
        db.execute(
            "UPDATE tasks SET json = json_set(json, '$.session_id', ?) WHERE json_extract(json, '$.session_id') = ?",
            (evil, sid),
        )
        if "session_id" in {row[1] for row in db.execute("PRAGMA table_info(tasks)")}:
            db.execute("UPDATE tasks SET session_id = ? WHERE session_id = ?", (evil, sid))
    db.close()
    out = tmp_path / "deep" / "wds"
    with pytest.raises(ValueError, match="refusing export key"):
        export(crafted, out)
    assert not list(tmp_path.rglob("escape*")), "nothing may be written outside the export folder"
    assert not list(out.rglob("*.tar")) and not list(out.rglob(".tmp-*")), "a refused export leaves no shards"
