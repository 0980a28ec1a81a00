"""Put an edit back on its source's geometry, so input and output pairs align for training.

Editors such as Nano-Banana return other sizes and aspect ratios than they were given (1024×858 in,
1152×896 out) — a complaint of Pico-Banana-400K's users. `resize` stretches to the source size; `pad`
scales to fit inside and pads the rest with the edge colour; `crop` scales to cover and crops the
centre. Outpainting is the exception a user may want to keep: its point is a bigger canvas.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

AlignMethod = Literal["none", "resize", "pad", "crop"]


def align_to(image: np.ndarray, width: int, height: int, method: AlignMethod) -> np.ndarray:
    h, w = image.shape[:2]
    if method == "none" or (w, h) == (width, height):
        return image
    if method == "resize":
        return _resize(image, width, height)
    scale = min(width / w, height / h) if method == "pad" else max(width / w, height / h)
    scaled = _resize(image, max(1, round(w * scale)), max(1, round(h * scale)))
    sh, sw = scaled.shape[:2]
    if method == "crop":
        top, left = (sh - height) // 2, (sw - width) // 2
        return np.ascontiguousarray(scaled[top : top + height, left : left + width])
    top, left = (height - sh) // 2, (width - sw) // 2
    return cv2.copyMakeBorder(scaled, top, height - sh - top, left, width - sw - left, cv2.BORDER_REPLICATE)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    shrinking = width * height < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)
