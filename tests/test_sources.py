"""Photo sources: folders, the bundled samples, and URL lists fetched from an untrusted web (here, a
server on 127.0.0.1 that misbehaves on purpose)."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editforge.config import build_config
from editforge.pipeline import run
from editforge.sources.folder import folder_items
from editforge.sources.samples import sample_items
from editforge.sources.urls import download, url_items


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow.jpg":
            time.sleep(3)
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if not headers.get("X-No-Length"):  # without it the body runs until the connection closes
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web(small_photos: dict[str, np.ndarray]):
    buf = io.BytesIO()
    Image.fromarray(small_photos["coffee"]).save(buf, "JPEG")
    photo = buf.getvalue()
    _Handler.routes = {
        "/coffee.jpg": (200, {"Content-Type": "image/jpeg"}, photo),
        "/huge.jpg": (200, {"Content-Type": "image/jpeg"}, photo * 40),
        "/endless.jpg": (200, {"X-No-Length": "1"}, photo * 40),  # no declared size: read until closed
        "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/to-coffee": (302, {"Location": "/coffee.jpg"}, b""),
        "/slow.jpg": (200, {}, photo),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", len(photo)
    server.shutdown()
    server.server_close()


def test_download_follows_http_redirects_only(web) -> None:
    base, size = web
    assert len(download(f"{base}/coffee.jpg")) == size
    assert len(download(f"{base}/to-coffee")) == size
    with pytest.raises(OSError, match="not allowed|refused redirect"):
        download(f"{base}/to-file")
    for url in ("file:///etc/passwd", "ftp://example.org/a.jpg", "/etc/passwd", "data:image/png;base64,AAAA"):
        with pytest.raises(OSError, match="only http and https"):
            download(url)


def test_download_caps_size_and_time(web) -> None:
    base, size = web
    with pytest.raises(OSError, match="over the .*-byte limit"):
        download(f"{base}/huge.jpg", max_bytes=size * 2)
    with pytest.raises(OSError, match="more than the .*-byte limit"):
        download(f"{base}/endless.jpg", max_bytes=size * 2)  # an undeclared size does not get past the cap
    started = time.monotonic()
    with pytest.raises(OSError, match="slow.jpg"):
        download(f"{base}/slow.jpg", timeout_s=0.5)
    assert time.monotonic() - started < 2.5
    with pytest.raises(OSError, match="HTTP 404"):
        download(f"{base}/missing.jpg")


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


def test_a_run_over_urls_records_each_failure_by_url(tmp_path: Path, web) -> None:
    base, _ = web
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# photos\n{base}/coffee.jpg\n{base}/missing.jpg\n{base}/to-file\nfile:///etc/passwd\n")
    out = tmp_path / "run"
    config = build_config({"out": out, "source": "urls", "urls": listing, "per_photo": 1, "workers": 1,
                           "edit_types": ["color_tone"]}, {})  # fmt: skip
    summary = run(config, quiet=True)
    assert summary.photos == 1 and summary.source_failures == 3
    db = sqlite3.connect(out / "ledger.sqlite")
    reasons = dict(db.execute("SELECT uri, reason FROM source_failures"))
    assert "HTTP 404" in reasons[f"{base}/missing.jpg"]
    assert "not allowed" in reasons[f"{base}/to-file"] or "refused redirect" in reasons[f"{base}/to-file"]
    assert "only http and https" in reasons["file:///etc/passwd"]


def test_folder_and_samples(photo_dir: Path) -> None:
    (photo_dir / ".hidden.jpg").write_bytes(b"x")
    (photo_dir / "notes.txt").write_text("x")
    names = [Path(i.uri).name for i in folder_items(photo_dir)]
    assert names == sorted(names) and ".hidden.jpg" not in names and "notes.txt" not in names
    samples = sample_items()
    assert len(samples) >= 8 and all(i.path and i.path.exists() for i in samples)
    assert samples[0].uri.endswith("astronaut.png") and "public domain" in samples[0].license
