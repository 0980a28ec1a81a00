"""Seasonal looks, as far as honest colour work goes: winter whitens and chills, autumn turns the
greens to orange and red, spring freshens the greens, summer saturates and warms.

Foliage is found by hue (greens, 60-170 degrees) with enough saturation to be a plant rather than
a grey wall; the hue it turns to in autumn varies across the frame (low-frequency noise) so trees
come out mottled orange, red and gold instead of one flat cast.
"""

from __future__ import annotations

import numpy as np

from editforge.models.offline.editor.ops_common import (
    Details,
    Draw,
    blur,
    clip01,
    contrast,
    from_hsv,
    gains,
    hue_weight,
    luminance,
    mix,
    saturate,
    scale_of,
    screen,
    smooth_noise,
    to_hsv,
)
from editforge.models.offline.editor.ops_weather import flakes


def foliage_mask(hsv: np.ndarray) -> np.ndarray:
    """How much each pixel looks like green vegetation, (H, W) in [0, 1]."""
    green = hue_weight(hsv[..., 0], 105.0, 60.0)
    chroma = np.clip((hsv[..., 1] - 0.12) / 0.2, 0.0, 1.0)
    lit = np.clip((hsv[..., 2] - 0.08) / 0.15, 0.0, 1.0)
    return (np.clip(green * 1.5, 0.0, 1.0) * chroma * lit).astype(np.float32)


def _winter(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s, sc = draw.strength, scale_of(img)
    h, w = img.shape[:2]
    hsv = to_hsv(img)
    lum = luminance(img)
    out = saturate(img, max(0.0, 1.0 - 0.5 * s))
    out = gains(out, 1.0 - 0.08 * s, 1.0 - 0.01 * s, 1.0 + 0.1 * s)
    # Snow settles on what is bright, on foliage and toward the top of things.
    upper = np.linspace(1.0, 0.55, h, dtype=np.float32)[:, None]
    # "Bright" is relative to the photo, so a dim scene still gets its snow on its lightest parts.
    lo, hi = np.percentile(lum, (50.0, 90.0))
    bright = np.clip((lum - lo) / max(float(hi - lo), 0.05), 0.0, 1.0)
    settle = np.maximum(bright, 0.85 * foliage_mask(hsv)) * upper
    settle = blur(settle, 1.2 * sc) * (0.75 + 0.5 * smooth_noise(draw.rng, (h, w), 24.0 * sc))
    snow = np.array([0.93, 0.95, 0.99], np.float32) * (0.9 + 0.1 * lum[..., None])
    out = mix(out, snow, np.clip(0.95 * s * settle, 0.0, 1.0))
    # Frost creeping in from the frame: fine crystals dense at the borders.
    y = np.abs(np.linspace(-1.0, 1.0, h, dtype=np.float32))[:, None]
    x = np.abs(np.linspace(-1.0, 1.0, w, dtype=np.float32))[None, :]
    border = np.clip((np.maximum(x, y) - 0.7) / 0.3, 0.0, 1.0) ** 1.5
    crystals = flakes(draw, img.shape, 0.03, 0.6 * sc) * 0.6 + 0.4
    out = screen(out, (border * crystals * min(0.8, 0.45 * s))[..., None] * np.array([0.9, 0.95, 1.0]))
    out = screen(out, flakes(draw, img.shape, 0.0012 * s, 1.4 * sc)[..., None] * 0.7)
    return clip01(out), {"snow_cover": round(float((settle * s > 0.4).mean()), 3)}


def _autumn(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    hsv = to_hsv(img)
    leaf = foliage_mask(hsv) * min(1.0, s)
    # Each patch of foliage gets its own autumn hue, from deep red (5) to gold (45).
    target = 5.0 + 40.0 * smooth_noise(draw.rng, img.shape[:2], min(img.shape[:2]) / 6.0)
    hue = hsv[..., 0]
    delta = np.mod(target - hue + 180.0, 360.0) - 180.0
    hsv[..., 0] = hue + delta * leaf
    hsv[..., 1] = hsv[..., 1] * (1.0 + 0.35 * s * leaf)
    hsv[..., 2] = hsv[..., 2] * (1.0 + 0.08 * s * leaf)
    out = from_hsv(hsv)
    # The low autumn sun: a golden cast over everything, so leafless scenes still turn.
    out = gains(out, 1.0 + 0.1 * s, 1.0 + 0.01 * s, 1.0 - 0.12 * s)
    return saturate(out, 1.0 + 0.1 * s), {"foliage_fraction": round(float((leaf > 0.3).mean()), 3)}


def _spring(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    hsv = to_hsv(img)
    # Dull yellow-greens and browns of late winter move toward fresh green.
    dull = hue_weight(hsv[..., 0], 70.0, 18.0) * np.clip(hsv[..., 1] / 0.2, 0.0, 1.0)
    hsv[..., 0] = hsv[..., 0] + (95.0 - hsv[..., 0]) * dull * min(0.8, 0.6 * s)
    leaf = np.maximum(foliage_mask(hsv), dull)
    hsv[..., 1] = hsv[..., 1] * (1.0 + 0.45 * s * leaf)
    hsv[..., 2] = hsv[..., 2] * (1.0 + 0.12 * s * leaf)
    out = from_hsv(hsv)
    # Fresh and light: a touch of green in the air, livelier colour, an airy lift.
    out = saturate(gains(out, 1.0 - 0.015 * s, 1.0 + 0.04 * s, 1.0), 1.0 + 0.3 * s)
    out = clip01(np.power(np.clip(out, 1e-6, 1.0), 2.0 ** (-0.25 * s)))
    out = contrast(out, 1.0 - 0.06 * s, pivot=0.6)
    blossom = clip01((luminance(out) - 0.7)[..., None] * np.array([0.08, 0.0, 0.04], np.float32) * s)
    return clip01(out + blossom), {}


def _summer(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    hsv = to_hsv(img)
    leaf = foliage_mask(hsv)
    hsv[..., 0] = hsv[..., 0] + (110.0 - hsv[..., 0]) * leaf * 0.3 * min(s, 1.5)
    hsv[..., 1] = hsv[..., 1] * (1.0 + 0.3 * s + 0.3 * s * leaf)
    out = from_hsv(hsv)
    out = gains(out, 1.0 + 0.07 * s, 1.0 + 0.03 * s, 1.0 - 0.05 * s)
    out = contrast(clip01(np.power(np.clip(out, 1e-6, 1.0), 2.0 ** (-0.2 * s))), 1.0 + 0.1 * s)
    return out, {}


_SEASONS = {"winter": _winter, "autumn": _autumn, "spring": _spring, "summer": _summer}


def seasonal(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    return _SEASONS.get(params.get("season", "winter"), _winter)(img, draw)
