"""Every kind of bad photo a user's folder holds: each is used correctly or skipped with a reason that
names the file, and the run goes on."""

from __future__ import annotations

import io
import os
import sqlite3
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editforge.config import build_config
from editforge.images import decode_photo
from editforge.pipeline import run


def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb() -> bytes:
    """A PNG whose header claims 60000 x 60000 pixels (a few bytes on disk, 10 GB decoded)."""
    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 100)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _bad_crc(photo: np.ndarray) -> bytes:
    data = bytearray(_save(Image.fromarray(photo), "PNG"))
    idat = data.find(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    data[idat + 4 + length] ^= 0xFF  # first byte of the IDAT chunk's CRC
    return bytes(data)


def _oriented(orientation: int) -> bytes:
    """A 40x20 photo, red on its left half, with EXIF orientation `orientation`."""
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (220, 20, 20)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(Image.fromarray(pixels), "JPEG", exif=exif.tobytes(), quality=95)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_undone(orientation: int) -> None:
    image = decode_photo(_oriented(orientation))
    rotated = orientation >= 5  # 5-8 swap width and height
    assert image.shape[:2] == ((40, 20) if rotated else (20, 40))
    # where the red half ends up after the viewer's transform
    red = image[..., 0].astype(int) - image[..., 2].astype(int) > 100
    h, w = red.shape
    halves = {
        "left": red[:, : w // 2].mean(), "right": red[:, w // 2 :].mean(),
        "top": red[: h // 2].mean(), "bottom": red[h // 2 :].mean(),
    }  # fmt: skip
    expected = {1: "left", 2: "right", 3: "right", 4: "left", 5: "top", 6: "top", 7: "bottom", 8: "bottom"}
    assert halves[expected[orientation]] > 0.9, (orientation, halves)


def _zoo(folder: Path, photo: np.ndarray) -> dict[str, str | None]:
    """Write the bad photos; name → the reason fragment expected, or None when it must be used."""
    cases: dict[str, tuple[bytes, str | None]] = {
        "empty.jpg": (b"", "empty file"),
        "truncated.jpg": (_save(Image.fromarray(photo), "JPEG")[:1500], "truncated"),
        "page.jpg": (b"<!doctype html><html><body>404 Not Found</body></html>", "not an image"),
        "cmyk.jpg": (_save(Image.fromarray(photo).convert("CMYK"), "JPEG"), None),
        "deep.png": (_save(Image.fromarray(photo[..., 0].astype(np.uint16) * 257).convert("I;16"), "PNG"), None),
        "palette.png": (_save(Image.fromarray(photo).convert("P"), "PNG", transparency=0), None),
        "grey_alpha.png": (_save(Image.fromarray(photo).convert("LA"), "PNG"), None),
        "animated.gif": (
            _save(Image.fromarray(photo), "GIF", save_all=True, append_images=[Image.fromarray(photo[::-1])]),
            None,
        ),
        "dot.png": (_save(Image.new("RGB", (1, 1)), "PNG"), "smaller than"),
        "sliver.png": (_save(Image.new("RGB", (20000, 4), (9, 9, 9)), "PNG"), "smaller than"),
        "bomb.png": (_bomb(), "pixels"),
        "bad_crc.png": (_bad_crc(photo), "corrupt"),
        "scan.tif": (_save(Image.fromarray(photo), "TIFF"), None),
        "same.png": (_save(Image.fromarray(photo), "PNG"), None),
        "same_again.png": (_save(Image.fromarray(photo), "PNG"), None),
    }
    for name, (data, _) in cases.items():
        (folder / name).write_bytes(data)
    os.symlink("loop.jpg", folder / "loop.jpg")  # a symlink to itself
    os.mkfifo(folder / "pipe.jpg")  # reading it would block forever: never listed
    expected = {name: reason for name, (_, reason) in cases.items()}
    expected["loop.jpg"] = "cannot read"
    return expected


def test_a_folder_of_bad_photos_does_not_stop_the_run(tmp_path: Path, small_photos) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    expected = _zoo(folder, small_photos["coffee"])
    out = tmp_path / "run"
    config = build_config({"out": out, "images": folder, "per_photo": 1, "workers": 2,
                           "edit_types": ["color_tone", "film_grain_vintage"]}, {})  # fmt: skip
    summary = run(config, quiet=True)
    db = sqlite3.connect(out / "ledger.sqlite")
    failures = {Path(uri).name: reason for uri, reason in db.execute("SELECT uri, reason FROM source_failures")}
    used = {Path(uri).name for (uri,) in db.execute("SELECT uri FROM photo_uris")}
    for name, reason in expected.items():
        if reason is None:
            assert name in used, f"{name} should have been used: {failures.get(name)}"
        else:
            assert name in failures, f"{name} should have been skipped"
            assert name in failures[name] and reason in failures[name], failures[name]
    assert "pipe.jpg" not in used and "pipe.jpg" not in failures
    # duplicates are one photo under two names
    same = dict(db.execute("SELECT uri, photo_id FROM photo_uris"))
    ids = {Path(u).name: p for u, p in same.items()}
    assert ids["same.png"] == ids["same_again.png"]
    assert summary.counts.get("planned", 0) == 0 and summary.tasks == summary.photos  # one type each, all run
