"""Weather: rain streaks, falling snow, fog, and a sunny grade with a bluer sky.

The precipitation layers are sparse random seeds smeared by blur kernels (filter2D, no pixel
loops), screened over a re-graded photo: rain and snow also dim, cool and flatten the light, which
is what makes an overlay read as weather rather than as noise.
"""

from __future__ import annotations

import cv2
import numpy as np

from editforge.models.offline.editor.ops_common import (
    Details,
    Draw,
    blur,
    clip01,
    contrast,
    gains,
    luminance,
    mix,
    motion_blur,
    saturate,
    scale_of,
    screen,
    smooth_noise,
    to_hsv,
)


def _seeds(draw: Draw, shape: tuple[int, ...], density: float) -> np.ndarray:
    h, w = shape[:2]
    return (draw.rng.random((h, w), dtype=np.float32) < density).astype(np.float32)


def _streaks(draw: Draw, shape: tuple[int, ...], density: float, length: int, angle: float) -> np.ndarray:
    """Rain streaks of about unit brightness: seed points smeared along the fall direction."""
    layer = motion_blur(_seeds(draw, shape, density), length, angle) * max(3, length)
    return np.clip(layer, 0.0, 1.0)


def flakes(draw: Draw, shape: tuple[int, ...], density: float, radius: float) -> np.ndarray:
    """Round soft snowflakes of about unit brightness and `radius` px."""
    sigma = max(0.5, radius)
    dots = blur(_seeds(draw, shape, density), sigma) * (2.0 * np.pi * sigma * sigma)
    return np.clip(dots, 0.0, 1.0)


def _rain(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s, sc = draw.strength, scale_of(img)
    h = img.shape[0]
    # Overcast light first: darker, greyer, bluer, flatter.
    base = saturate(img, max(0.0, 1.0 - 0.3 * s))
    base = contrast(gains(base, 1.0 - 0.16 * s, 1.0 - 0.12 * s, 1.0 - 0.04 * s), 1.0 - 0.12 * min(s, 2.0))
    angle = 90.0 + draw.uniform(-18.0, 18.0)
    far = _streaks(draw, img.shape, 0.004 * s, max(5, int(0.035 * h * draw.uniform(0.8, 1.2))), angle)
    near = _streaks(draw, img.shape, 0.0018 * s, max(7, int(0.08 * h * draw.uniform(0.8, 1.2))), angle)
    near = blur(near, 0.6 * sc)
    rain = np.clip(0.28 * far + 0.55 * near, 0.0, 1.0) * min(1.0, 0.6 + 0.4 * s)
    out = screen(base, rain[..., None] * np.array([0.85, 0.9, 1.0], np.float32))
    # A veil of spray toward the distance (the top of most photos).
    veil = np.linspace(0.08, 0.01, h, dtype=np.float32)[:, None] * min(s, 3.0)
    out = mix(out, np.full_like(out, 0.7), np.broadcast_to(veil, img.shape[:2]))
    return out, {"fall_angle_deg": round(angle, 1)}


def _snow(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s, sc = draw.strength, scale_of(img)
    base = saturate(img, max(0.0, 1.0 - 0.25 * s))
    base = gains(base, 1.0 - 0.05 * s, 1.0 - 0.01 * s, 1.0 + 0.05 * s)
    base = mix(base, np.full_like(base, 0.88), min(0.9, 0.12 * s))  # snowy haze
    small = flakes(draw, img.shape, 0.0035 * s, 0.9 * sc)
    large = flakes(draw, img.shape, 0.0005 * s, 2.6 * sc)
    angle = 90.0 + draw.uniform(-25.0, 25.0)
    small = motion_blur(small, max(3, int(4 * sc)), angle) * 1.6
    snow = np.clip(0.85 * small + large, 0.0, 1.0) * min(1.0, 0.7 + 0.3 * s)
    out = screen(base, snow[..., None] * np.array([0.96, 0.97, 1.0], np.float32))
    return out, {"drift_angle_deg": round(angle, 1)}


def _fog(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s, sc = draw.strength, scale_of(img)
    h, w = img.shape[:2]
    tint = draw.uniform(-0.02, 0.02)
    colour = np.array([0.8 + tint, 0.82 + tint, 0.85], np.float32)
    # Denser with distance (up the frame) and in drifting banks.
    depth = np.linspace(1.0, 0.6, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    banks = 0.7 + 0.6 * smooth_noise(draw.rng, (h, w), min(h, w) / 2.5)
    amount = np.clip(0.6 * s * depth * banks, 0.0, 0.97)
    soft = blur(img, 1.5 * sc * min(s, 3.0))
    return mix(soft, np.broadcast_to(colour, img.shape), amount), {"fog_colour": colour.round(3).tolist()}


def sky_mask(img: np.ndarray) -> np.ndarray:
    """Where sky probably is: blue-ish or pale and bright, high in the frame, and connected to the
    top edge (so a pale face or wall lower down does not turn blue)."""
    h, w = img.shape[:2]
    hsv = to_hsv(img)
    lum = luminance(img)
    bluish = ((hsv[..., 0] > 180) & (hsv[..., 0] < 250) & (hsv[..., 1] > 0.08)).astype(np.float32)
    pale = (hsv[..., 1] < 0.12).astype(np.float32)
    bright = np.clip((lum - 0.45) / 0.25, 0.0, 1.0)
    upper = np.clip(1.0 - np.linspace(0.0, 1.0, h, dtype=np.float32) / 0.65, 0.0, 1.0)[:, None]
    mask = np.maximum(bluish, pale) * bright * upper
    count, labels = cv2.connectedComponents((mask > 0.3).astype(np.uint8))
    if count > 1:
        touching = np.unique(labels[0][labels[0] > 0])
        mask = mask * np.isin(labels, touching).astype(np.float32)
    return blur(mask, max(1.0, min(h, w) / 100.0))


def _sunny(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    h, w = img.shape[:2]
    out = clip01(np.power(np.clip(img, 1e-6, 1.0), 2.0 ** (-0.4 * s)))
    out = contrast(saturate(out, 1.0 + 0.3 * s), 1.0 + 0.08 * s)
    out = gains(out, 1.0 + 0.05 * s, 1.0 + 0.02 * s, 1.0 - 0.03 * s)
    # Deep blue overhead fading to pale at the horizon; the pixels' own light keeps clouds white.
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    sky = (1.0 - y) * np.array([0.25, 0.5, 0.92], np.float32) + y * np.array([0.62, 0.78, 0.98], np.float32)
    cloud = np.clip((luminance(img) - 0.8) / 0.2, 0.0, 1.0)
    mask = sky_mask(img) * (1.0 - cloud) * min(1.0, 0.75 * s)
    out = mix(out, np.broadcast_to(sky, img.shape), mask)
    side = 0.0 if draw.rng.random() < 0.5 else 1.0
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    sun = np.clip(1.0 - np.sqrt((x - side) ** 2 + y[..., 0] ** 2) / 0.7, 0.0, 1.0) ** 2
    out = screen(out, (sun * 0.25 * min(s, 2.0))[..., None] * np.array([1.0, 0.92, 0.7], np.float32))
    return out, {"sky_fraction": round(float((mask > 0.2).mean()), 3)}


_CONDITIONS = {"rain": _rain, "snow": _snow, "fog": _fog, "sunny": _sunny}


def weather(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    return _CONDITIONS.get(params.get("condition", "rain"), _rain)(img, draw)
