"""Framing and text edits, degradations and destroyed outputs, written apart from editforge's editor.

Like foreign_looks.py this imports nothing from editforge. Text is drawn with OpenCV's Hershey fonts
(another renderer than the editor's Pillow font), with or without an outline or a label box.
"""

from __future__ import annotations

import cv2
import numpy as np
from foreign_looks import rng_for, u8

FONT = cv2.FONT_HERSHEY_DUPLEX


# ---------------------------------------------------------------- framing


def zoom(region: str, factor: float = 1.6):
    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        f = 1 + (factor - 1) * s
        cw, ch = round(w / f), round(h / f)
        x0 = {"left": 0, "right": w - cw}.get(region, (w - cw) // 2)
        y0 = {"top": 0, "bottom": h - ch}.get(region, (h - ch) // 2)
        return cv2.resize(img[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_CUBIC)

    return run


def _patch_fill(img: np.ndarray, width: int, side: str) -> np.ndarray:
    """New columns made of patches copied from the photo's edge band, feathered together."""
    h, w = img.shape[:2]
    rng = rng_for(img, 7)
    band = img[:, : max(width * 2, 48)] if side == "left" else img[:, -max(width * 2, 48) :]
    fill = np.zeros((h, width, 3), np.float32)
    weight = np.zeros((h, width, 1), np.float32)
    p = 40
    soft = np.outer(np.hanning(p + 2)[1:-1], np.hanning(p + 2)[1:-1]).astype(np.float32)[..., None] + 1e-3
    for y in range(-p // 2, h, p // 2):
        for x in range(-p // 2, width, p // 2):
            sy = int(np.clip(y + rng.integers(-p, p), 0, h - p))
            sx = int(rng.integers(0, band.shape[1] - p))
            patch = band[sy : sy + p, sx : sx + p].astype(np.float32)
            ty0, tx0 = max(y, 0), max(x, 0)
            ty1, tx1 = min(y + p, h), min(x + p, width)
            if ty1 <= ty0 or tx1 <= tx0:
                continue
            crop = (slice(ty0 - y, ty1 - y), slice(tx0 - x, tx1 - x))
            fill[ty0:ty1, tx0:tx1] += patch[crop] * soft[crop]
            weight[ty0:ty1, tx0:tx1] += soft[crop]
    return fill / weight


def extend(side: str, share: float = 0.3):
    def run(img: np.ndarray, s: float) -> np.ndarray:
        n = max(8, round(img.shape[1] * share * s))
        fill = _patch_fill(img, n, side)
        canvas = np.concatenate([fill, img.astype(np.float32)] if side == "left" else [img.astype(np.float32), fill], 1)
        # Near the old edge the photo continues (reflected), fading into the copied patches within 24 px.
        ramp = np.clip(np.arange(n, dtype=np.float32) / 24, 0, 1)[None, :, None]
        if side == "left":
            mirrored = img[:, 1 : n + 1][:, ::-1].astype(np.float32)
            canvas[:, :n] = mirrored * ramp[:, ::-1] + canvas[:, :n] * (1 - ramp[:, ::-1])
        else:
            mirrored = img[:, -n - 1 : -1][:, ::-1].astype(np.float32)
            canvas[:, -n:] = mirrored * (1 - ramp) + canvas[:, -n:] * ramp
        return u8(canvas)

    return run


def mirror_blur_extend(side: str, share: float = 0.3):
    """The lazy outpainting: the photo mirrored past its edge and blurred."""

    def run(img: np.ndarray, s: float) -> np.ndarray:
        n = max(8, round(img.shape[1] * share * s))
        left, right = (n, 0) if side == "left" else (0, n)
        mirrored = cv2.copyMakeBorder(img, 0, 0, left, right, cv2.BORDER_REFLECT_101)
        soft = cv2.GaussianBlur(mirrored, (0, 0), 7)
        out = soft.copy()
        out[:, left : left + img.shape[1]] = img
        return out

    return run


# ---------------------------------------------------------------- text


def draw_words(img: np.ndarray, words: str, colour: tuple[int, int, int], at: str = "top",
               box: tuple[int, int, int] | None = None, outline: bool = True) -> np.ndarray:  # fmt: skip
    out = img.copy()
    h, w = out.shape[:2]
    scale = 1.0
    while scale < 4 and cv2.getTextSize(words, FONT, scale + 0.1, 3)[0][0] < 0.6 * w:
        scale += 0.1
    thick = max(2, round(scale * 2.2))
    (tw, th), _ = cv2.getTextSize(words, FONT, scale, thick)
    x = (w - tw) // 2
    y = {"top": th + round(0.07 * h), "center": (h + th) // 2}.get(at, h - round(0.07 * h))
    if box is not None:
        cv2.rectangle(out, (x - 14, y - th - 14), (x + tw + 14, y + 16), box, -1)
    elif outline:
        dark = sum(colour) > 380
        cv2.putText(out, words, (x, y), FONT, scale, (15, 15, 15) if dark else (245, 245, 245), thick + 4, cv2.LINE_AA)
    cv2.putText(out, words, (x, y), FONT, scale, colour, thick, cv2.LINE_AA)
    return out


def add_words(words: str, colour: tuple[int, int, int], at: str = "top", box: tuple[int, int, int] | None = None):
    return lambda img, s: draw_words(img, words, colour, at, box)


def sign(img: np.ndarray, words: str) -> np.ndarray:
    """A photo with a sign on it: the source of the replace-text cases."""
    return draw_words(img, words, (25, 25, 25), "bottom", box=(235, 232, 220))


def box_only(img: np.ndarray, s: float) -> np.ndarray:
    out = img.copy()
    h, w = out.shape[:2]
    cv2.rectangle(out, (w // 5, round(0.05 * h)), (4 * w // 5, round(0.2 * h)), (250, 250, 250), -1)
    return out


# ---------------------------------------------------------------- degradations and destruction


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    _, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def pixelate(img: np.ndarray, k: int = 6) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (w // k, h // k), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


DEGRADE = {
    "blur": lambda img: cv2.GaussianBlur(img, (0, 0), 2.5),
    "noise": lambda img: u8(img + rng_for(img, 8).normal(0, 28, img.shape)),
    "jpeg": lambda img: jpeg(img, 5),
    "pixelate": pixelate,
}


def destroy(kind: str, img: np.ndarray, other: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if kind == "blank":
        return np.full_like(img, 128)
    if kind == "noise":
        return rng_for(img, 9).integers(0, 256, img.shape, dtype=np.uint8)
    if kind == "other_photo":
        return cv2.resize(other, (w, h), interpolation=cv2.INTER_AREA)
    th, tw = h // 4, w // 4
    tiles = [img[r * th : (r + 1) * th, c * tw : (c + 1) * tw] for r in range(4) for c in range(4)]
    order = rng_for(img, 10).permutation(len(tiles))  # "shuffled": the photo cut up and scrambled
    rows = [np.concatenate([tiles[order[r * 4 + c]] for c in range(4)], 1) for r in range(4)]
    return cv2.resize(np.concatenate(rows, 0), (w, h))
