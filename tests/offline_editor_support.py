"""Photos and measures shared by the classical editor's tests (not a test module itself)."""

from __future__ import annotations

import json
from functools import cache

import cv2
import numpy as np
from skimage import data

from editforge.models.offline.editor import editor as editor_module
from editforge.models.offline.editor.editor import OPS, ClassicalEditor, draw_for

EDITOR = ClassicalEditor()


def _shrink(img: np.ndarray, width: int) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


@cache
def photo(name: str, width: int = 192) -> np.ndarray:
    img = _shrink(getattr(data, name)(), width)
    img.flags.writeable = False
    return img


@cache
def greenery() -> np.ndarray:
    """A leafy-green photo: coffee (wood, saucer) with its hues turned ~100 degrees to greens."""
    hsv = cv2.cvtColor(photo("coffee"), cv2.COLOR_RGB2HSV_FULL).astype(np.int32)
    hsv[..., 0] = (hsv[..., 0] + 70) % 256
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)


def f32(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


def lum(img: np.ndarray) -> np.ndarray:
    x = f32(img)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def warmth(img: np.ndarray) -> float:
    x = f32(img)
    return float((x[..., 0] - x[..., 2]).mean())


def saturation(img: np.ndarray) -> float:
    x = f32(img)
    return float((x.max(axis=2) - x.min(axis=2)).mean())


def fine_detail(img: np.ndarray) -> float:
    y = lum(img)
    return float(np.abs(y - cv2.GaussianBlur(y, (0, 0), 1.5)).mean())


def coarse_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of the two images' 16x16 luminance layouts: is it still the same picture?"""
    sa = cv2.resize(lum(a), (16, 16), interpolation=cv2.INTER_AREA).ravel()
    sb = cv2.resize(lum(b), (16, 16), interpolation=cv2.INTER_AREA).ravel()
    return float(np.corrcoef(sa, sb)[0, 1])


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(f32(a) - f32(b)).mean())


def nominal_seed(edit_type: str, skip: int = 0) -> int:
    """A seed whose draw is a nominal (not a miss) edit for this type."""
    seeds = (s for s in range(1000) if draw_for(s, edit_type, OPS[edit_type].flaws).flaw is None)
    for _ in range(skip):
        next(seeds)
    return next(seeds)


def edit(img: np.ndarray, instruction: str, seed: int | None = None) -> tuple[np.ndarray, dict]:
    intent_type = editor_module.parse_instruction(instruction).edit_type  # type: ignore[union-attr]
    reply = EDITOR.edit(img, instruction, nominal_seed(intent_type) if seed is None else seed)
    assert reply.image.dtype == np.uint8 and reply.image.ndim == 3 and reply.image.shape[2] == 3
    return reply.image, json.loads(reply.raw)


def seed_with_flaw(edit_type: str, flaw: str) -> int:
    """A seed whose draw is the given kind of miss for this type."""
    return next(s for s in range(2000) if draw_for(s, edit_type, OPS[edit_type].flaws).flaw == flaw)
