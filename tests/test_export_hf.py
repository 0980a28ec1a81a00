"""The Hugging Face export, read back with `datasets` and pyarrow and compared with the ledger row for row.

The run is real: the offline pipeline on four small photos (outpainting changes the size, so alignment
has work to do), plus two multi-turn sessions built by calling the pipeline's own stages.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from editforge.cli import app
from editforge.export import export_all
from editforge.export.common import ExportDependencyError, require
from editforge.export.hf import SHARD_GLOB, export_hf
from editforge.store.images import ImageStore
from editforge.store.ledger import Ledger

try:  # the export extra; build_run (shared with test_export_webdataset) needs neither
    import datasets
    import pyarrow.parquet as pq
except ImportError:
    datasets = pq = None
needs_extra = pytest.mark.skipif(datasets is None, reason="needs the export extra: pip install 'editforge[export]'")


def export(run_dir: Path, out: Path, **kwargs: object) -> dict[str, int]:
    with Ledger(run_dir / "ledger.sqlite") as ledger:
        return export_hf(ledger, run_dir, out, **kwargs)


def pixels(image: object) -> np.ndarray:
    return np.asarray(image.convert("RGB"))  # type: ignore[attr-defined]


def load(folder: Path, subset: str, cache: Path):  # noqa: ANN201 - a datasets.Dataset
    return datasets.load_dataset(str(folder), name=subset, split="train", cache_dir=str(cache))


def load_parquet(folder: Path, subset: str, cache: Path):  # noqa: ANN201
    files = sorted(str(p) for p in (folder / "data" / subset).glob("*.parquet"))
    return datasets.load_dataset("parquet", data_files={"train": files}, split="train", cache_dir=str(cache))


@needs_extra
def test_hf_folder_loads_and_matches_the_ledger(run_dir: Path, expected: dict, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    counts = export(run_dir, out, shard_rows=3)
    assert counts == {subset: len(rows) for subset, rows in expected.items()}
    store = ImageStore(run_dir)
    shards = sorted(p.name for p in (out / "data" / "sft").iterdir())
    n = -(-counts["sft"] // 3)
    assert shards == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]

    for subset in ("sft", "preference"):
        folder = load(out, subset, tmp_path / "cache")
        plain = load_parquet(out, subset, tmp_path / "cache2")
        assert len(folder) == len(plain) == len(expected[subset])
        assert isinstance(folder.features["edited_image"], datasets.Image)
        for row, other, view in zip(folder, plain, expected[subset], strict=True):
            assert row["task_id"] == other["task_id"] == view.task.task_id
            assert row["text"] == view.long.text and row["summarized_text"] == view.short.text
            assert row["edit_type_key"] == view.task.edit_type and row["labels"] == view.labels
            assert (
                row["score"] == pytest.approx(view.verdict.score) and row["scores"] == view.verdict.scores.model_dump()
            )
            assert row["source_url"] == view.photo.uri and row["source_size"] == [view.photo.width, view.photo.height]
            assert row["judge"]["model"] == view.verdict.model.model and row["alignment"] is None
            assert np.array_equal(pixels(row["edited_image"]), store.get(view.chosen.output_image))
            assert np.array_equal(pixels(row["source_image"]), store.get(view.task.input_image))
            if subset == "preference":
                assert len(row["rejected_images"]) == len(view.rejected) == len(row["rejected_scores"]) > 0
                for image, (attempt, _) in zip(row["rejected_images"], view.rejected, strict=True):
                    assert np.array_equal(pixels(image), store.get(attempt.output_image))
            else:
                assert "rejected_images" not in row

    multi = load(out, "multi_turn", tmp_path / "cache")
    assert len(multi) == len(expected["multi_turn"])
    for row, view in zip(multi, expected["multi_turn"], strict=True):
        assert row["session_id"] == view.session.session_id
        assert row["turn_prompts"] == [t.long.text for t in view.turns]
        assert row["turn_edit_type_keys"] == [t.task.edit_type for t in view.turns]
        assert len(row["turn_images"]) == len(view.turns) >= 2
        for image, turn in zip(row["turn_images"], view.turns, strict=True):
            assert np.array_equal(pixels(image), store.get(turn.chosen.output_image))

    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "config_name: multi_turn" in card and "license: other" in card
    assert "offline/metric-judge" in card and "0.7" in card


@needs_extra
def test_hf_export_is_byte_reproducible_and_replaces_old_shards(run_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    export(run_dir, first, shard_rows=2)
    export(run_dir, second, shard_rows=2)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    schema = pq.read_schema(next((first / "data" / "sft").glob("*.parquet")))
    assert b"huggingface" in schema.metadata  # the features that make `datasets` decode images

    export(run_dir, first, shard_rows=100)  # fewer, bigger shards: the old ones must go
    assert [p.name for p in (first / "data" / "sft").iterdir()] == ["train-00000-of-00001.parquet"]
    counts = export(run_dir, first, shard_bytes=1)  # a byte cap smaller than one row: a row per shard
    assert len(list((first / "data" / "preference").glob(SHARD_GLOB))) == counts["preference"]
    assert not list(first.rglob(".tmp-*"))


@needs_extra
def test_pad_alignment_puts_every_edit_on_its_source_size(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    export(run_dir, out, align="pad")
    changed = 0
    for subset in ("sft", "preference"):
        table = pq.read_table(out / "data" / subset).to_pylist()
        for row in table:
            images = [row["edited_image"], *row.get("rejected_images", [])]
            alignments = [row["alignment"], *row.get("rejected_alignments", [])]
            for image, alignment in zip(images, alignments, strict=True):
                assert alignment["method"] == "pad" and alignment["to_size"] == row["source_size"]
                with Image.open(io.BytesIO(image["bytes"])) as pil:
                    assert list(pil.size) == row["source_size"]
            changed += row["alignment"]["from_size"] != row["alignment"]["to_size"]
    assert changed > 0, "outpainting edits change size: alignment should have had work to do"
    multi = load(out, "multi_turn", tmp_path / "cache")
    for row in multi:
        assert all(list(image.size) == row["source_size"] for image in row["turn_images"])
        assert all(a["method"] == "pad" for a in row["turn_alignments"])


@needs_extra
def test_export_all_and_cli_formats(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    with Ledger(copy / "ledger.sqlite") as ledger:
        results = export_all(ledger, copy, ["hf"], "crop")
    assert set(results) == {"hf"} and (copy / "hf" / "README.md").is_file()
    result = CliRunner().invoke(app, ["export", str(copy), "--format", "all", "--align", "resize"])
    assert result.exit_code == 0, result.output
    assert (copy / "sft.jsonl").is_file() and (copy / "webdataset" / "sft" / "sft-000000.tar").is_file()
    bad = CliRunner().invoke(app, ["export", str(copy), "--format", "tfrecord"])
    assert bad.exit_code == 2 and "unknown export format" in bad.output
    bad = CliRunner().invoke(app, ["export", str(copy), "--align", "stretch"])
    assert bad.exit_code == 2 and "unknown alignment" in bad.output


def test_missing_packages_name_the_extra(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ExportDependencyError, match=r"pip install 'editforge\[export\]'"):
        require("pyarrow")
    result = CliRunner().invoke(app, ["export", str(copy), "--format", "hf"])
    assert result.exit_code == 2 and "editforge[export]" in result.output
    monkeypatch.setattr(
        "editforge.export.common.missing_dependencies", lambda fmt: [] if fmt == "picobanana" else ["x"]
    )
    result = CliRunner().invoke(app, ["export", str(copy)])  # all: what can be written is, the rest is named
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "skipped hf, webdataset" in said and "editforge[export]" in said and (copy / "sft.jsonl").is_file()
