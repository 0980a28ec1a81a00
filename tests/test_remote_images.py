"""The image store through fsspec (tested on file:// URLs — never a real cloud): same names and bytes as
the local store, atomic writes, no escaping the root; a run keeps its store for resumes and exports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from editforge.config import ConfigError, build_config
from editforge.images import decode_png
from editforge.pipeline import run
from editforge.store.images import ImageStore, open_image_store, recorded_images_uri
from editforge.store.remote_images import FsspecImageStore

pytest.importorskip("fsspec")


def test_same_names_and_bytes_as_the_local_store(tmp_path: Path, coffee: np.ndarray) -> None:
    local = ImageStore(tmp_path / "run")
    remote = FsspecImageStore(tmp_path / "run2", (tmp_path / "bucket").as_uri())
    rel = remote.put(coffee)
    assert rel == local.put(coffee)
    stored = tmp_path / "bucket" / rel
    assert stored.read_bytes() == (tmp_path / "run" / rel).read_bytes() == remote.read_bytes(rel)
    assert not list(stored.parent.glob(".*.tmp"))  # written under a temporary name, then renamed
    fresh = FsspecImageStore(tmp_path / "run3", (tmp_path / "bucket").as_uri(), cache_size=0)
    assert np.array_equal(fresh.get(rel), coffee)  # read back from the store, not a cache
    assert np.array_equal(decode_png(fresh.read_bytes(rel)), coffee)


def test_a_stored_image_is_not_written_again(tmp_path: Path, coffee: np.ndarray) -> None:
    store = FsspecImageStore(tmp_path / "run", (tmp_path / "bucket").as_uri())
    rel = store.put(coffee)
    before = (tmp_path / "bucket" / rel).stat().st_mtime_ns
    assert store.put(coffee) == rel
    assert (tmp_path / "bucket" / rel).stat().st_mtime_ns == before


@pytest.mark.parametrize("rel", ["../escape.png", "/etc/passwd", "images//x.png"])
def test_a_path_outside_the_store_is_refused(tmp_path: Path, rel: str) -> None:
    store = FsspecImageStore(tmp_path / "run", (tmp_path / "bucket").as_uri())
    with pytest.raises(ValueError, match="escapes"):
        store.read_bytes(rel)


def test_a_missing_image_names_the_store(tmp_path: Path) -> None:
    uri = (tmp_path / "bucket").as_uri()
    with pytest.raises(FileNotFoundError, match="not in the image store"):
        FsspecImageStore(tmp_path / "run", uri).read_bytes("images/00/0000.png")


def _settings(out: Path, folder: Path, **more) -> dict:
    return {"out": out, "images": folder, "per_photo": 2, "seed": 4, "workers": 1, "max_side": 160, **more}


def test_a_run_with_images_on_a_store_exports_the_same_dataset(tmp_path: Path, photo_dir: Path) -> None:
    bucket = (tmp_path / "bucket").as_uri()
    run(build_config(_settings(tmp_path / "plain", photo_dir), {}), quiet=True)
    run(build_config(_settings(tmp_path / "remote", photo_dir, images_uri=bucket), {}), quiet=True)
    assert not (tmp_path / "remote" / "images").exists()
    assert recorded_images_uri(tmp_path / "remote") == bucket
    assert isinstance(open_image_store(tmp_path / "remote"), FsspecImageStore)
    for name in ("sft.jsonl", "preference.jsonl"):
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    ours = {p.relative_to(tmp_path / "bucket"): _digest(p) for p in (tmp_path / "bucket").rglob("*.png")}
    theirs = {p.relative_to(tmp_path / "plain"): _digest(p) for p in (tmp_path / "plain" / "images").rglob("*.png")}
    assert ours == theirs


def test_a_resume_pointing_at_another_store_is_refused(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    run(build_config(_settings(out, photo_dir, photos=1), {}), quiet=True)
    with pytest.raises(ConfigError, match="under the run directory"):
        run(build_config(_settings(out, photo_dir, photos=1, images_uri=(tmp_path / "b").as_uri()), {}), quiet=True)
    out2 = tmp_path / "run2"
    run(build_config(_settings(out2, photo_dir, photos=1, images_uri=(tmp_path / "b").as_uri()), {}), quiet=True)
    with pytest.raises(ConfigError, match="keeps its images at"):
        run(build_config(_settings(out2, photo_dir, photos=1), {}), quiet=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_with_images_on_s3_exports_the_same_dataset(tmp_path: Path, photo_dir: Path, s3_bucket) -> None:
    run(build_config(_settings(tmp_path / "plain", photo_dir, photos=2), {}), quiet=True)
    uri = "s3://editforge-test/runs/r1"
    run(build_config(_settings(tmp_path / "remote", photo_dir, photos=2, images_uri=uri), {}), quiet=True)
    assert not (tmp_path / "remote" / "images").exists()
    for name in ("sft.jsonl", "preference.jsonl"):
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    listed = s3_bucket.list_objects_v2(Bucket="editforge-test", Prefix="runs/r1/")["Contents"]
    ours = {o["Key"].removeprefix("runs/r1/"): o["Key"] for o in listed}
    theirs = {str(p.relative_to(tmp_path / "plain")): p for p in (tmp_path / "plain" / "images").rglob("*.png")}
    assert set(ours) == set(theirs)
    for rel, key in ours.items():
        body = s3_bucket.get_object(Bucket="editforge-test", Key=key)["Body"].read()
        assert body == theirs[rel].read_bytes()
    store = open_image_store(tmp_path / "remote")
    with pytest.raises(ValueError, match="not on a local path"):
        store.path(next(iter(ours)))
