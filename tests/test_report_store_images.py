"""The report of a run whose images live in an image store (`images_uri:`): thumbnails and full-size
links come from the store (file:// read in place, s3:// on an in-process moto server copied into the
report), not placeholders for files that are not under the run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from editforge.config import build_config
from editforge.pipeline import run
from editforge.report import build_report

pytest.importorskip("fsspec")


def _settings(out: Path, folder: Path, **more) -> dict:
    return {"out": out, "images": folder, "per_photo": 2, "seed": 4, "workers": 1, "max_side": 160, "photos": 2,
            **more}  # fmt: skip


def _images(report_dir: Path) -> list[dict]:
    rows = []
    for page in sorted((report_dir / "pages").glob("page-*.js")):
        text = page.read_text(encoding="ascii")
        rows += json.loads(text[text.index("=") + 1 :].strip().rstrip(";"))
    assert rows
    return [image for row in rows for turn in row["turns"]
            for image in [turn["input"], *(a["img"] for a in turn["attempts"] if a["img"])]]  # fmt: skip


def _assert_real_images(report_dir: Path, result, bytes_of) -> None:  # noqa: ANN001
    assert result.thumbs_failed == 0 and result.thumbs_made > 0 and result.stats.images_missing == 0
    for image in _images(report_dir):
        assert "missing" not in image, image  # before: every card a placeholder naming a file not in the run
        with Image.open(report_dir / image["thumb"]) as thumb:
            assert thumb.format == "WEBP"
        full = (report_dir / image["full"]).resolve()
        assert full.read_bytes() == bytes_of(full)  # the full-size link opens the store's image, byte for byte


def test_a_report_reads_images_from_a_local_store_in_place(tmp_path: Path, photo_dir: Path) -> None:
    bucket = tmp_path / "bucket"
    out = tmp_path / "run"
    run(build_config(_settings(out, photo_dir, images_uri=bucket.as_uri()), {}), quiet=True)
    result = build_report(run_dir=out)
    _assert_real_images(result.report_dir, result, lambda full: (bucket / full.relative_to(bucket)).read_bytes())
    assert not (result.report_dir / "images").exists()  # nothing copied: the browser opens the store's files


def test_a_report_copies_images_from_s3_once(tmp_path: Path, photo_dir: Path, s3_bucket) -> None:
    out = tmp_path / "run"
    run(build_config(_settings(out, photo_dir, images_uri="s3://editforge-test/runs/r1"), {}), quiet=True)
    result = build_report(run_dir=out)
    copies = result.report_dir / "images"

    def from_s3(full: Path) -> bytes:
        key = "runs/r1/images/" + str(full.relative_to(copies))
        return s3_bucket.get_object(Bucket="editforge-test", Key=key)["Body"].read()

    _assert_real_images(result.report_dir, result, from_s3)
    assert any("copied into the report" in note for note in result.stats.notes)
    mtimes = {p: p.stat().st_mtime_ns for p in copies.rglob("*.png")}
    again = build_report(run_dir=out)
    assert again.thumbs_made == 0 and {p: p.stat().st_mtime_ns for p in copies.rglob("*.png")} == mtimes


def test_an_image_gone_from_the_store_is_named_and_counted(tmp_path: Path, photo_dir: Path) -> None:
    bucket = tmp_path / "bucket"
    out = tmp_path / "run"
    run(build_config(_settings(out, photo_dir, images_uri=bucket.as_uri()), {}), quiet=True)
    gone = next(bucket.rglob("*.png"))
    gone.unlink()
    result = build_report(run_dir=out)
    assert any(image.get("missing") == gone.name for image in _images(result.report_dir))
