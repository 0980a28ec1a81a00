"""Zoom in (crop a named region and enlarge it back) and outpainting (a bigger canvas whose new
border is the photo's own edge reflected and blurred more the further it gets from the original).
"""

from __future__ import annotations

import cv2
import numpy as np

from editforge.models.offline.editor.ops_common import WEAK, Details, Draw, blur, clip01, luminance
from editforge.models.offline.editor.ops_person import detect_faces

# Where each named region's crop is centred, as (x, y) fractions of the frame.
_REGION_CENTRES = {
    "center": (0.5, 0.5),
    "left": (0.25, 0.5),
    "right": (0.75, 0.5),
    "top": (0.5, 0.25),
    "bottom": (0.5, 0.75),
}
_OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}


def _subject_centre(img: np.ndarray) -> tuple[float, float]:
    """The largest face (a little below it: head and shoulders), else the centre of detail."""
    h, w = img.shape[:2]
    faces = detect_faces(img)
    if faces:
        x, y, fw, fh = faces[0]
        return (x + fw / 2) / w, min(1.0, (y + fh * 0.8) / h)
    energy = blur(np.abs(cv2.Laplacian(luminance(img), cv2.CV_32F)), max(2.0, min(h, w) / 20.0))
    total = float(energy.sum()) + 1e-6
    ys, xs = np.mgrid[0:h, 0:w]
    return float((energy * xs).sum() / total) / w, float((energy * ys).sum() / total) / h


def zoom_in(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    h, w = img.shape[:2]
    region = params.get("region", "center")
    # Nominal: 1.5-2.2x (a generative "zoom in" rarely goes further). Weak: barely in (1.03-1.15x).
    factor = 1.0 + 0.4 * draw.strength if draw.is_flaw(WEAK) else draw.uniform(1.5, 2.2)
    aim = region
    if draw.is_flaw("off_target"):
        aim = _OPPOSITE.get(region, "top" if draw.rng.random() < 0.5 else "bottom")
    cx, cy = _subject_centre(img) if aim == "subject" else _REGION_CENTRES.get(aim, (0.5, 0.5))
    cx += draw.uniform(-0.03, 0.03)
    cy += draw.uniform(-0.03, 0.03)
    cw, ch = w / factor, h / factor
    if draw.is_flaw("stretched"):
        ch = ch / draw.uniform(1.35, 1.7)  # a squashed crop, stretched back: faces go tall
    x0 = float(np.clip(cx * w - cw / 2, 0.0, w - cw))
    y0 = float(np.clip(cy * h - ch / 2, 0.0, h - ch))
    # Sub-pixel crop + resize in one affine warp: exact for any factor, no rounding of the box.
    m = np.array([[cw / w, 0.0, x0], [0.0, ch / h, y0]], np.float32)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
    box = [round(x0, 1), round(y0, 1), round(x0 + cw, 1), round(y0 + ch, 1)]
    return clip01(out), {"factor": round(factor, 3), "crop_box_xyxy": box, "aimed_at": aim}


def _pads(side: str, h: int, w: int, draw: Draw) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) pixels to add: 16-33% on one named side, 16-25% on each of two or
    four; a weak draw adds only a sliver (its strength times that)."""
    sides = {"left": "l", "right": "r", "top": "t", "bottom": "b", "horizontal": "lr", "vertical": "tb"}
    grown = sides.get(side, "tblr")
    low, high = (0.16, 0.33) if len(grown) == 1 else (0.16, 0.25)
    k = draw.strength if draw.is_flaw(WEAK) else 1.0

    def grow(key: str, n: int) -> int:
        return max(1, round(n * draw.uniform(low, high) * k)) if key in grown else 0

    return grow("t", h), grow("b", h), grow("l", w), grow("r", w)


def _distance_outside(shape: tuple[int, int], pads: tuple[int, int, int, int], h: int, w: int) -> np.ndarray:
    """Each canvas pixel's distance (px) from the original photo's rectangle; 0 inside it."""
    top, _, left, _ = pads
    ys = np.arange(shape[0], dtype=np.float32)[:, None]
    xs = np.arange(shape[1], dtype=np.float32)[None, :]
    dy = np.maximum(np.maximum(top - ys, ys - (top + h - 1)), 0.0)
    dx = np.maximum(np.maximum(left - xs, xs - (left + w - 1)), 0.0)
    return np.sqrt(dx * dx + dy * dy)


def _wide_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """A large Gaussian blur done at reduced size (same look, a fraction of the cost)."""
    h, w = img.shape[:2]
    f = min(1.0, 8.0 / max(sigma, 1e-6))
    if f >= 1.0:
        return blur(img, sigma)
    small = cv2.resize(img, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
    small = blur(small, sigma * f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _noise_level(img: np.ndarray) -> float:
    residual = luminance(img) - luminance(blur(img, 1.0))
    return float(np.median(np.abs(residual))) * 1.4826


def outpainting(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    h, w = img.shape[:2]
    side = params.get("side", "all")
    pads = _pads(side, h, w, draw)
    top, bottom, left, right = (min(p, n - 1) for p, n in zip(pads, (h, h, w, w), strict=True))
    canvas = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_REFLECT_101)
    reach = float(max(top, bottom, left, right, 1))
    dist = _distance_outside(canvas.shape[:2], (top, bottom, left, right), h, w)
    if draw.is_flaw("seam"):
        # A fill that does not meet the photo: a shifted tone and a hard edge at the old border.
        fill = _wide_blur(canvas, 0.5 * reach) + draw.uniform(0.09, 0.16) * (1 if draw.rng.random() < 0.5 else -1)
        out = np.where((dist > 0)[..., None], clip01(fill), canvas)
    else:
        # Sharp near the old border (the reflection continues it exactly), ever softer further out,
        # so the mirror image dissolves into plausible out-of-focus surroundings.
        near, far = blur(canvas, 0.08 * reach), _wide_blur(canvas, 0.45 * reach)
        a = np.clip(dist / (0.15 * reach), 0.0, 1.0)[..., None]
        b = np.clip((dist - 0.15 * reach) / (0.55 * reach), 0.0, 1.0)[..., None]
        out = canvas * (1 - a) + near * a
        out = out * (1 - b) + far * b
        grain = draw.rng.standard_normal(dist.shape, dtype=np.float32) * _noise_level(img)
        out = clip01(out + (grain * np.clip(dist / 4.0, 0.0, 1.0))[..., None])
    out = np.asarray(out, np.float32).copy()
    out[top : top + h, left : left + w] = img  # the source itself, pixel for pixel
    details = {"pad_tblr": [top, bottom, left, right], "canvas_hw": [int(out.shape[0]), int(out.shape[1])]}
    return out, details
