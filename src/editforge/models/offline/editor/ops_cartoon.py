"""Photo to cartoon, pencil sketch and comic: flattened colour, ink lines, graphite, halftone."""

from __future__ import annotations

import cv2
import numpy as np

from editforge.models.offline.editor.ops_common import (
    Details,
    Draw,
    amount_of,
    blur,
    clip01,
    contrast,
    from_hsv,
    gray3,
    ink_lines,
    luminance,
    mix,
    saturate,
    smooth_noise,
    to_hsv,
)
from editforge.models.offline.editor.ops_strokes import back_to, brush_unit, directional_blur, working_copy

WORK_SIDE = 900



def _smooth(img: np.ndarray, passes: int, u: float) -> np.ndarray:
    """Iterated bilateral filtering: flat colour areas, edges kept."""
    out = (clip01(img) * 255.0).astype(np.uint8)
    d = max(3, round(5 * u))
    for _ in range(passes):
        out = cv2.bilateralFilter(out, d, 30, 5 * u)
    return out.astype(np.float32) / 255.0


def cel_bands(img: np.ndarray, levels: int, hue_step: float = 15.0) -> np.ndarray:
    """Cel shading: banded value and saturation with the hue kept (banding R, G and B separately,
    or a small global palette, shifts hues: a tan cat goes pink, a small blue flag goes brown)."""
    hsv = to_hsv(img)
    hsv[..., 0] = np.round(hsv[..., 0] / hue_step) * hue_step
    hsv[..., 1] = np.round(hsv[..., 1] * 3.0) / 3.0
    hsv[..., 2] = (np.round(hsv[..., 2] * (levels - 1)) + 0.35) / (levels - 0.65)
    return from_hsv(hsv)


def _thick(ink: np.ndarray, px: int) -> np.ndarray:
    if px <= 1:
        return ink
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (px, px))
    return cv2.dilate(ink, kernel)


def _cartoon(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    u = brush_unit(img)
    levels = int(draw.rng.integers(5, 8))
    flat = cel_bands(saturate(_smooth(img, 3 if s <= 1.2 else 6, u), 1.0 + 0.25 * min(s, 2.0)), levels)
    ink = _thick(ink_lines(luminance(img), 1.2 * u, phi=90.0, eps=-0.012), max(1, round(1.2 * u * s)))
    return clip01(flat * (1.0 - 0.9 * ink)[..., None]), {"tone_levels": levels}


def _pencil(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    u = brush_unit(img)
    h, w = img.shape[:2]
    gray = contrast(luminance(img), 1.1)
    # Colour dodge of the grey over its blurred negative: the classic graphite-on-paper look.
    blurred_neg = blur(1.0 - gray, 6.0 * u)
    sketch = np.clip(gray / np.maximum(1.0 - blurred_neg, 1e-3), 0.0, 1.0)
    sketch = np.power(sketch, 1.0 + 0.8 * max(s - 1.0, 0.0) + 0.6)
    # Hatching in the shadows: diagonal graphite strokes, denser where it is darker.
    noise = draw.rng.standard_normal((h, w), dtype=np.float32)
    angle = np.full((h, w), np.deg2rad(draw.uniform(30.0, 60.0)), np.float32)
    hatch = directional_blur(noise, angle, max(5, round(9 * u)), bins=1)
    hatch = np.clip(hatch / max(float(hatch.std()), 1e-6), -2.0, 2.0)
    dark = np.clip((0.55 - blur(gray, 2.0 * u)) / 0.55, 0.0, 1.0)
    sketch = clip01(sketch - 0.12 * min(s, 2.5) * dark * (0.6 + 0.4 * hatch))
    paper = 1.0 - 0.03 * smooth_noise(draw.rng, (h, w), 3.0 * u)
    return gray3(clip01(sketch * paper)), {"hatch_angle_deg": round(float(np.rad2deg(angle[0, 0])), 1)}


def _halftone(shape: tuple[int, ...], period: float, darkness: np.ndarray) -> np.ndarray:
    """1 inside halftone dots (on a 45-degree screen), sized by `darkness`, else 0."""
    h, w = shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b = (x + y) / np.sqrt(2.0), (x - y) / np.sqrt(2.0)
    pattern = 0.25 * (np.cos(2 * np.pi * a / period) + np.cos(2 * np.pi * b / period)) + 0.5
    return (pattern > 1.0 - 0.7 * darkness).astype(np.float32)


def _comic(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    u = brush_unit(img)
    smooth = saturate(_smooth(img, 2, u), 1.0 + 0.6 * min(s, 2.0))
    levels = int(draw.rng.integers(4, 6))
    poster = mix(cel_bands(smooth, levels), smooth, 0.15)
    lum = luminance(smooth)
    darkness = np.clip((0.75 - lum) / 0.6, 0.0, 1.0) * np.clip(lum / 0.15, 0.0, 1.0)
    period = max(3.0, 5.0 * u)
    dots = _halftone(img.shape, period, darkness)
    poster = clip01(poster * (1.0 - 0.35 * dots)[..., None])
    ink = _thick(ink_lines(lum, 1.4 * u, phi=120.0, eps=-0.01), max(2, round(2.2 * u * s)))
    return clip01(poster * (1.0 - ink)[..., None]), {"levels": levels, "dot_period_px": round(period, 1)}


_STYLES = {"cartoon": _cartoon, "pencil_sketch": _pencil, "comic": _comic}


def photo_to_cartoon(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    work, _ = working_copy(img, WORK_SIDE)
    drawn, details = _STYLES.get(params.get("style", "cartoon"), _cartoon)(work, draw, s)
    return mix(img, back_to(drawn, img.shape), amount_of(s)), details
