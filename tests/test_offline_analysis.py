"""The offline photo analysis: facts and regions from real sample photos (skimage ships them)."""

from __future__ import annotations

import time
from functools import cache

import cv2
import numpy as np
import pytest
import skimage.data

from editforge.models.offline.core.analysis import COLOR_NAMES, analyze, as_rgb, describe_regions
from editforge.records import PhotoFacts


@cache
def photo(name: str) -> np.ndarray:
    return as_rgb(getattr(skimage.data, name)())


@cache
def facts(name: str) -> PhotoFacts:
    return analyze(photo(name))


def with_sign(image: np.ndarray) -> np.ndarray:
    """The photo with a plain sign holding three lines of printed words pasted in its upper left."""
    out = image.copy()
    h, w = out.shape[:2]
    x0, y0 = int(0.1 * w), int(0.08 * h)
    cv2.rectangle(out, (x0, y0), (int(0.6 * w), int(0.4 * h)), (245, 245, 240), -1)
    for i, line in enumerate(["GRAND OPENING", "FRESH BREAD DAILY", "OPEN 7 DAYS"]):
        cv2.putText(out, line, (x0 + 8, y0 + 28 + 28 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 2, cv2.LINE_AA)
    return out


def test_astronaut_has_one_face_where_it_is() -> None:
    f = facts("astronaut")
    assert len(f.faces) == 1
    x, y, w, h = f.faces[0]
    assert abs(x - 177) <= 12 and abs(y - 66) <= 12 and abs(w - 95) <= 15 and abs(h - 95) <= 15
    assert f.has_person


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "moon", "coins", "camera"])
def test_no_faces_where_there_are_none(name: str) -> None:
    f = facts(name)
    assert f.faces == []
    assert not f.has_person


def test_face_boxes_come_back_in_input_pixels() -> None:
    big = cv2.resize(photo("astronaut"), (1024, 1024), interpolation=cv2.INTER_LINEAR)
    (x, y, w, h), *_ = analyze(big).faces
    assert abs(x - 2 * 177) <= 24 and abs(y - 2 * 66) <= 24 and abs(w - 190) <= 30


@pytest.mark.parametrize("name", ["text", "page"])
def test_text_found_on_writing(name: str) -> None:
    assert facts(name).has_text


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "grass", "gravel", "brick"])
def test_no_text_on_photos_and_textures(name: str) -> None:
    assert not facts(name).has_text


def test_text_found_on_a_sign_in_a_photo() -> None:
    assert analyze(with_sign(photo("coffee"))).has_text


def test_sky() -> None:
    assert facts("rocket").has_sky  # a dusk sky: dark but blue and smooth
    for name in ("astronaut", "coffee", "chelsea"):
        assert not facts(name).has_sky, name


def test_tone_statistics() -> None:
    coffee, rocket = facts("coffee"), facts("rocket")
    assert coffee.warmth > 0.2 and rocket.warmth < 0.0
    assert 0.0 < rocket.mean_brightness < coffee.mean_brightness < 1.0
    assert coffee.saturation > 0.5
    assert rocket.dominant_colors[0] == "blue"
    assert {"orange", "red", "brown"} & set(coffee.dominant_colors[:2])
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        f = facts(name)
        assert f.dominant_colors and set(f.dominant_colors) <= set(COLOR_NAMES)
        assert -1.0 <= f.warmth <= 1.0 and 0.0 <= f.saturation <= 1.0
        assert not f.is_grayscale


def test_greyscale_input() -> None:
    page = facts("page")  # as_rgb stacked the 2-D array to three equal channels
    assert page.is_grayscale and page.dominant_colors == ["gray"] and abs(page.warmth) < 1e-6
    assert not page.has_sky and not page.has_person


def test_accepts_other_array_forms() -> None:
    rgb = photo("chelsea")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    as_float = rgb.astype(np.float32) / 255.0
    base = analyze(rgb)
    for variant in (rgba, as_float):
        f = analyze(variant)
        assert f.dominant_colors == base.dominant_colors
        assert abs(f.mean_brightness - base.mean_brightness) < 0.01


def test_cost_does_not_grow_with_the_photo_size() -> None:
    """Analysis works on a downsized copy: a 4× larger photo costs little more than the copy it is cut to.

    A ratio of two timings in the same run, not an absolute time: it holds on a slow or busy machine."""
    source = photo("coffee")
    small = cv2.resize(source, (512, 341), interpolation=cv2.INTER_LINEAR)
    huge = cv2.resize(source, (2048, 1365), interpolation=cv2.INTER_LINEAR)
    analyze(small)  # cascades load once per process
    ratio = min(_timed(analyze, huge) for _ in range(3)) / min(_timed(analyze, small) for _ in range(3))
    assert ratio < 4.0, f"a 4x larger photo took {ratio:.1f}x as long (16x the pixels)"


def _timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def test_regions_of_a_portrait() -> None:
    r = describe_regions(photo("astronaut"), facts("astronaut"))
    assert r.subject == "the person"
    assert r.subject_box == tuple(facts("astronaut").faces[0])
    assert r.subject_side == "center" and r.subject_level == "top"
    assert r.subject_color == "orange"  # the suit below the face, not the skin


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_regions_of_object_photos(name: str) -> None:
    img = photo(name)
    r = describe_regions(img, facts(name))
    assert r.subject == "the main subject"
    assert r.subject_side == "center"  # the cup, the cat and the rocket all stand mid-frame
    x, y, w, h = r.subject_box
    assert 0 <= x < img.shape[1] and 0 <= y < img.shape[0] and w > 0 and h > 0
    assert r.calm_band in ("top", "bottom") and 0.0 <= r.calm_band_brightness <= 1.0
    assert r.bright_area in ("upper", "lower", "left", "right")
    assert {r.subject_color, r.background_color} <= set(COLOR_NAMES)
