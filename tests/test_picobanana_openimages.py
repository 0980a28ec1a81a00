"""Flickr URL → ImageID → bytes, from a CSV and tars/folders built here."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from editforge.importers.picobanana.openimages import find_images, resolve_image_ids, url_key


def test_urls_resolve_across_spellings_and_unknown_ones_are_absent(tmp_path: Path) -> None:
    csv_path = tmp_path / "oi.csv"
    csv_path.write_text("ImageID,Subset,OriginalURL\n"
                        "aaa,train,http://c1.staticflickr.com/1/11_x_o.jpg\n"
                        "bbb,train,https://c2.staticflickr.com/2/22_y_o.jpg\n"
                        "short-row\n")  # fmt: skip
    found = resolve_image_ids(csv_path, ["https://farm1.staticflickr.com/1/11_x_o.jpg", "https://farm9.x/9/9_o.jpg"])
    assert found == {"https://farm1.staticflickr.com/1/11_x_o.jpg": "aaa"}
    assert url_key("https://farm1.staticflickr.com/1/11_x_o.jpg") == url_key("http://c1.staticflickr.com/1/11_x_o.jpg")


def test_images_come_from_folders_and_tars_and_a_broken_tar_is_named(tmp_path: Path) -> None:
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "sub" / "aaa.jpg").write_bytes(b"from-folder")
    good = tmp_path / "good.tar"
    with tarfile.open(good, "w") as tar:
        for name, data in (("../../evil/bbb.jpg", b"from-tar"), ("x/aaa.jpg", b"not-this-one"), ("ccc.txt", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    problems: list[str] = []
    found = dict(find_images([tmp_path / "folder", broken, good], {"aaa", "bbb", "zzz"}, problems))
    assert found == {"aaa": b"from-folder", "bbb": b"from-tar"}  # a member's path never leaves memory
    assert not (tmp_path / "evil").exists()
    assert len(problems) == 1 and "broken.tar.gz" in problems[0]
