"""The classical editor's looks: each colour, light, weather, season and style edit goes the asked way."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from offline_editor_support import (
    coarse_corr,
    edit,
    f32,
    fine_detail,
    greenery,
    lum,
    mean_abs_diff,
    photo,
    saturation,
    warmth,
)


def test_warm_and_cool_move_red_minus_blue() -> None:
    src = photo("chelsea")
    assert warmth(edit(src, "make it warmer")[0]) > warmth(src) + 0.05
    assert warmth(edit(src, "make it cooler")[0]) < warmth(src) - 0.05


def test_global_lighting_moods() -> None:
    src = photo("astronaut")
    base = float(lum(src).mean())
    assert float(lum(edit(src, "make it brighter")[0]).mean()) > base + 0.06
    assert float(lum(edit(src, "make it darker")[0]).mean()) < base - 0.06
    golden = edit(src, "give it a golden hour glow")[0]
    assert warmth(golden) > warmth(src) + 0.05
    blue = edit(src, "give it a blue hour look")[0]
    assert warmth(blue) < warmth(src) - 0.05 and float(lum(blue).mean()) < base - 0.05
    fluo = f32(edit(src, "add fluorescent office lighting")[0])
    g_minus_r = float((fluo[..., 1] - fluo[..., 0]).mean())
    assert g_minus_r > float((f32(src)[..., 1] - f32(src)[..., 0]).mean()) + 0.03


def test_film_grain_and_vintage() -> None:
    src = photo("coffee")
    grainy = edit(src, "add some film grain")[0]
    assert fine_detail(grainy) > 1.4 * fine_detail(src)
    assert coarse_corr(grainy, src) > 0.95  # grain, not a different picture
    vintage = edit(src, "make it look vintage")[0]
    assert saturation(vintage) < 0.85 * saturation(src) and coarse_corr(vintage, src) > 0.85


def test_rain_adds_near_vertical_streaks() -> None:
    src = photo("astronaut")
    out = edit(src, "make it rain")[0]
    d = lum(out) - lum(src)
    across = float(np.abs(np.diff(d, axis=1)).mean())  # streaks change fast across x...
    along = float(np.abs(np.diff(d, axis=0)).mean())  # ...and slowly down them
    assert across > 1.5 * along
    assert saturation(out) < saturation(src)


def test_snow_adds_bright_flakes() -> None:
    src = photo("coffee")
    out = edit(src, "make it snow")[0]
    flakes = (lum(out) - lum(src)) > 0.2
    assert 0.003 < float(flakes.mean()) < 0.3


def test_fog_lowers_contrast_toward_pale_grey() -> None:
    src = photo("coffee")
    out = edit(src, "make it foggy")[0]
    assert float(lum(out).std()) < 0.75 * float(lum(src).std())
    assert float(lum(out).mean()) > float(lum(src).mean())


def test_sunny_is_brighter_and_more_colourful() -> None:
    src = photo("chelsea")
    out = edit(src, "make it sunny")[0]
    assert float(lum(out).mean()) > float(lum(src).mean()) + 0.03 and saturation(out) > saturation(src)


def test_winter_whitens_and_chills() -> None:
    src = photo("chelsea")
    out = edit(src, "turn it into winter")[0]
    assert saturation(out) < 0.8 * saturation(src) and warmth(out) < warmth(src) - 0.03
    snowy = lambda img: float(((lum(img) > 0.8) & (f32(img).max(2) - f32(img).min(2) < 0.15)).mean())  # noqa: E731
    assert snowy(out) > snowy(src) + 0.03


def _green_share(img: np.ndarray) -> float:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # hue 0..180
    return float(((hsv[..., 0] > 35) & (hsv[..., 0] < 85) & (hsv[..., 1] > 50)).mean())


def test_autumn_turns_greens_orange() -> None:
    src = greenery()
    out = edit(src, "make it look like autumn")[0]
    assert _green_share(src) > 0.3
    assert _green_share(out) < 0.5 * _green_share(src) and warmth(out) > warmth(src) + 0.1


def test_spring_and_summer_boost_colour() -> None:
    src = greenery()
    spring = edit(src, "make it look like spring")[0]
    assert saturation(spring) > saturation(src) and float(lum(spring).mean()) > float(lum(src).mean())
    summer = edit(photo("chelsea"), "give it a summer feel")[0]
    assert saturation(summer) > 1.1 * saturation(photo("chelsea"))


@pytest.mark.parametrize(
    "instruction",
    [
        "make it look like an oil painting",
        "make it look like a watercolor",
        "paint it like van gogh",
        "turn it into an impressionist painting",
    ],
)
def test_painterly_styles_repaint_the_same_picture(instruction: str) -> None:
    src = photo("chelsea", 256)
    out = edit(src, instruction)[0]
    assert mean_abs_diff(out, src) > 0.04  # clearly repainted...
    assert coarse_corr(out, src) > 0.8  # ...but still the same scene


def test_pencil_sketch_is_grey_with_lines_on_paper() -> None:
    src = photo("astronaut")
    out = f32(edit(src, "turn it into a pencil sketch")[0])
    assert float((out.max(2) - out.min(2)).mean()) < 0.02  # near grey
    y = out.mean(2)
    assert float(y.mean()) > 0.55  # mostly paper
    edges = np.abs(cv2.Sobel(y, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(y, cv2.CV_32F, 0, 1))
    assert float(edges.mean()) > 0.15


def _top_colour_share(img: np.ndarray, k: int) -> float:
    codes = (img[..., 0].astype(np.int64) << 16) | (img[..., 1].astype(np.int64) << 8) | img[..., 2]
    _, counts = np.unique(codes, return_counts=True)
    return float(np.sort(counts)[::-1][:k].sum() / codes.size)


def test_cartoon_and_comic_flatten_colour_and_ink_edges() -> None:
    src = photo("chelsea")
    cartoon = edit(src, "cartoonify it")[0]
    assert _top_colour_share(cartoon, 16) > 0.4 > _top_colour_share(src, 16)
    comic = edit(src, "make it a comic")[0]
    assert saturation(comic) > saturation(src) and coarse_corr(comic, src) > 0.7
    assert float((lum(comic) < 0.15).mean()) > float((lum(src) < 0.15).mean()) + 0.02  # bold ink
    # Halftone: a fine periodic dot screen shows up as extra fine detail in the midtones.
    assert fine_detail(comic) > 1.5 * fine_detail(src)


def test_historical_eras() -> None:
    src = photo("astronaut")
    victorian = f32(edit(src, "make it look victorian")[0])
    r, g, b = victorian[..., 0], victorian[..., 1], victorian[..., 2]
    assert float(((r >= g - 0.01) & (g >= b - 0.01)).mean()) > 0.9  # sepia-toned throughout
    twenties = f32(edit(src, "make it look like a 1920s photo")[0])
    assert float((twenties.max(2) - twenties.min(2)).mean()) < 0.02  # black and white
    for era in ("the 1950s", "the 1970s"):
        out = edit(src, f"make it look like {era}")[0]
        assert mean_abs_diff(out, src) > 0.04 and coarse_corr(out, src) > 0.85
