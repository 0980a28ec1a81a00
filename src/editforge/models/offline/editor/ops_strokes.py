"""Brush machinery for the painterly styles: Kuwahara smoothing, stroke direction fields, brush
texture, and line-integral convolution (the swirl of van Gogh). All whole-array OpenCV calls.
"""

from __future__ import annotations

import cv2
import numpy as np

from editforge.models.offline.editor.ops_common import blur, line_kernel, luminance


def kuwahara(img: np.ndarray, radius: int) -> np.ndarray:
    """Kuwahara filter: each pixel takes the mean of its least-varied quadrant, which flattens
    texture into paint-like patches while keeping edges sharp (box filters, O(1) per pixel)."""
    r = max(1, int(radius))
    k = (r + 1, r + 1)
    gray = luminance(img)
    sq = gray * gray
    best_mean = np.zeros_like(img)
    best_var = np.full(gray.shape, np.inf, np.float32)
    for anchor in ((r, r), (0, r), (r, 0), (0, 0)):
        mean = cv2.boxFilter(img, -1, k, anchor=anchor, borderType=cv2.BORDER_REFLECT)
        m = cv2.boxFilter(gray, -1, k, anchor=anchor, borderType=cv2.BORDER_REFLECT)
        var = cv2.boxFilter(sq, -1, k, anchor=anchor, borderType=cv2.BORDER_REFLECT) - m * m
        better = var < best_var
        best_var = np.where(better, var, best_var)
        best_mean = np.where(better[..., None], mean, best_mean)
    return best_mean.astype(np.float32)


def tangent_angle(img: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Edge-tangent direction (radians) from the smoothed structure tensor, and its coherence
    in [0, 1] (1 = a clear edge or stripe, 0 = flat or isotropic texture)."""
    gray = luminance(img)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    jxx, jyy, jxy = blur(gx * gx, sigma), blur(gy * gy, sigma), blur(gx * gy, sigma)
    gradient = 0.5 * np.arctan2(2.0 * jxy, jxx - jyy)
    lam = np.sqrt((jxx - jyy) ** 2 + 4.0 * jxy * jxy)
    coherence = lam / (jxx + jyy + 1e-4)
    return (gradient + np.pi / 2.0).astype(np.float32), np.clip(coherence, 0.0, 1.0).astype(np.float32)


def directional_blur(layer: np.ndarray, angle: np.ndarray, length: int, bins: int = 8) -> np.ndarray:
    """Blur `layer` along a per-pixel direction: `bins` motion blurs, each pixel taking the one
    nearest its angle (a fast stand-in for a true flow-following blur)."""
    out = np.zeros_like(layer)
    a = np.mod(angle, np.pi)
    idx = np.floor(a / np.pi * bins + 0.5).astype(np.int32) % bins
    for b in range(bins):
        sel = idx == b
        if not sel.any():
            continue
        kernel = line_kernel(length, np.rad2deg(b * np.pi / bins))
        smeared = cv2.filter2D(layer, -1, kernel, borderType=cv2.BORDER_REFLECT)
        out[sel] = smeared[sel]
    return out


def stroke_texture(rng: np.random.Generator, angle: np.ndarray, length: int, dab: float) -> np.ndarray:
    """Brush-stroke texture (H, W), zero mean and unit-ish spread: noise streaked along `angle`."""
    h, w = angle.shape
    noise = rng.standard_normal((h, w), dtype=np.float32)
    if dab > 0.6:
        noise = blur(noise, dab)
    streaks = directional_blur(noise, angle, length)
    return (streaks / max(float(streaks.std()), 1e-6)).astype(np.float32)


def relief(texture: np.ndarray, depth: float) -> np.ndarray:
    """Light from the upper left over a height map: a multiplicative (H, W) shading of paint ridges."""
    gx = cv2.Sobel(texture, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(texture, cv2.CV_32F, 0, 1, ksize=3)
    shade = -(gx + gy) / 8.0
    return (1.0 + depth * np.tanh(shade)).astype(np.float32)


def lic(img: np.ndarray, angle: np.ndarray, steps: int, step_px: float = 1.0) -> np.ndarray:
    """Line-integral convolution: average `img` along the streamlines of the direction field, so
    colour is dragged into long curved strokes that follow `angle` wherever it bends."""
    h, w = angle.shape
    vx, vy = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    total = img.astype(np.float32).copy()
    count = 1.0
    for sign in (1.0, -1.0):
        px, py = gx.copy(), gy.copy()
        dx, dy = vx * sign, vy * sign
        for _ in range(steps):
            px += dx * step_px
            py += dy * step_px
            sx = cv2.remap(vx, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            sy = cv2.remap(vy, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            # Direction fields have no sign: keep moving the way we were going.
            flip = np.where(sx * dx + sy * dy < 0, -1.0, 1.0).astype(np.float32)
            dx, dy = sx * flip, sy * flip
            total += cv2.remap(img, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            count += 1.0
    return (total / count).astype(np.float32)


def working_copy(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image shrunk so its long side is at most `max_side` (brush work is slow per pixel)."""
    h, w = img.shape[:2]
    f = min(1.0, max_side / max(h, w))
    if f >= 1.0:
        return img, 1.0
    small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return small, f


def back_to(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    h, w = shape[:2]
    if img.shape[:2] == (h, w):
        return img
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)


def brush_unit(img: np.ndarray) -> float:
    """Brush unit in px: 1 at a 400 px short side (never below 0.35, so small photos keep a stroke)."""
    return max(0.35, min(img.shape[:2]) / 400.0)
