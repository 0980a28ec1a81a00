"""`editforge calibrate` end to end: the offline judge on edits made by code written apart from ours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter
from typer.testing import CliRunner

from editforge.cli import app

runner = CliRunner()


def _warm(img: Image.Image, strength: float) -> Image.Image:
    r, g, b = (np.asarray(img, dtype=np.float32)[..., i] for i in range(3))
    out = np.stack([r * (1 + strength), g * (1 + strength / 3), b * (1 - strength)], axis=-1)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def labels(tmp_path_factory: pytest.TempPathFactory, small_photos: dict[str, np.ndarray]) -> Path:
    """Edits made with PIL alone (never our editor), labelled the way a person would."""
    folder = tmp_path_factory.mktemp("labels")
    rows = []
    rng = np.random.default_rng(3)
    for name, pixels in small_photos.items():
        source = Image.fromarray(pixels)
        source.save(folder / f"{name}.png")
        edits = {
            "warm": (_warm(source, 0.25), "Make the whole photo warmer, with a golden tone", "pass"),
            "bright": (ImageEnhance.Brightness(source).enhance(1.0), "Give the picture a warm sunset tint", "fail"),
            "noise": (Image.fromarray(rng.integers(0, 255, pixels.shape, dtype=np.uint8)), "Warm the photo up", "fail"),
            "blurred": (_warm(source, 0.25).filter(ImageFilter.GaussianBlur(6)), "Make it warmer", "fail"),
        }
        for kind, (image, instruction, label) in edits.items():
            image.save(folder / f"{name}-{kind}.png")
            for rater in ("ann", "bob"):
                rows.append(
                    {"source": f"{name}.png", "edited": f"{name}-{kind}.png", "instruction": instruction,
                     "edit_type": "color_tone", "label": label, "rater": rater}  # fmt: skip
                )
    rows[-1]["label"] = "pass"  # the raters disagree once: their own agreement is below 1
    lines = [json.dumps(r) for r in rows] + ['{"source": "x.png"', json.dumps({**rows[0], "edited": "gone.png"})]
    path = folder / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_report_has_the_promised_keys_and_names_bad_rows(labels: Path) -> None:
    result = runner.invoke(app, ["calibrate", str(labels), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("balanced_accuracy", "roc_auc", "best_threshold", "per_type", "raters", "confusion"):
        assert key in data
    assert data["rows"] == 32 and data["judge"].startswith("offline/")
    skipped = data["skipped_rows"]
    assert len(skipped) == 2 and ":33:" in skipped[0] and "gone.png" in skipped[1]
    assert data["raters"]["raters"] == ["ann", "bob"] and data["raters"]["agreement"] == pytest.approx(15 / 16)
    scored = [r for r in data["results"] if r["score"] is not None]
    assert data["judged"] == len(scored) and data["judged"] + sum(data["not_judged"].values()) == 32
    assert (labels.parent / "calibration" / "index.html").is_file()


def test_a_rerun_is_served_from_the_cache_and_renders_a_page(labels: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["calibrate", str(labels), "--json"])
    result = runner.invoke(app, ["calibrate", str(labels), "--out", str(tmp_path / "page"), "--threshold", "0.6"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "32 (2 skipped, 32 from cache)" in text and "balanced accuracy at 0.60" in text
    html = (tmp_path / "page" / "index.html").read_text()
    assert "ROC" in html and "plots/scores.png" in html and (tmp_path / "page" / "plots" / "scores.png").is_file()
    assert "<script" not in html  # a static page: nothing to run


def test_no_usable_rows_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("not json\n")
    result = runner.invoke(app, ["calibrate", str(path)])
    assert result.exit_code == 2 and "no usable label rows" in " ".join(result.output.split())
