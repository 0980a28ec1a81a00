"""export_all and the run directory: exports that replace the old ones as a whole, under the run's lock,
carrying no path of the machine that built them, with the source photo itself in the image formats."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from editforge.cli.app import app
from editforge.export import export_all
from editforge.store import files
from editforge.store.images import ImageStore
from editforge.store.ledger import Ledger
from editforge.store.lock import RunLock

PICO = ("sft.jsonl", "sft.meta.jsonl", "preference.jsonl", "preference.meta.jsonl", "multi-turn.jsonl",
        "multi-turn.meta.jsonl")  # fmt: skip


@pytest.fixture
def run(run_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the shared real run (these tests rewrite its exports)."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


def _export(run: Path, formats: str = "all") -> dict:
    with Ledger(run / "ledger.sqlite") as ledger:
        return export_all(ledger, run, formats)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _wds_json(run: Path) -> list[dict]:
    rows = []
    for tar in sorted((run / "webdataset").rglob("*.tar")):
        with tarfile.open(tar) as archive:
            rows += [json.load(archive.extractfile(m)) for m in archive.getmembers() if m.name.endswith(".json")]
    return rows


def test_exports_carry_no_absolute_path_and_embed_the_source_photo(run: Path) -> None:
    import pyarrow.parquet as pq

    photos = str(run.parent.parent)  # every absolute path of the build lives under here
    _export(run)
    for name in PICO:
        assert photos not in (run / name).read_text(), name
    sft = [json.loads(line) for line in (run / "sft.jsonl").read_text().splitlines()]
    assert sft and all(not r["open_image_input_url"].startswith("/") for r in sft)
    assert {Path(r["open_image_input_url"]).suffix for r in sft} <= {".png", ".jpg"}  # relative to the folder
    table = pq.read_table(sorted((run / "hf" / "data" / "sft").glob("*.parquet"))[0])
    assert all(photos not in url for url in table.column("source_url").to_pylist())
    with Ledger(run / "ledger.sqlite") as ledger:
        photo = next(ledger.photos())
    stored = ImageStore(run).get(photo.image)
    sources = [np.array(Image.open(io.BytesIO(img["bytes"]))) for img in table.column("source_image").to_pylist()]
    assert any(s.shape == stored.shape and np.array_equal(s, stored) for s in sources)  # the photo itself
    samples = _wds_json(run)
    assert samples and all(photos not in json.dumps(s) for s in samples)
    assert all("source.png" in s["files"] for s in samples)


def test_a_url_prefix_given_to_export_is_used_and_remembered(run: Path) -> None:
    result = CliRunner().invoke(app, ["export", str(run), "--format", "picobanana", "--url-prefix",
                                      "https://example.org/photos/"])  # fmt: skip
    assert result.exit_code == 0, result.output
    urls = [json.loads(line)["open_image_input_url"] for line in (run / "sft.jsonl").read_text().splitlines()]
    assert urls and all(u.startswith("https://example.org/photos/") and "//" not in u[8:] for u in urls)
    _export(run, "picobanana")  # a later export keeps the prefix
    assert [json.loads(line)["open_image_input_url"] for line in (run / "sft.jsonl").read_text().splitlines()] == urls


def test_export_takes_the_run_lock(run: Path) -> None:
    before = (run / "sft.jsonl").read_bytes()
    with RunLock(run):  # a live run holds the directory
        result = CliRunner().invoke(app, ["export", str(run), "--format", "picobanana"])
    assert result.exit_code == 2 and "another editforge run" in result.output
    assert (run / "sft.jsonl").read_bytes() == before


def test_a_crash_mid_export_leaves_the_previous_complete_export(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from editforge.dataset import URL_PREFIX_META
    from editforge.export import hf, picobanana

    _export(run)
    hf_before, pico_before = _snapshot(run / "hf"), {n: (run / n).read_bytes() for n in PICO}
    with Ledger(run / "ledger.sqlite") as ledger:  # the next export differs from the last one
        ledger.set_meta(URL_PREFIX_META, "https://example.org/p")
    real_replace, shards = Path.replace, [0]

    def crashing_replace(self: Path, target):  # noqa: ANN001, ANN202
        if Path(target).name.startswith("train-"):
            shards[0] += 1
            if shards[0] == 2:  # the first new shard is in, the crash comes before the second
                raise KeyboardInterrupt
        return real_replace(self, target)

    monkeypatch.setattr(hf, "ShardedParquet", _tiny_shards(hf.ShardedParquet))  # several shards: a set to swap
    monkeypatch.setattr(Path, "replace", crashing_replace)
    with pytest.raises(KeyboardInterrupt):
        _export(run, "hf")
    monkeypatch.setattr(Path, "replace", real_replace)
    assert _snapshot(run / "hf") == hf_before
    monkeypatch.setattr(picobanana, "session_views", lambda ledger: iter([[]]))  # breaks after the single turns
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the crash, the old files stand
        _export(run, "picobanana")
    assert {n: (run / n).read_bytes() for n in PICO} == pico_before
    assert not [p for p in run.iterdir() if p.name.startswith(".") and p.name != ".editforge.lock"]


def _tiny_shards(cls):  # noqa: ANN001, ANN202
    class Tiny(cls):
        def __init__(self, folder, schema, shard_rows, shard_bytes):  # noqa: ANN001
            super().__init__(folder, schema, 1, shard_bytes)

    return Tiny


def test_a_crash_between_the_two_renames_is_undone(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _export(run, "hf")
    before = _snapshot(run / "hf")
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)  # a filesystem without an atomic exchange
    real_rename, renames = os.rename, [0]

    def rename(src, dst):  # noqa: ANN001, ANN202
        renames[0] += 1
        if renames[0] == 2:
            raise OSError("killed")  # the old export set aside, the new one not yet in place
        return real_rename(src, dst)

    monkeypatch.setattr(files.os, "rename", rename)
    with pytest.raises(OSError, match="killed"):
        _export(run, "hf")
    assert not (run / "hf").exists()
    monkeypatch.setattr(files.os, "rename", real_rename)
    files.clear_stale(run / "hf")  # what the next export does first
    assert _snapshot(run / "hf") == before


def test_pico_banana_files_are_rolled_forward_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a.jsonl", "a.meta.jsonl"):
        (tmp_path / name).write_text("old\n")
    group = files.FileSet(tmp_path, "test")
    group.open("a.jsonl").write("new\n")
    group.open("a.meta.jsonl").write("new\n")
    real_replace, calls = os.replace, [0]

    def replace(src, dst):  # noqa: ANN001, ANN202
        calls[0] += 1
        if calls[0] == 3:  # the journal went in (1), the first file (2); the crash comes before the second
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        group.commit()
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert {(tmp_path / n).read_text() for n in ("a.jsonl", "a.meta.jsonl")} == {"old\n", "new\n"}
    files.recover_file_set(tmp_path, "test")  # the next export's first step
    assert [(tmp_path / n).read_text() for n in ("a.jsonl", "a.meta.jsonl")] == ["new\n", "new\n"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "a.meta.jsonl"]


def test_one_writer_never_deletes_another_live_writers_files(run: Path) -> None:
    live = run / f".hf.staging-{os.getppid()}-0000"  # pytest's parent: alive
    dead = run / ".hf.staging-999999999-0000"  # no such process
    for folder in (live, dead):
        folder.mkdir()
        (folder / "part.parquet").write_bytes(b"x")
    live_tmp, dead_tmp = run / f".sft.jsonl.{os.getppid()}-abcd1234.tmp", run / ".sft.jsonl.999999999-abcd1234.tmp"
    for temp in (live_tmp, dead_tmp):
        temp.write_text("half a file\n")
    _export(run, "hf")
    _export(run, "picobanana")
    assert (live / "part.parquet").exists() and not dead.exists()
    assert live_tmp.exists() and not dead_tmp.exists()
    assert (run / "hf" / "README.md").is_file()


def test_the_offline_editors_staged_misses_are_marked_in_the_meta_files(run: Path) -> None:
    _export(run, "picobanana")
    pref = [json.loads(line) for line in (run / "preference.meta.jsonl").read_text().splitlines()]
    rejected = [r for row in pref for r in row["rejected"]]
    with Ledger(run / "ledger.sqlite") as ledger:
        raws = {a.attempt_id: json.loads(a.raw_reply) for t in ledger.tasks() for a in ledger.attempts(t.task_id)}
    assert rejected and all(r["deliberate_flaw"] == raws[r["attempt_id"]]["flaw"] for r in rejected)
    assert any(r["deliberate_flaw"] for r in rejected)  # the offline run's rejected images are mostly staged
    sft = [json.loads(line) for line in (run / "sft.meta.jsonl").read_text().splitlines()]
    assert all("deliberate_flaw" in row for row in sft)
    multi = [json.loads(line) for line in (run / "multi-turn.meta.jsonl").read_text().splitlines()]
    assert all("deliberate_flaw" in turn for row in multi for turn in row["turns"])
