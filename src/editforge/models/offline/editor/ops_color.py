"""Colour tone and global lighting: per-pixel grading, the edits classical processing does best."""

from __future__ import annotations

import numpy as np

from editforge.models.offline.editor.ops_common import (
    Details,
    Draw,
    blur,
    clip01,
    contrast,
    gains,
    luminance,
    saturate,
    screen,
)


def color_tone(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    """Warm = more red/amber, less blue; cool = the reverse, with a touch of cyan."""
    s = draw.strength
    if params.get("direction") == "cool":
        out = gains(img, 1.0 - 0.15 * s, 1.0 + 0.01 * s, 1.0 + 0.16 * s)
        # Shadows go slightly teal rather than just dark blue: how a cool grade usually reads.
        out = clip01(out + np.array([-0.01, 0.01, 0.03], np.float32) * s * (1.0 - out))
    else:
        out = gains(img, 1.0 + 0.15 * s, 1.0 + 0.03 * s, 1.0 - 0.16 * s)
        out = clip01(out + np.array([0.03, 0.01, -0.01], np.float32) * s * (1.0 - out))
    return out, {}


def _exposure(img: np.ndarray, stops: float) -> np.ndarray:
    """Brighten (stops > 0) or darken with a gamma curve, so highlights roll off instead of clipping."""
    gamma = float(2.0 ** (-stops))
    return clip01(np.power(np.clip(img, 1e-6, 1.0), gamma))


def _sun_map(shape: tuple[int, ...], draw: Draw) -> tuple[np.ndarray, str]:
    """A low sun's light falling across the frame from one upper side: (H, W) in [0, 1]."""
    h, w = shape[:2]
    side = "left" if draw.rng.random() < 0.5 else "right"
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    sx = 0.0 if side == "left" else 1.0
    sy = draw.uniform(0.0, 0.35)
    d = np.sqrt((x - sx) ** 2 + (y - sy) ** 2) / np.sqrt(2.0)
    return np.clip(1.0 - d, 0.0, 1.0) ** 1.5, side


def _golden_hour(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    out = gains(img, 1.0 + 0.16 * s, 1.0 + 0.04 * s, 1.0 - 0.24 * s)
    sun, side = _sun_map(img.shape, draw)
    light = 1.0 + 0.3 * s * sun
    out = clip01(out * light[..., None])
    # Low sun glow: bright areas bloom into a soft amber haze.
    highlights = np.clip(luminance(out) - 0.55, 0.0, 1.0)[..., None] * np.array([1.0, 0.62, 0.25], np.float32)
    glow = blur(highlights, max(2.0, min(img.shape[:2]) / 40.0))
    out = screen(out, clip01(glow * 0.9 * s))
    out = saturate(out, 1.0 + 0.15 * s)
    return out, {"sun_side": side}


def _blue_hour(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    out = _exposure(img, -0.8 * s)
    out = saturate(out, 1.0 - 0.3 * s)
    out = gains(out, 1.0 - 0.25 * s, 1.0 - 0.08 * s, 1.0 + 0.22 * s)
    # Twilight lifts the shadows into deep blue instead of black.
    out = clip01(out + np.array([0.0, 0.01, 0.05], np.float32) * s * (1.0 - luminance(out))[..., None])
    return out, {}


def _fluorescent(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    h = img.shape[0]
    out = saturate(img, 1.0 - 0.2 * s)
    out = gains(out, 1.0 - 0.08 * s, 1.0 + 0.07 * s, 1.0 + 0.02 * s)
    out = contrast(out, 1.0 - 0.15 * s, pivot=0.55)
    # Overhead tubes: the top of the frame is lit a little more than the bottom.
    falloff = np.linspace(1.0 + 0.12 * s, 1.0 - 0.02 * s, h, dtype=np.float32)[:, None, None]
    out = clip01(_exposure(out, 0.2 * s) * falloff)
    return out, {}


def _brighter(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    return clip01(_exposure(img, 0.75 * s) * (1.0 + 0.04 * s)), {}


def _darker(img: np.ndarray, draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    return clip01(_exposure(img, -0.75 * s) * (1.0 - 0.1 * min(s, 2.5))), {}


_MOODS = {
    "golden_hour": _golden_hour,
    "blue_hour": _blue_hour,
    "fluorescent": _fluorescent,
    "brighter": _brighter,
    "darker": _darker,
}


def global_lighting(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    mood = params.get("mood", "golden_hour")
    return _MOODS.get(mood, _golden_hour)(img, draw)
