"""Painterly style transfer without a network: oil painting, watercolour, van Gogh, impressionist.

Each style is painted on a working copy of at most 800 px (brush work costs per pixel), brought
back to the photo's size, then blended over it by min(strength, 1): a weak draw is a photo with a
hint of texture; an over-strong one paints with brushes so big the subject dissolves.
"""

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
    luminance,
    mix,
    saturate,
    smooth_noise,
)
from editforge.models.offline.editor.ops_strokes import (
    back_to,
    brush_unit,
    directional_blur,
    kuwahara,
    lic,
    relief,
    stroke_texture,
    tangent_angle,
    working_copy,
)

WORK_SIDE = 800



def _oil(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    u = brush_unit(img)
    radius = max(2, round(draw.uniform(3.0, 5.0) * u * max(s, 0.5)))
    paint = kuwahara(img, radius)
    paint = contrast(saturate(paint, 1.0 + 0.25 * min(s, 2.0)), 1.06)
    angle, _ = tangent_angle(img, 3.0 * u)
    strokes = stroke_texture(draw.rng, angle, max(5, round(12 * u * max(s, 0.5))), 0.8 * u)
    paint = clip01(paint * (1.0 + 0.04 * strokes)[..., None])
    paint = clip01(paint * relief(strokes, 0.2)[..., None])
    return paint, {"brush_radius_px": radius}


def _watercolor(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    u = brush_unit(img)
    h, w = img.shape[:2]
    u8 = (clip01(img) * 255.0).astype(np.uint8)
    wash = cv2.edgePreservingFilter(u8, flags=cv2.RECURS_FILTER, sigma_s=40.0 * u, sigma_r=0.35)
    wash = wash.astype(np.float32) / 255.0
    wash = kuwahara(wash, max(1, round(2 * u * max(s, 0.5))))
    # Colours bleed further than the drawing: blur the chroma, keep the tones.
    lum = luminance(wash)[..., None]
    wash = clip01(lum + blur(wash - lum, 2.5 * u * max(s, 0.5)))
    # Pigment pools at the edges of each wash (dark rims), and is uneven across the paper.
    edge = np.abs(luminance(wash) - luminance(blur(wash, 2.0 * u)))
    wash = clip01(wash * (1.0 - np.clip(3.0 * edge, 0.0, 0.35))[..., None])
    density = smooth_noise(draw.rng, (h, w), 30.0 * u) - 0.5
    wash = clip01(1.0 - (1.0 - wash) * (0.78 + 0.25 * density)[..., None])  # transparent, lighter
    paper = 1.0 + 0.04 * blur(draw.rng.standard_normal((h, w), dtype=np.float32), 0.7 * u)
    return clip01(wash * paper[..., None]), {}


def _van_gogh(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    u = brush_unit(img)
    h, w = img.shape[:2]
    tangent, coherence = tangent_angle(img, 4.0 * u)
    # Flat areas (sky, walls) swirl along the contours of a slow noise field; edges keep their
    # own direction, so the subject stays readable inside the swirls.
    field = smooth_noise(draw.rng, (h, w), draw.uniform(60.0, 110.0) * u)
    fx = cv2.Sobel(field, cv2.CV_32F, 1, 0, ksize=3)
    fy = cv2.Sobel(field, cv2.CV_32F, 0, 1, ksize=3)
    swirl = np.arctan2(fy, fx) + np.pi / 2.0
    weight = np.clip(coherence * 1.6, 0.0, 1.0)
    angle = (
        np.arctan2(
            weight * np.sin(2 * tangent) + (1 - weight) * np.sin(2 * swirl),
            weight * np.cos(2 * tangent) + (1 - weight) * np.cos(2 * swirl),
        )
        / 2.0
    )
    base = kuwahara(img, max(2, round(2.5 * u)))
    noise = blur(draw.rng.standard_normal((h, w), dtype=np.float32), 0.9 * u)
    textured = clip01(base * (1.0 + 0.22 * noise)[..., None])
    painted = lic(textured, angle.astype(np.float32), steps=max(4, round(5 * u * max(s, 0.5))), step_px=u)
    painted = saturate(contrast(painted, 1.15), 1.0 + 0.45 * min(s, 2.0))
    # Starry-night palette: shadows to ultramarine, lights to chrome yellow.
    lum = luminance(painted)[..., None]
    push = (1.0 - lum) * np.array([-0.04, 0.0, 0.08], np.float32) + lum * np.array([0.05, 0.03, -0.06])
    painted = clip01(painted + push * min(s, 2.0))
    ridges = directional_blur(noise, angle.astype(np.float32), max(5, round(10 * u)))
    return clip01(painted * relief(ridges * 3.0, 0.3)[..., None]), {}


def _impressionist(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    u = brush_unit(img)
    h, w = img.shape[:2]
    base = kuwahara(blur(img, 0.8 * u), max(2, round(3 * u * max(s, 0.5))))
    # Broken colour: every dab gets its own small shift of hue and value.
    cell = max(2.0, 4.0 * u * max(s, 0.5))
    gh, gw = max(2, int(h / cell)), max(2, int(w / cell))
    jitter = draw.rng.normal(0.0, 1.0, (gh, gw, 3)).astype(np.float32)
    jitter = cv2.resize(jitter, (w, h), interpolation=cv2.INTER_NEAREST)
    dab_angle = np.full((h, w), draw.uniform(0.0, np.pi), np.float32)
    dab_angle += (smooth_noise(draw.rng, (h, w), 40.0 * u) - 0.5) * 2.0
    jitter = directional_blur(jitter, dab_angle, max(3, round(3 * cell)), bins=6)
    paint = clip01(base * (1.0 + 0.1 * jitter))
    paint = saturate(clip01(np.power(np.clip(paint, 1e-6, 1.0), 0.85)), 1.0 + 0.3 * min(s, 2.0))
    strokes = stroke_texture(draw.rng, dab_angle, max(3, round(6 * u)), 0.6 * u)
    return clip01(paint * relief(strokes, 0.25)[..., None]), {"dab_px": round(cell, 1)}


_STYLES = {
    "oil_painting": _oil,
    "watercolor": _watercolor,
    "van_gogh": _van_gogh,
    "impressionist": _impressionist,
}


def style_transfer(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    work, _ = working_copy(img, WORK_SIDE)
    painter = _STYLES.get(params.get("style", "oil_painting"), _oil)
    painted, details = painter(work, draw, s)
    return mix(img, back_to(painted, img.shape), amount_of(s)), details
