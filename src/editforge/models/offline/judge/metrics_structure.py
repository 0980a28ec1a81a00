"""Measurements of structure, texture and colour shifts between a source and its edit (float32 throughout)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from editforge.models.offline.judge.metrics import EPS, fit, gray, resize


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    sa, sb = a.std(), b.std()
    if sa < EPS or sb < EPS:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Plain SSIM of two greys of equal shape (0–255)."""
    win = min(7, min(a.shape) // 2 * 2 - 1)
    if win < 3:
        return correlation(a, b)
    return float(structural_similarity(a, b, data_range=255.0, win_size=win))


def structure_ssim(src_g: np.ndarray, out_g: np.ndarray, side: int = 128) -> float:
    """SSIM of downsized greys after matching out's mean/std to src's: layout, not tone.

    Brightening, darkening and fog change luminance and contrast but keep structure; matching the
    first two moments first keeps them from reading as structural loss.
    """
    a = fit(src_g, side)
    b = resize(fit(out_g, side), a.shape[:2])
    sb = float(b.std())
    b = (b - b.mean()) / sb * a.std() + a.mean() if sb > EPS else np.full_like(a, a.mean())
    return ssim(a, b.astype(np.float32))


def edge_map(g: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    s = cv2.GaussianBlur(g, (0, 0), sigma) if sigma > 0 else g
    return np.hypot(cv2.Sobel(s, cv2.CV_32F, 1, 0), cv2.Sobel(s, cv2.CV_32F, 0, 1))


def highpass(g: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    return g - cv2.GaussianBlur(g, (0, 0), sigma)


def texture_change(src_g: np.ndarray, out_g: np.ndarray) -> float:
    """Fine-detail change relative to the source's fine detail (0 = same texture)."""
    hs = highpass(src_g)
    return float(np.mean(np.abs(highpass(out_g) - hs)) / (np.mean(np.abs(hs)) + 0.5))


def texture_ratio(src_g: np.ndarray, out_g: np.ndarray) -> float:
    """Fine-detail energy of out / of src (<1 smoother, >1 more texture)."""
    return float(np.mean(np.abs(highpass(out_g))) / (np.mean(np.abs(highpass(src_g))) + 0.5))


@dataclass
class AddedTexture:
    energy: float  # std of the fine detail the edit added, in levels
    coherence: float  # 0 = isotropic (grain), 1 = all in one direction (rain streaks)
    source_tie: float  # correlation with the source's own edges (sharpen/blur ≈ high)


def added_texture(src_g: np.ndarray, out_g: np.ndarray) -> AddedTexture:
    """What the edit added at fine scale, and whether it is a new pattern or the source's own edges."""
    hd = highpass(out_g - src_g, 2.0)
    gx, gy = cv2.Sobel(hd, cv2.CV_32F, 1, 0), cv2.Sobel(hd, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = float(np.sum(gx * gx)), float(np.sum(gy * gy)), float(np.sum(gx * gy))
    trace = jxx + jyy
    coherence = float(np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / trace) if trace > EPS else 0.0
    tie = correlation(cv2.GaussianBlur(np.abs(hd), (0, 0), 2), edge_map(src_g, 1.0))
    return AddedTexture(float(hd.std()), coherence, tie)


def _local_jumps(src_g: np.ndarray, out_g: np.ndarray, rise: float, max_area: int, sign: int) -> float:
    diff = (out_g - src_g) * sign
    local = diff - cv2.medianBlur(np.clip(diff + 128, 0, 255).astype(np.uint8), 7).astype(np.float32) + 128
    mask = local > rise
    if sign > 0:
        mask &= out_g > 120  # flakes are bright
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0.0
    areas = stats[1:, cv2.CC_STAT_AREA]
    return float(areas[areas <= max_area].sum() / mask.size)


def speckle_fraction(src_g: np.ndarray, out_g: np.ndarray, rise: float = 20.0, max_area: int = 60) -> float:
    """Share of pixels in small blobs that got brighter than their surroundings did (snowflakes),
    net of those that got darker the same way: sharpening and grain go both ways and cancel out.
    """
    ups = _local_jumps(src_g, out_g, rise, max_area, 1)
    downs = _local_jumps(src_g, out_g, rise, max_area, -1)
    return max(0.0, ups - downs)


def lab_means(rgb: np.ndarray) -> dict[str, float]:
    """Mean CIELAB lightness (0–100), a* (green→red), b* (blue→yellow) and chroma."""
    lab = cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2LAB)
    a, b = lab[..., 1], lab[..., 2]
    return {
        "L": float(lab[..., 0].mean()),
        "a": float(a.mean()),
        "b": float(b.mean()),
        "C": float(np.hypot(a, b).mean()),
    }


def warmth_index(rgb: np.ndarray) -> float:
    """Mean R − B as a percentage of brightness: a gain-type tint reads the same on dark and bright photos."""
    return float(100.0 * np.mean(rgb[..., 0] - rgb[..., 2]) / (np.mean(gray(rgb)) + 10.0))


def tint_shift(src: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """(whole-frame, near-neutral pixels') change of the warmth index, in points.

    A real tint moves the greys too; desaturating a warm photo lowers R − B but leaves greys grey.
    """
    whole = warmth_index(out) - warmth_index(src)
    g_src, g_out = gray(src), gray(out)
    lit = g_src > 40
    spread = src.max(axis=2) - src.min(axis=2)
    pool = spread[lit] if lit.sum() > 64 else spread.ravel()
    neutral = (spread <= np.percentile(pool, 30)) & lit if lit.sum() > 64 else spread <= np.percentile(pool, 30)
    if not neutral.any():
        return whole, 0.0
    rel = lambda rgb, g: 100.0 * (rgb[..., 0] - rgb[..., 2]) / (g + 10.0)  # noqa: E731
    return whole, float(np.median(rel(out, g_out)[neutral] - rel(src, g_src)[neutral]))


def linear_residual(src_g: np.ndarray, out_g: np.ndarray, k: int = 5) -> float:
    """Std (levels) of what no k×k linear filter of the source explains.

    Blur, sharpen and tints are (near-)linear filters, so they leave ~0; paintings, cartoons and
    sketches are not. The filter is fitted by least squares on every third pixel (fast, and enough).
    """
    r = k // 2
    h, w = src_g.shape
    padded = np.pad(src_g, r, mode="reflect")
    cols = [padded[dy : dy + h, dx : dx + w].ravel() for dy in range(k) for dx in range(k)]
    design = np.stack([*cols, np.ones(h * w, np.float32)], axis=1)
    coef, *_ = np.linalg.lstsq(design[::3], out_g.ravel()[::3], rcond=None)
    return float(np.std(out_g.ravel() - design @ coef))


def chroma_map(rgb: np.ndarray) -> np.ndarray:
    return rgb.max(axis=2) - rgb.min(axis=2)


def related_layout(src_g: np.ndarray, out_g: np.ndarray) -> float:
    """How much the output keeps the source's picture: the better of coarse tone and edge-layout correlation.

    A recolour, restyle or sketch keeps one or the other (a line drawing keeps the edges, a grade the
    tones); another photo or noise keeps neither (~0).
    """
    if src_g.shape != out_g.shape:
        out_g = cv2.resize(out_g, (src_g.shape[1], src_g.shape[0]), interpolation=cv2.INTER_AREA)
    tones = correlation(cv2.resize(src_g, (32, 32), interpolation=cv2.INTER_AREA),
                        cv2.resize(out_g, (32, 32), interpolation=cv2.INTER_AREA))  # fmt: skip

    def edges(g: np.ndarray) -> np.ndarray:
        mag = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
        return cv2.resize(cv2.GaussianBlur(mag, (0, 0), 2), (64, 64), interpolation=cv2.INTER_AREA)

    return float(max(tones, correlation(edges(src_g), edges(out_g))))
