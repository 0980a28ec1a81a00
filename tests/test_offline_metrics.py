"""The offline judge's measurements on inputs whose answer is known."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest
from skimage import data

from editforge.models.offline.judge import metrics as m


@cache
def chelsea() -> np.ndarray:
    return m.as_rgb(cv2.resize(data.chelsea(), (256, 171), interpolation=cv2.INTER_AREA)).image


def grey_of(img: np.ndarray) -> np.ndarray:
    return m.gray(img)


def ramp_image(h: int = 128, w: int = 256) -> np.ndarray:
    """A smooth left-to-right gradient over 60 levels: every level present, no texture."""
    return np.tile(np.linspace(90, 150, w, dtype=np.float32), (h, 1))


# ---------------------------------------------------------------- conversion


def test_uint8_differences_do_not_wrap_around() -> None:
    a, b = np.full((4, 4), 3, np.uint8), np.full((4, 4), 5, np.uint8)
    assert int((a - b)[0, 0]) == 254  # the trap
    assert m.mean_abs_diff(a, b) == 2.0


@pytest.mark.parametrize(
    ("array", "problem"),
    [
        (np.zeros((16, 16), np.uint8), "1-channel"),
        (np.zeros((16, 16, 4), np.uint8), "RGBA"),
        (np.ones((16, 16, 3), np.float32), "float32"),
        (np.full((16, 16, 3), 1000, np.uint16), "uint16"),
    ],
)
def test_off_contract_arrays_are_converted_and_flagged(array: np.ndarray, problem: str) -> None:
    conv = m.as_rgb(array)
    assert conv.image is not None and conv.image.shape == (16, 16, 3) and conv.image.dtype == np.float32
    assert conv.image.min() >= 0 and conv.image.max() <= 255
    assert any(problem in p for p in conv.problems)


def test_float_in_unit_range_is_scaled_to_levels() -> None:
    assert m.as_rgb(np.ones((16, 16, 3), np.float32)).image.max() == 255  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((4, 4, 3), np.uint8),
        np.full((16, 16, 3), np.nan, np.float32),
        np.zeros((16, 16, 7)),
        "x",
        None,
    ],
)
def test_unmeasurable_arrays_are_refused(array: object) -> None:
    conv = m.as_rgb(array)
    assert conv.image is None and conv.problems


def test_clean_rgb_has_no_problems() -> None:
    conv = m.as_rgb(np.zeros((16, 16, 3), np.uint8))
    assert conv.image is not None and conv.problems == []


# ---------------------------------------------------------------- technical


def test_clipping_fraction_counts_channel_values_at_the_ends() -> None:
    img = np.full((10, 10, 3), 128, np.float32)
    assert m.clipping_fraction(img) == 0
    img[:5, :, 0] = 255  # half the red values blown
    assert m.clipping_fraction(img) == pytest.approx(0.5 / 3)
    img[5:] = 0  # the other half crushed black in all channels
    assert m.clipping_fraction(img) == pytest.approx(0.5 / 3 + 0.5)


def test_laplacian_variance_and_sharpness_fall_with_blur_not_with_contrast() -> None:
    g = grey_of(chelsea())
    blurred = cv2.GaussianBlur(g, (0, 0), 2.0)
    assert m.laplacian_variance(np.full((32, 32), 80, np.float32)) == 0
    assert m.laplacian_variance(blurred) < 0.1 * m.laplacian_variance(g)
    assert m.sharpness(blurred) < 0.1 * m.sharpness(g)
    assert m.sharpness(0.5 * g + 60) == pytest.approx(m.sharpness(g), rel=1e-3)


def test_blockiness_finds_8x8_blocks() -> None:
    g = grey_of(chelsea())
    assert m.blockiness(g) == pytest.approx(1.0, abs=0.15)
    mosaic = cv2.resize(cv2.resize(g, (32, 21), interpolation=cv2.INTER_AREA), (256, 168),
                        interpolation=cv2.INTER_NEAREST)  # fmt: skip
    assert m.blockiness(mosaic) > 3
    ok, jpeg = cv2.imencode(".jpg", np.clip(g, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 5])
    assert ok
    assert m.blockiness(cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE).astype(np.float32)) > m.blockiness(g) + 0.2


def test_noise_sigma_reads_added_gaussian_noise() -> None:
    flat = np.full((128, 128), 120, np.float32)
    noisy = flat + np.random.default_rng(0).normal(0, 10, flat.shape).astype(np.float32)
    assert m.noise_sigma(flat) == 0
    assert m.noise_sigma(noisy) == pytest.approx(10, rel=0.2)


def test_banding_sees_posterised_gradients_not_blur() -> None:
    g = ramp_image()
    posterised = np.round(g / 15) * 15
    assert m.banding(g, posterised) > 0.7
    assert m.banding(g, cv2.GaussianBlur(g, (0, 0), 2)) < 0.2


# ---------------------------------------------------------------- structure


def test_ssim_known_cases() -> None:
    g = grey_of(chelsea())
    noise = np.random.default_rng(1).uniform(0, 255, g.shape).astype(np.float32)
    assert m.ssim(g, g) == pytest.approx(1.0)
    assert m.ssim(g, noise) < 0.1
    assert m.ssim(g, cv2.GaussianBlur(g, (0, 0), 1.5)) < m.ssim(g, cv2.GaussianBlur(g, (0, 0), 0.7))


def test_structure_ssim_ignores_brightness_and_contrast_changes() -> None:
    g = grey_of(chelsea())
    dimmed = 0.4 * g + 100
    assert m.ssim(g, dimmed) < 0.85
    assert m.structure_ssim(g, dimmed) > 0.99
    other = grey_of(m.as_rgb(cv2.resize(data.coffee(), (256, 171), interpolation=cv2.INTER_AREA)).image)
    assert m.structure_ssim(g, other) < 0.3


def test_linear_residual_separates_filters_from_repainting() -> None:
    g = grey_of(chelsea())
    assert m.linear_residual(g, cv2.GaussianBlur(g, (0, 0), 1.2)) < 1.5
    assert m.linear_residual(g, 1.3 * g - 20) < 0.5
    assert m.linear_residual(g, np.round(g / 40) * 40) > 8


def test_added_texture_tells_grain_streaks_and_sharpening_apart() -> None:
    g = grey_of(chelsea())
    rng = np.random.default_rng(2)
    grain = m.added_texture(g, g + rng.normal(0, 10, g.shape).astype(np.float32))
    streaks = np.zeros_like(g)
    for _ in range(300):
        x, y = int(rng.integers(0, g.shape[1])), int(rng.integers(0, g.shape[0]))
        cv2.line(streaks, (x, y), (x + 3, y + 14), 120.0, 1)
    rain = m.added_texture(g, g + streaks)
    sharp = m.added_texture(g, g + 1.5 * (g - cv2.GaussianBlur(g, (0, 0), 1.5)))
    assert grain.energy > 5 and grain.coherence < 0.1 and grain.source_tie < 0.2
    assert rain.coherence > 0.5
    assert sharp.source_tie > 0.4


def test_speckle_fraction_counts_flakes_not_sharpening() -> None:
    g = grey_of(chelsea())
    flakes = g.copy()
    rng = np.random.default_rng(3)
    for _ in range(250):
        cv2.circle(flakes, (int(rng.integers(0, 256)), int(rng.integers(0, 171))), 1, 250.0, -1)
    sharp = np.clip(g + 1.5 * (g - cv2.GaussianBlur(g, (0, 0), 1.5)), 0, 255)
    assert m.speckle_fraction(g, flakes) > 0.01
    assert m.speckle_fraction(g, sharp) < 0.003


def test_half_applied_finds_an_edit_that_stops_at_a_line() -> None:
    src = chelsea()
    warm = np.clip(src * np.array([1.2, 1.03, 0.8], np.float32), 0, 255)
    half = src.copy()
    half[:, 128:] = warm[:, 128:]
    assert m.half_applied(src, half) > 0.95
    assert m.half_applied(src, warm) < 0.8
    assert m.half_applied(src, src) == 0


# ---------------------------------------------------------------- colour and tone


def test_tint_shift_follows_the_direction_and_ignores_desaturation() -> None:
    src = np.zeros((64, 128, 3), np.float32)
    src[:, :64] = np.linspace(60, 200, 64, dtype=np.float32)[None, :, None]  # greys
    src[:, 64:] = (220, 120, 40)  # orange
    warm = np.clip(src * np.array([1.15, 1.03, 0.85], np.float32), 0, 255)
    cool = np.clip(src * np.array([0.85, 1.0, 1.15], np.float32), 0, 255)
    drained = np.repeat(m.gray(src)[..., None], 3, axis=2)
    assert m.tint_shift(src, warm)[0] > 15 and m.tint_shift(src, warm)[1] > 15
    assert m.tint_shift(src, cool)[0] < -15
    whole, neutral = m.tint_shift(src, drained)
    assert whole < -10 and abs(neutral) < 1  # the greys did not move: no tint, only less colour


def test_lab_and_colour_measures_on_grey() -> None:
    grey = np.repeat(m.gray(chelsea())[..., None], 3, axis=2)
    assert m.lab_means(grey)["C"] < 1
    assert m.chroma(grey) < 1e-3
    assert m.colour_residual(grey) < 1e-3 < m.colour_residual(chelsea())
    assert m.warmth_index(chelsea()) > 0  # a ginger cat


def test_dark_channel_and_vignette_respond_to_haze_and_dark_corners() -> None:
    src = chelsea()
    hazy = src * 0.5 + 110
    assert m.dark_channel(hazy) > m.dark_channel(src) + 30
    h, w = src.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    falloff = 1 - 0.6 * (np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2)) / np.sqrt(2)) ** 2
    g = m.gray(src)
    assert m.vignette(g * falloff) < m.vignette(g) - 0.2
