"""Edits made with plain numpy/OpenCV, written apart from the classical editor, for testing the metric judge.

Each edit is `edit(photo, s)`: `s` = 1 is the finished, clearly visible look, smaller `s` blends it in
part (a 0.2× weak version).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import cv2
import numpy as np
from skimage import data

Edit = Callable[[np.ndarray, float], np.ndarray]


@cache
def photo(name: str, side: int = 256) -> np.ndarray:
    if name.endswith("+text"):  # white outlined words at the top, as an earlier add_text turn left them
        return text_at("top")(photo(name.removesuffix("+text"), side), 1.0)
    img = getattr(data, name)()
    h, w = img.shape[:2]
    s = side / max(h, w)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def f32(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32)


def blend(src: np.ndarray, look: np.ndarray, s: float) -> np.ndarray:
    """`s` of a finished look over the photo: how the weak (0.2×) versions are made."""
    return u8(f32(src) + (f32(look) - f32(src)) * min(s, 1.0))


def gains(r: float, g: float, b: float, add: float = 0.0) -> Edit:
    return lambda img, s: u8(f32(img) * (1 + (np.array([r, g, b], np.float32) - 1) * s) + add * s)


def blur(img: np.ndarray, s: float = 1.0) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), 2.5)


def saturate(img: np.ndarray, k: float) -> np.ndarray:
    grey = f32(img).mean(axis=2, keepdims=True)
    return u8(grey + (f32(img) - grey) * k)


def grain(img: np.ndarray, s: float) -> np.ndarray:
    noise = np.random.default_rng(1).normal(0, 12, img.shape[:2])[..., None]
    return u8(f32(img) + noise * s)


def rain(img: np.ndarray, s: float) -> np.ndarray:
    h, w = img.shape[:2]
    rng = np.random.default_rng(2)
    layer = np.zeros((h, w), np.float32)
    for _ in range(h * w // 400):
        x, y, n = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(8, 16))
        cv2.line(layer, (x, y), (x + n // 4, y + n), 1.0, 1)
    look = f32(img) * 0.85 + cv2.GaussianBlur(layer, (0, 0), 0.7)[..., None] * 110
    return blend(img, look, s)


def regrade(saturation: float, r: float, g: float, b: float, add: float = 0.0) -> Edit:
    """A finished colour grade (saturation, channel gains, lift), laid over the photo by `s`."""
    return lambda img, s: blend(img, u8(f32(saturate(img, saturation)) * np.array([r, g, b]) + add), s)


sunny, summer = regrade(1.35, 1.08, 1.03, 0.95, 15), regrade(1.5, 1.06, 1.03, 0.94)
winter = regrade(0.45, 0.9, 0.97, 1.1, 25)


def oil_paint(img: np.ndarray, s: float) -> np.ndarray:
    smooth = img
    for _ in range(3):
        smooth = cv2.bilateralFilter(smooth, 9, 60, 9)
    h, w = img.shape[:2]
    strokes = cv2.filter2D(
        np.random.default_rng(5).normal(0, 1, (h, w)).astype(np.float32), -1, np.ones((1, 9), np.float32) / 3
    )
    look = (f32(smooth) // 32) * 32 + 16 + strokes[..., None] * 10
    return blend(img, u8(look), s)


def cartoon(img: np.ndarray, s: float) -> np.ndarray:
    flat = img
    for _ in range(3):
        flat = cv2.bilateralFilter(flat, 7, 40, 7)
    flat = (flat // 48) * 48 + 24
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    edges = cv2.adaptiveThreshold(cv2.medianBlur(grey, 5), 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 5)
    return blend(img, np.where(edges[..., None] == 0, 20, flat).astype(np.uint8), s)


def victorian(img: np.ndarray, s: float) -> np.ndarray:
    sepia = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
    h, w = img.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    vignette = 1 - 0.4 * (np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2)) / np.sqrt(2)) ** 2
    return blend(img, u8((f32(img) @ sepia.T * 0.85 + 20) * vignette[..., None]), s)


def zoom(region: str) -> Edit:
    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        factor = 1 + 0.7 * s
        cw, ch = round(w / factor), round(h / factor)
        x0 = {"left": 0, "right": w - cw}.get(region, (w - cw) // 2)
        return cv2.resize(img[(h - ch) // 2 : (h - ch) // 2 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_CUBIC)

    return run


def zoom_out(img: np.ndarray, s: float = 1.0) -> np.ndarray:
    h, w = img.shape[:2]
    pad = cv2.copyMakeBorder(img, h // 4, h // 4, w // 4, w // 4, cv2.BORDER_REFLECT_101)
    return cv2.resize(pad, (w, h), interpolation=cv2.INTER_AREA)


def extend(side: str) -> Edit:
    """New canvas on `side` made of windows copied from the photo's outer band (not mirrored, not blurred),
    joined to the photo through a short reflected stretch so the old edge shows no step."""

    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        n = max(1, round(0.3 * w * s))
        work = img if side == "right" else img[:, ::-1]
        rng = np.random.default_rng(4)
        band = w // 3
        starts = rng.integers(w - band, w - 24, size=n // 24 + 1)
        strips = [f32(work[:, int(start) : int(start) + 24]) for start in starts]
        fill = np.concatenate(strips, axis=1)[:, :n]
        reflected = f32(work[:, ::-1][:, 1 : n + 1])
        joint = np.clip(np.arange(n, dtype=np.float32) / 16, 0, 1)[None, :, None]
        fill = reflected * (1 - joint) + fill * joint
        out = np.concatenate([f32(work), fill], axis=1)
        return u8(out if side == "right" else out[:, ::-1])

    return run


def text_at(position: str, box_only: bool = False) -> Edit:
    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        layer = img.copy()
        (tw, th), _ = cv2.getTextSize("HELLO", cv2.FONT_HERSHEY_DUPLEX, 1.6, 3)
        org = ((w - tw) // 2, th + 12 if position == "top" else h - 14)
        if box_only:
            cv2.rectangle(layer, (org[0], org[1] - th), (org[0] + tw, org[1]), (255, 255, 255), -1)
        else:
            cv2.putText(layer, "HELLO", org, cv2.FONT_HERSHEY_DUPLEX, 1.6, (0, 0, 0), 7, cv2.LINE_AA)
            cv2.putText(layer, "HELLO", org, cv2.FONT_HERSHEY_DUPLEX, 1.6, (255, 255, 255), 3, cv2.LINE_AA)
        return blend(img, layer, s)

    return run


def recolour(colour: tuple[int, int, int], part: str = "fill") -> Edit:
    """The words text_at("top") drew, with their fill (or, wrongly, their outline) in another colour."""

    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        layer = img.copy()
        (tw, th), _ = cv2.getTextSize("HELLO", cv2.FONT_HERSHEY_DUPLEX, 1.6, 3)
        org = ((w - tw) // 2, th + 12)
        fill = colour
        if part == "outline":
            cv2.putText(layer, "HELLO", org, cv2.FONT_HERSHEY_DUPLEX, 1.6, colour, 7, cv2.LINE_AA)
            fill = (255, 255, 255)
        cv2.putText(layer, "HELLO", org, cv2.FONT_HERSHEY_DUPLEX, 1.6, fill, 3, cv2.LINE_AA)
        return blend(img, layer, s)

    return run


def person_mask(img: np.ndarray) -> np.ndarray:
    """Head and shoulders of the astronaut (face at about x=177, y=66, w=95 in the 512 px photo)."""
    h, w = img.shape[:2]
    k = w / 512
    mask = np.zeros((h, w), np.uint8)
    cx, cy = int(225 * k), int(115 * k)
    cv2.ellipse(mask, (cx, cy), (int(60 * k), int(75 * k)), 0, 0, 360, 1, -1)
    torso = [(cx - 40 * k, 185 * k), (cx + 40 * k, 185 * k), (cx + 190 * k, 300 * k), (cx + 230 * k, h),
             (cx - 230 * k, h), (cx - 190 * k, 300 * k)]  # fmt: skip
    cv2.fillPoly(mask, [np.array(torso, np.int32)], 1)
    return mask


def lineart(img: np.ndarray, s: float) -> np.ndarray:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    lines = cv2.dilate(cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.2), 50, 120), np.ones((2, 2), np.uint8))
    art = np.where(lines > 0, 25, 250).astype(np.uint8)
    return blend(img, np.repeat(art[..., None], 3, axis=2), s)


def sticker(img: np.ndarray, s: float) -> np.ndarray:
    mask = person_mask(img)
    white = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13)))
    outline = cv2.dilate(white, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    look = np.full_like(img, (200, 230, 250))
    look[outline > 0] = (20, 20, 20)
    look[white > 0] = (255, 255, 255)
    look[mask > 0] = img[mask > 0]
    return blend(img, look, s)
