"""Person edits: line-art ink sketch of the person and sticker-ify the person.

The person is found from a frontal face (Haar cascade) and cut out with GrabCut seeded by the face
box extended down into a torso. No face, no edit: the op raises ModelCallError rather than inking
or cutting out something that is not a person.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from editforge.models.base import ModelCallError
from editforge.models.offline.editor.ops_common import (
    WEAK,
    Details,
    Draw,
    amount_of,
    blur,
    clip01,
    gray3,
    ink_lines,
    luminance,
    mix,
    saturate,
)

Box = tuple[int, int, int, int]  # x, y, w, h
DETECT_SIDE = 640
CUT_SIDE = 320
_PAPER = 0.98
_BACKDROPS = (
    (0.86, 0.93, 0.98),
    (0.98, 0.9, 0.8),
    (0.88, 0.96, 0.87),
    (0.95, 0.88, 0.96),
    (0.97, 0.96, 0.85),
)


@cache
def _cascade(name: str) -> cv2.CascadeClassifier:
    classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if classifier.empty():
        raise ModelCallError(f"face detector {name} could not be loaded from OpenCV's data")
    return classifier


def detect_faces(img: np.ndarray) -> list[Box]:
    """Frontal faces in original-image pixels, largest first (the main person)."""
    h, w = img.shape[:2]
    f = min(1.0, DETECT_SIDE / max(h, w))
    gray = (np.clip(luminance(img), 0.0, 1.0) * 255.0).astype(np.uint8)
    if f < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    side = max(20, int(min(gray.shape) * 0.06))
    if min(gray.shape) < side:
        return []
    found = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side)
    )
    boxes = [tuple(int(round(v / f)) for v in box) for box in found]
    return sorted(boxes, key=lambda b: -b[2] * b[3])  # type: ignore[return-value]


def _require_face(img: np.ndarray) -> Box:
    faces = detect_faces(img)
    if not faces:
        raise ModelCallError("no person found: no face detected in the image")
    return faces[0]


def person_box(face: Box, shape: tuple[int, ...]) -> Box:
    """Head, shoulders and torso below a face, clipped to the frame."""
    h, w = shape[:2]
    x, y, fw, fh = face
    x0, x1 = max(0, int(x - 1.6 * fw)), min(w, int(x + 2.6 * fw))
    y0, y1 = max(0, int(y - 0.7 * fh)), min(h, int(y + 6.0 * fh))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def silhouette(face: Box, shape: tuple[int, ...]) -> np.ndarray:
    """A head-and-shoulders template below a face, (H, W) uint8 0/1: the prior for the cut-out."""
    h, w = shape[:2]
    x, y, fw, fh = face
    m = np.zeros((h, w), np.uint8)
    cx = int(x + fw / 2)
    cv2.ellipse(m, (cx, int(y + fh * 0.45)), (int(fw * 0.62), int(fh * 0.78)), 0, 0, 360, 1, -1)
    neck_y, shoulder_y = int(y + fh * 1.05), int(y + fh * 1.6)
    torso = np.array(
        [
            (cx - int(0.35 * fw), neck_y),
            (cx + int(0.35 * fw), neck_y),
            (cx + int(1.5 * fw), shoulder_y),
            (cx + int(1.7 * fw), h + fh),
            (cx - int(1.7 * fw), h + fh),
            (cx - int(1.5 * fw), shoulder_y),
        ],
        np.int32,
    )
    cv2.fillPoly(m, [torso], 1)
    return m


def person_mask(img: np.ndarray, face: Box) -> np.ndarray:
    """Soft (H, W) mask of the person: GrabCut on a small copy, seeded by a head-and-shoulders
    template; where GrabCut loses most of the figure (it can), the template itself is used."""
    h, w = img.shape[:2]
    f = min(1.0, CUT_SIDE / max(h, w))
    sw, sh = max(8, round(w * f)), max(8, round(h * f))
    small = cv2.resize((clip01(img) * 255).astype(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA)
    x, y, fw, fh = face
    small_face = (int(x * sw / w), int(y * sh / h), max(2, int(fw * sw / w)), max(2, int(fh * sh / h)))
    prior = silhouette(small_face, small.shape)
    grow = max(1, int(0.35 * small_face[2]))
    near = cv2.dilate(prior, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    core = cv2.erode(prior, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    mask = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    mask[near > 0] = cv2.GC_PR_BGD
    mask[prior > 0] = cv2.GC_PR_FGD
    mask[core > 0] = cv2.GC_FGD
    fx, fy, ffw, ffh = small_face
    mask[fy + ffh // 5 : fy + ffh * 4 // 5, fx + ffw // 5 : fx + ffw * 4 // 5] = cv2.GC_FGD
    fg = prior
    if (mask == cv2.GC_BGD).any() and (mask != cv2.GC_BGD).any():
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(12345)  # GrabCut's k-means draws from OpenCV's (per-thread) RNG: pin it
        try:
            cv2.grabCut(small, mask, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
            cut = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
            if cut.sum() >= 0.5 * prior.sum():
                fg = cut
        except cv2.error:
            pass  # the template is a fair cut-out on its own
    # Keep the blob that holds the face; GrabCut sometimes adds islands of similar colour.
    count, labels = cv2.connectedComponents(fg)
    if count > 2:
        keep = labels[min(fy + ffh // 2, sh - 1), min(fx + ffw // 2, sw - 1)]
        if keep:
            fg = (labels == keep).astype(np.uint8)
    soft = cv2.resize(fg.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(blur(soft, max(0.7, min(h, w) / 400.0)), 0.0, 1.0)


def _box_mask(box: Box, shape: tuple[int, ...]) -> np.ndarray:
    x, y, bw, bh = box
    m = np.zeros(shape[:2], np.float32)
    m[y : y + bh, x : x + bw] = 1.0
    return m


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    if px < 1:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask, kernel)


def person_lineart(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    face = _require_face(img)
    s = draw.strength
    u = max(0.35, min(img.shape[:2]) / 400.0)
    mask = person_mask(img, face)
    if draw.is_flaw("messy"):
        # Thresholds too loose and no cut-out: ink blotches over the whole frame.
        ink = ink_lines(luminance(img), 1.6 * u, phi=40.0, eps=0.02)
        mask = np.ones_like(mask)
    else:
        ink = ink_lines(luminance(img), draw.uniform(0.9, 1.3) * u, phi=140.0, eps=-0.008)
    # A bold contour around the figure, as an illustrator would ink it.
    hard = (mask > 0.5).astype(np.float32)
    contour = np.clip(_grow(hard, max(1, round(1.2 * u))) - hard, 0.0, 1.0)
    lines = np.clip(np.maximum(ink * mask, blur(contour, 0.6 * u)), 0.0, 1.0)
    art = gray3(_PAPER * (1.0 - 0.95 * lines))
    details = {"face_xywh": list(face), "person_fraction": round(float(mask.mean()), 3)}
    return mix(img, art, amount_of(s)), details


def person_sticker(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    """From the outside in: plain backdrop, soft shadow, thick white die-cut border, a bold dark
    outline hugging the figure, then the person (slightly punchier colour, as printed stickers are)."""
    face = _require_face(img)
    h, w = img.shape[:2]
    weak = draw.is_flaw(WEAK)
    box = person_box(face, img.shape)
    mask = _box_mask(box, img.shape) if draw.is_flaw("bad_cut") else person_mask(img, face)
    outline_px = 0 if weak else max(1, round(min(h, w) * 0.01))
    border_px = max(1, round(min(h, w) * (0.006 if weak else draw.uniform(0.03, 0.045))))
    # A figure cut by the frame (a half-length portrait) gets its die-cut edge inside the frame
    # too: the sticker ends a little above the bottom (and sides), border and all.
    inset = outline_px + border_px + max(1, round(min(h, w) * 0.02))
    frame = np.zeros((h, w), np.float32)
    frame[inset : max(inset, h - inset), inset : max(inset, w - inset)] = 1.0
    mask = mask * frame
    hard = (mask > 0.5).astype(np.float32)
    outline = blur(_grow(hard, outline_px), 0.7)
    white = blur(_grow(hard, outline_px + border_px), 0.7)
    colour = np.array(_BACKDROPS[int(draw.rng.integers(0, len(_BACKDROPS)))], np.float32)
    backdrop = np.broadcast_to(colour, img.shape).astype(np.float32)
    if weak:  # the photo's background still shows through
        backdrop = mix(img, backdrop, 0.4)
    # A soft drop shadow down-right of the sticker lifts it off the backdrop.
    shift = max(1, round(min(h, w) * 0.01))
    shadow = np.zeros_like(white)
    shadow[shift:, shift:] = white[:-shift, :-shift]  # shifted, not rolled: no wrap-around
    out = mix(backdrop, backdrop * 0.7, blur(shadow, 1.5 * shift) * 0.5)
    out = mix(out, np.ones_like(out), white)
    out = mix(out, np.full_like(out, 0.08), outline)
    out = mix(out, saturate(img, 1.1), mask)
    details = {"face_xywh": list(face), "border_px": border_px, "outline_px": outline_px}
    details["backdrop_rgb"] = [round(float(c), 2) for c in colour]
    return clip01(out), details
