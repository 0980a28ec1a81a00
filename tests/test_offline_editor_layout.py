"""The classical editor's layout and person edits: zoom, outpainting, text, line art, sticker."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from editforge.models.base import ModelCallError
from editforge.models.offline.editor.ops_person import detect_faces
from offline_editor_support import (
    EDITOR,
    coarse_corr,
    edit,
    f32,
    lum,
    mean_abs_diff,
    photo,
)


@pytest.mark.parametrize(("region", "centre_x", "centre_y"), [("centre", 0.5, 0.5), ("left", 0.25, 0.5)])
def test_zoom_is_a_magnified_crop_of_the_region(region: str, centre_x: float, centre_y: float) -> None:
    src = photo("astronaut", 256)
    out, raw = edit(src, f"zoom in on the {region}")
    assert out.shape == src.shape
    x0, y0, x1, y1 = raw["details"]["crop_box_xyxy"]
    h, w = src.shape[:2]
    assert 1.45 < w / (x1 - x0) < 2.25 and abs(w / (x1 - x0) - h / (y1 - y0)) < 0.05  # same factor both ways
    assert abs((x0 + x1) / 2 / w - centre_x) < 0.12 and abs((y0 + y1) / 2 / h - centre_y) < 0.12
    crop = src[int(round(y0)) : int(round(y1)), int(round(x0)) : int(round(x1))]
    expected = cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC)
    assert np.corrcoef(lum(expected).ravel(), lum(out).ravel())[0, 1] > 0.95
    assert np.corrcoef(lum(src).ravel(), lum(out).ravel())[0, 1] < 0.8


def test_zoom_on_the_face_centres_the_face() -> None:
    out = edit(photo("astronaut", 256), "zoom in on the face")[0]
    faces = detect_faces(f32(out))
    assert faces, "the zoomed image should still show the face"
    x, _, fw, _ = faces[0]
    assert abs((x + fw / 2) / out.shape[1] - 0.5) < 0.2


@pytest.mark.parametrize(
    ("side", "grow_h", "grow_w"), [("left", False, True), ("top", True, False), ("all", True, True)]
)
def test_outpainting_extends_and_contains_the_source(side: str, grow_h: bool, grow_w: bool) -> None:
    src = photo("coffee")
    out, raw = edit(src, f"extend the canvas on {'all sides' if side == 'all' else 'the ' + side}")
    h, w = src.shape[:2]
    assert (out.shape[0] > h) == grow_h and (out.shape[1] > w) == grow_w
    assert (out.shape[0] >= 1.15 * h) or not grow_h  # at least ~16% on each named side
    assert (out.shape[1] >= 1.15 * w) or not grow_w
    # The source is in there pixel for pixel, where the asked side says.
    score = cv2.matchTemplate(out, src, cv2.TM_SQDIFF)
    _, _, (mx, my), _ = cv2.minMaxLoc(score)
    assert np.array_equal(out[my : my + h, mx : mx + w], src)
    if side == "left":
        assert mx == out.shape[1] - w and my == 0
    if side == "top":
        assert my == out.shape[0] - h and mx == 0
    top, _, left, _ = raw["details"]["pad_tblr"]
    assert (my, mx) == (top, left)


def test_outpainting_nominal_has_no_hard_seam() -> None:
    src = photo("coffee")
    out, raw = edit(src, "extend the canvas on the left")
    left = raw["details"]["pad_tblr"][2]
    x = f32(out)
    seam = float(np.abs(x[:, left] - x[:, left - 1]).mean())
    inside = float(np.abs(x[:, left + 2 :] - x[:, left + 1 : -1]).mean())
    assert seam < 2.0 * inside


@pytest.mark.parametrize(("where", "band"), [("top", (0.0, 0.4)), ("bottom", (0.6, 1.0)), ("center", (0.25, 0.75))])
def test_add_text_changes_pixels_only_near_the_asked_place(where: str, band: tuple[float, float]) -> None:
    src = photo("coffee", 256)
    out, raw = edit(src, f'add the text "SALE" in red at the {where}')
    changed = np.abs(f32(out) - f32(src)).max(axis=2) > 0.1
    assert changed.mean() > 0.02
    rows = np.nonzero(changed)[0] / src.shape[0]
    assert band[0] <= rows.min() and rows.max() <= band[1]
    red = f32(out)[changed]
    assert float(((red[:, 0] > 0.6) & (red[:, 1] < 0.35) & (red[:, 2] < 0.35)).mean()) > 0.2
    assert raw["params"]["text"] == "SALE"


def test_add_text_sets_accents_and_refuses_what_no_font_can_set() -> None:
    src = photo("coffee", 256)
    out, raw = edit(src, 'add the text "Café" at the top')
    assert raw["params"]["text"] == "Café" and mean_abs_diff(out, src) > 0.005
    with pytest.raises(ModelCallError, match="cannot carry out instruction"):
        EDITOR.edit(src, 'add the text "日本語" at the top', 0)


def test_person_lineart_inks_the_person_on_white() -> None:
    src = photo("astronaut", 256)
    out = f32(edit(src, "turn the person into line art")[0])
    assert float((out.max(2) - out.min(2)).mean()) < 0.02 and float(out.mean()) > 0.75
    ink = out.mean(2) < 0.4
    assert ink.mean() > 0.02
    # The ink is on the person: the top corners (background) are blank paper.
    assert ink[:40, :40].mean() < 0.01 and ink[:40, -40:].mean() < 0.01


def test_person_sticker_cuts_the_person_onto_a_plain_backdrop() -> None:
    src = photo("astronaut", 256)
    out, raw = edit(src, "turn the person into a sticker")
    x, y, fw, fh = raw["details"]["face_xywh"]
    face = slice(y + fh // 4, y + 3 * fh // 4), slice(x + fw // 4, x + 3 * fw // 4)
    assert coarse_corr(out[face], src[face]) > 0.9  # the person is kept
    corner = f32(out)[:30, :30]
    assert float(corner.std(axis=(0, 1)).max()) < 0.02  # the background is plain
    assert mean_abs_diff(out[:30, :30], src[:30, :30]) > 0.05
    assert float((f32(out).min(2) > 0.95).mean()) > 0.01  # the white border


@pytest.mark.parametrize("instruction", ["turn the person into line art", "turn the person into a sticker"])
def test_person_edits_without_a_person_are_refused(instruction: str) -> None:
    with pytest.raises(ModelCallError, match="no person"):
        EDITOR.edit(photo("coffee"), instruction, 1)
