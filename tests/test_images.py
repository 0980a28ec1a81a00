import io

import numpy as np
import pytest
from PIL import Image

from editforge.images import PhotoError, decode_photo, decode_png, encode_png, read_photo


def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_exif_orientation_is_honoured() -> None:
    wide = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    data = _bytes(wide, "JPEG", exif=exif.tobytes())
    assert decode_photo(data).shape == (40, 20, 3)


@pytest.mark.parametrize(
    "img",
    [
        Image.new("CMYK", (32, 32), (0, 255, 255, 0)),
        Image.new("LA", (32, 32), (120, 0)),
        Image.new("I;16", (32, 32), 60000),
        Image.new("P", (32, 32), 3),
    ],
    ids=["cmyk", "grey+alpha", "16-bit", "palette"],
)
def test_modes_become_rgb_uint8(img: Image.Image) -> None:
    fmt = "JPEG" if img.mode == "CMYK" else "PNG"
    out = decode_photo(_bytes(img, fmt))
    assert out.dtype == np.uint8 and out.shape == (32, 32, 3)


def test_transparency_shows_on_white_and_16bit_scales() -> None:
    transparent = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert decode_photo(_bytes(transparent, "PNG")).min() == 255
    deep = Image.new("I;16", (20, 20), 32768)
    assert 120 <= int(decode_photo(_bytes(deep, "PNG")).mean()) <= 135  # half scale, not clipped white


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"<html><body>not a photo</body></html>", "not an image"),
        (_bytes(Image.new("RGB", (64, 64)), "JPEG")[:200], "corrupt or truncated"),
        (_bytes(Image.new("RGB", (4, 4)), "PNG"), "smaller than"),
    ],
)
def test_bad_photos_raise_photo_error_naming_the_file(data: bytes, reason: str) -> None:
    with pytest.raises(PhotoError, match=f"holiday.jpg: .*{reason}"):
        decode_photo(data, "holiday.jpg")


def test_downscale_to_max_side_and_missing_file(tmp_path) -> None:
    big = Image.new("RGB", (400, 200), (1, 2, 3))
    assert decode_photo(_bytes(big, "PNG"), max_side=100).shape == (50, 100, 3)
    with pytest.raises(PhotoError, match="gone.png: cannot read"):
        read_photo(tmp_path / "gone.png")


def test_png_round_trip_is_lossless(astronaut: np.ndarray) -> None:
    assert np.array_equal(decode_png(encode_png(astronaut)), astronaut)
    with pytest.raises(ValueError, match="RGB uint8"):
        encode_png(astronaut.astype(np.float32))
