"""Photo sources: folders, the bundled samples, and URL lists fetched from an untrusted web (here, a
server on 127.0.0.1 that misbehaves on purpose)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editforge.config import build_config
from editforge.engine.runner import RunSummary
from editforge.pipeline import run
from editforge.sources.folder import folder_items
from editforge.sources.samples import sample_items
from editforge.sources.urls import url_items
from editforge.testing.fake_web import FakeWeb


@pytest.fixture
def web(small_photos: dict[str, np.ndarray]):
    buf = io.BytesIO()
    Image.fromarray(small_photos["coffee"]).save(buf, "JPEG")
    with FakeWeb() as server:
        server.add("/coffee.jpg", buf.getvalue(), headers={"Content-Type": "image/jpeg"})
        server.add("/busy.jpg", buf.getvalue(), script=["503", "503"])  # both in-run tries fail, then it works
        server.add("/notes.jpg", b"plain text, not a photo")
        server.redirect("/to-file", "file:///etc/passwd")
        yield server


def test_open_images_csv_keeps_attribution(tmp_path: Path) -> None:
    listing = tmp_path / "images.csv"
    listing.write_text("ImageID,OriginalURL,License,Author,Title\n"
                       "a,http://x/1.jpg,https://creativecommons.org/licenses/by/2.0/,Ann,Dock\n"
                       "b,http://x/1.jpg,,,\n"
                       "c,http://x/2.jpg,,Bo,\n")  # fmt: skip
    items = url_items(listing)
    assert [i.uri for i in items] == ["http://x/1.jpg", "http://x/2.jpg"]  # duplicates once
    assert items[0].attribution == "Dock — by Ann" and items[0].license.endswith("by/2.0/")
    (tmp_path / "bad.csv").write_text("id,link\n1,http://x\n")
    with pytest.raises(ValueError, match="no URL column"):
        url_items(tmp_path / "bad.csv")


def _url_run(tmp_path: Path, listing: Path, **settings: object) -> RunSummary:
    config = build_config({"out": tmp_path / "run", "source": "urls", "urls": listing, "per_photo": 1, "workers": 1,
                           "edit_types": ["color_tone"], **settings}, {})  # fmt: skip
    return run(config, quiet=True)


def test_a_run_over_urls_records_each_failure_by_url_and_retries_only_transient_ones(
    tmp_path: Path, web: FakeWeb
) -> None:
    listing = tmp_path / "urls.txt"
    urls = [web.url(p) for p in ("/coffee.jpg", "/missing.jpg", "/to-file", "/busy.jpg", "/notes.jpg")]
    listing.write_text("# photos\n" + "\n".join(urls) + "\nfile:///etc/passwd\n")
    summary = _url_run(tmp_path, listing, allow_private_urls=True)
    assert summary.photos == 1 and summary.source_failures == 5
    db = sqlite3.connect(tmp_path / "run" / "ledger.sqlite")
    failures = {uri: (reason, retryable) for uri, reason, retryable in db.execute("SELECT * FROM source_failures")}
    assert "HTTP 404" in failures[web.url("/missing.jpg")][0]
    assert "refused redirect to a file URL" in failures[web.url("/to-file")][0]
    assert "only http and https" in failures["file:///etc/passwd"][0]
    assert "HTTP 503" in failures[web.url("/busy.jpg")][0]
    assert {uri for uri, (_, retryable) in failures.items() if retryable} == {web.url("/busy.jpg")}
    before = dict(web.hits)

    summary = _url_run(tmp_path, listing, allow_private_urls=True)  # the next run: only /busy.jpg again
    assert summary.source_failures == 4  # the same pixels as coffee.jpg: one photo under two URLs
    assert db.execute("SELECT COUNT(*) FROM photo_uris WHERE uri = ?", (web.url("/busy.jpg"),)).fetchone()[0] == 1
    asked_again = {path for path, n in web.hits.items() if n > before.get(path, 0)}
    assert asked_again == {"/busy.jpg"}


def test_a_url_run_refuses_loopback_unless_allowed(tmp_path: Path, web: FakeWeb) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(web.url("/coffee.jpg") + "\n")
    from editforge.engine.skipped import NoUsablePhotos

    # nothing left to edit is an error that names why each URL was skipped, not a run of 0 photos
    with pytest.raises(NoUsablePhotos, match=r"1 files skipped: .*loopback address \(pass --allow-private-urls"):
        _url_run(tmp_path, listing)
    assert web.hits["/coffee.jpg"] == 0


def test_folder_and_samples(photo_dir: Path) -> None:
    (photo_dir / ".hidden.jpg").write_bytes(b"x")
    (photo_dir / "notes.txt").write_text("x")
    names = [Path(i.uri).name for i in folder_items(photo_dir)]
    assert names == sorted(names) and ".hidden.jpg" not in names and "notes.txt" not in names
    samples = sample_items()
    assert len(samples) >= 8 and all(i.path and i.path.exists() for i in samples)
    assert samples[0].uri.endswith("astronaut.png") and "public domain" in samples[0].license


def test_a_symlink_to_a_fifo_is_never_listed_or_read(photo_dir: Path) -> None:
    import os

    from editforge.sources import SourceItem

    os.mkfifo(photo_dir / "pipe")
    os.symlink(photo_dir / "pipe", photo_dir / "pipe.jpg")  # named like a photo; reading it blocks forever
    os.symlink(photo_dir / "gone.png", photo_dir / "dangling.png")  # kept: its failure is recorded
    names = {Path(i.uri).name for i in folder_items(photo_dir)}
    assert "pipe.jpg" not in names and "dangling.png" in names
    with pytest.raises(OSError, match="not a regular file"):  # swapped in after listing: refused, not blocked
        SourceItem(uri="pipe.jpg", path=photo_dir / "pipe.jpg").read_bytes()
