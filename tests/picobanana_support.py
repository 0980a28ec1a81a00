"""A small Pico-Banana release built from the sample photos, written by this code alone (not by the
importer): manifests as the reference describes them, edited PNGs on a fake CDN, an Open Images shard
as a tar with its CSV, and one photo only on (fake) Flickr."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from editforge.testing.fake_web import FakeWeb


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def jpeg(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def edited(image: np.ndarray, k: int) -> np.ndarray:
    """A different picture of another size, as Nano-Banana's outputs are (not the input's size)."""
    out = np.ascontiguousarray(np.rot90(image, k % 4) if k % 2 else image[:, ::-1])
    pil = Image.fromarray(out).resize((out.shape[1] + 16 * (k + 1), out.shape[0] + 8))
    return np.asarray(pil)


@dataclass
class Release:
    root: Path
    manifests: Path
    tar: Path
    csv: Path
    web: FakeWeb
    source_urls: dict[str, str] = field(default_factory=dict)  # photo name -> URL in the manifests
    edits: dict[str, bytes] = field(default_factory=dict)  # release path -> PNG bytes
    image_ids: dict[str, str] = field(default_factory=dict)

    def edit_url(self, path: str) -> str:
        return self.web.url("/nb/" + path)

    @property
    def base_url(self) -> str:
        return self.web.url("/nb/")


FILM, REMOVE = "Add film grain or vintage filter", "Remove an existing object"
WEATHER = "change weather conditions (sunny/rainy/snowy)"  # lower-cased, as the release has it


def build_release(root: Path, photos: dict[str, np.ndarray], web: FakeWeb) -> Release:
    """Rows (1-based lines): sft 1 astronaut OK · 2 coffee OK · 3 chelsea edit 404 · 4 rocket not in the tar
    · 5 not JSON · 6 unknown type · 7 coffee edit cut short (twice: fails this run) ; preference 1 = sft 1's
    edit with a rejected one · 2 a Flickr-only photo ; multi-turn 1 astronaut (turn 1 = sft 1) · 2 coffee 3 turns."""
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    ids = {"astronaut": "0a1b2c3d4e5f6071", "coffee": "1b2c3d4e5f607182", "chelsea": "2c3d4e5f60718293",
           "rocket": "3d4e5f6071829304"}  # fmt: skip
    release = Release(root, manifests, root / "train_0.tar.gz", root / "oi.csv", web, image_ids=ids)
    for i, name in enumerate(ids):
        release.source_urls[name] = f"https://farm{i + 1}.staticflickr.com/{i}/{ids[name]}_secret_o.jpg"
    # Rocket: in the CSV, not in the tar, and gone from (fake) Flickr; never a real host, even by DNS.
    release.source_urls["rocket"] = web.url(f"/flickr/3/{ids['rocket']}_secret_o.jpg")
    release.source_urls["flickr"] = web.url("/flickr/77/777_secret_o.jpg")
    web.add("/flickr/77/777_secret_o.jpg", jpeg(photos["rocket"][::-1].copy()), script=["429"])

    # The Open Images shard: astronaut, coffee, chelsea (not rocket), plus a bystander and a non-file.
    with tarfile.open(release.tar, "w:gz") as tar:
        for name in ("astronaut", "coffee", "chelsea"):
            data = jpeg(photos[name])
            info = tarfile.TarInfo(f"train_0/{ids[name]}.jpg")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.addfile(tarfile.TarInfo("train_0/subdir"), None)
    with open(release.csv, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ImageID", "Subset", "OriginalURL", "OriginalLandingURL", "License", "Author"])
        for i, name in enumerate(ids):  # the CSV spells the hosts differently (cN, http), as the real one does
            url = release.source_urls[name].replace(f"https://farm{i + 1}", f"http://c{i + 1}").replace(
                "http://127.0.0.1", "http://localhost"
            )
            writer.writerow([ids[name], "train", url, "", "https://creativecommons.org/licenses/by/2.0/", "x"])
        writer.writerow(["ffffffffffffffff", "train", "https://c9.staticflickr.com/9/9_o.jpg", "", "", ""])

    def add_edit(path: str, base: np.ndarray, k: int, **route: object) -> str:
        release.edits[path] = png(edited(base, k))
        web.add("/nb/" + path, release.edits[path], **route)
        return path

    a, c, ch = photos["astronaut"], photos["coffee"], photos["chelsea"]
    sft = [
        {"open_image_input_url": release.source_urls["astronaut"], "text": "Give the photo a grainy 1970s film look.",
         "output_image": add_edit("images/positive-edit/1.png", a, 1), "edit_type": FILM,
         "summarized_text": "make it look vintage"},
        {"open_image_input_url": release.source_urls["coffee"], "text": "Remove the saucer under the cup.",
         "output_image": add_edit("images/positive-edit/2.png", c, 2), "edit_type": REMOVE,
         "summarized_text": "remove the saucer"},
        {"open_image_input_url": release.source_urls["chelsea"], "text": "Make it snow.",
         "output_image": "images/positive-edit/3.png", "edit_type": WEATHER, "summarized_text": "snow"},
        {"open_image_input_url": release.source_urls["rocket"], "text": "Add film grain.",
         "output_image": add_edit("images/positive-edit/4.png", photos["rocket"], 3), "edit_type": FILM,
         "summarized_text": "grain"},
        "{not json",
        {"open_image_input_url": release.source_urls["coffee"], "text": "x", "output_image": "images/x.png",
         "edit_type": "Make it sparkle", "summarized_text": "x"},
        {"open_image_input_url": release.source_urls["coffee"], "text": "Turn the scene into winter.",
         "output_image": add_edit("images/positive-edit/5.png", c, 5, script=["truncate", "truncate"]),
         "edit_type": WEATHER, "summarized_text": "winter"},
    ]  # fmt: skip
    preference = [
        {**sft[0], "rejected_images": [add_edit("images/negative-edit/1_retry1.png", a, 7)]},
        {"open_image_input_url": release.source_urls["flickr"], "text": "Remove the tower.",
         "output_image": add_edit("images/positive-edit/6.png", photos["rocket"], 8), "edit_type": REMOVE,
         "summarized_text": "no tower", "rejected_images": [add_edit("images/negative-edit/6_attemptA.png",
                                                                     photos["rocket"], 9),
                                                            add_edit("images/negative-edit/6_attemptB.png",
                                                                     photos["rocket"], 10)]},
    ]  # fmt: skip
    multi = [
        {"files": [{"id": "original_input_image", "url": release.source_urls["astronaut"]},
                   {"id": "edit_turn1", "url": "images/positive-edit/1.png"},
                   {"id": "final_image", "url": add_edit("images/multi-turn/1_turn2.png", a, 11)}],
         "metadata_edit_turn_prompts": [sft[0]["text"], "Now make the suit blue."]},
        {"files": [{"id": "original_input_image", "url": release.source_urls["coffee"]},
                   {"id": "edit_turn1", "url": add_edit("images/multi-turn/2_turn1.png", c, 12)},
                   {"id": "edit_turn2", "url": add_edit("images/multi-turn/2_turn2.png", c, 13)},
                   {"id": "final_image", "url": add_edit("images/multi-turn/2_turn3.png", c, 14)}],
         "metadata_edit_turn_prompts": ["Add steam.", "Make the steam thicker.", "Now add a spoon."]},
    ]  # fmt: skip
    for split, rows in (("sft", sft), ("preference", preference), ("multi-turn", multi)):
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        (manifests / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
        web.add(f"/nb/jsonl/{split}.jsonl", (manifests / f"{split}.jsonl").read_bytes())
    _ = ch
    return release


def build_many(root: Path, photo: np.ndarray, web: FakeWeb, rows: int) -> Release:
    """`rows` sft rows of one Open Images photo, each with its own edit on the CDN (for kill and resume)."""
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    image_id = "4e5f607182930415"
    release = Release(root, manifests, root / "train_1.tar", root / "oi.csv", web, image_ids={"photo": image_id})
    release.source_urls["photo"] = f"https://farm5.staticflickr.com/5/{image_id}_s_o.jpg"
    data = jpeg(photo)
    with tarfile.open(release.tar, "w") as tar:
        info = tarfile.TarInfo(f"{image_id}.jpg")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    release.csv.write_text(f"ImageID,OriginalURL\n{image_id},{release.source_urls['photo']}\n")
    lines = []
    for i in range(rows):
        path = f"images/positive-edit/{i}.png"
        release.edits[path] = png(edited(photo, i))
        web.add("/nb/" + path, release.edits[path])
        lines.append(json.dumps({"open_image_input_url": release.source_urls["photo"], "text": f"Edit number {i}.",
                                 "output_image": path, "edit_type": FILM, "summarized_text": f"edit {i}"}))  # fmt: skip
    (manifests / "sft.jsonl").write_text("\n".join(lines) + "\n")
    return release
