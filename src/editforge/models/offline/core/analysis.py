"""A cheap look at a photo: the facts that choose edit types and ground the offline instructions.

`analyze(image)` fills `PhotoFacts` (faces, person, text, sky, brightness, warmth, saturation,
colour names); `describe_regions(image, facts)` says where things are, in words an instruction can
use. Everything runs on a downsized copy so a 1024 px photo takes well under 0.2 s; boxes are given
back in the input's pixel coordinates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from editforge.records import PhotoFacts

WORK_SIDE = 512  # longest side the text detector sees: letters need the pixels
FACE_SIDE = 384  # longest side the face cascades see: a 53 px face on a 1024 px photo is still 20 px
COLOR_SIDE = 160  # colour statistics need far fewer pixels than the detectors


_per_thread = threading.local()


def _cascade(name: str) -> cv2.CascadeClassifier:
    # Loading a cascade parses a large XML file: once per thread, not once per photo. One per thread
    # because a CascadeClassifier shared across threads crashes the process.
    cascades: dict[str, cv2.CascadeClassifier] = _per_thread.__dict__.setdefault("cascades", {})
    if name not in cascades:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        if cascade.empty():
            raise RuntimeError(f"OpenCV cascade {name} is missing; opencv-python-headless<5 ships it")
        cascades[name] = cascade
    return cascades[name]


def as_rgb(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) from greyscale, RGBA, bool or float [0, 1] input."""
    img = np.asarray(image)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    elif img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32) * (255.0 if img.max() <= 1.0 else 1.0), 0, 255)
        img = img.astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def _downsize(img: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale < 1.0:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return img, scale


# --- people ------------------------------------------------------------------------------------------


FACE_MIN_WEIGHT = 6.0  # last-stage confidence: real faces score ~7, coins / moon craters / fur <= 5.6


def detect_faces(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces on an equalised grey image, largest first.

    Neighbour count alone lets textures (coins, craters, a cat's face at some scales) through; the
    cascade's last-stage weight separates them. A minimum of ~7% of the short side: a photo worth a
    person edit shows the face larger than that.
    """
    min_side = max(20, int(0.07 * min(gray.shape)))
    found, _, weights = _cascade("haarcascade_frontalface_default.xml").detectMultiScale3(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side), outputRejectLevels=True
    )
    boxes = [
        (int(x), int(y), int(w), int(h))
        for (x, y, w, h), weight in zip(found, np.ravel(weights), strict=True)
        if weight >= FACE_MIN_WEIGHT
    ]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def _upper_body_with_face(gray: np.ndarray) -> bool:
    """An upper-body hit counts only when a (looser) face shows in its head region: bodies alone
    fire on doorways and tree trunks."""
    min_side = max(40, int(0.2 * min(gray.shape)))
    bodies = _cascade("haarcascade_upperbody.xml").detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=6, minSize=(min_side, min_side)
    )
    for x, y, w, h in bodies if len(bodies) else []:
        head = gray[y : y + h // 2 + 1, x : x + w]
        if min(head.shape) < 24:
            continue
        faces = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
            head, scaleFactor=1.1, minNeighbors=3, minSize=(max(12, w // 6),) * 2
        )
        if len(faces):
            return True
    return False


# --- text ----------------------------------------------------------------------------------------------


def _text_lines(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes shaped like lines of writing: edge pixels that a short horizontal closing joins into a
    wide, short band, crossed by many vertical strokes (letters) rather than one long edge."""
    H = gray.shape[0]
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    _, edges = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Long straight edges (a sign's frame, a horizon, a table edge) are no letters: drop them first,
    # or the joined band runs into them and stops looking like a line of text.
    straight = cv2.morphologyEx(edges, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 25)))
    straight |= cv2.morphologyEx(edges, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (31, 1)))
    edges = cv2.subtract(edges, cv2.dilate(straight, np.ones((3, 3), np.uint8)))
    joined = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1)))
    # Components, not external contours: a sign's frame must not swallow the lines written inside it.
    n, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    lines = []
    for x, y, w, h, _area in stats[1:n]:
        if not (8 <= h <= 0.12 * H and w >= max(24, 2.5 * h)):
            continue
        band = edges[y : y + h, x : x + w] > 0
        if not 0.3 <= band.mean() <= 0.75:
            continue
        middle = band[h // 4 : 3 * h // 4 + 1].astype(np.int8)
        crossings = float((np.diff(middle, axis=1) > 0).sum(axis=1).mean()) / (w / h)
        if crossings >= 0.4:
            lines.append((int(x), int(y), int(w), int(h)))
    return lines


def has_text_regions(gray: np.ndarray) -> bool:
    """Visible writing: three or more line-shaped bands of letters of about the same height.

    One or two bands turn up in faces, fur and badges; a sign, a page or a poster has more. A single
    short word on a sign is missed: for choosing text edits, a false "text" costs more than a miss.
    """
    heights = np.array([h for _, _, _, h in _text_lines(gray)], dtype=np.float64)
    if len(heights) < 3:
        return False
    ratio = heights / np.median(heights)
    return int(((ratio > 0.6) & (ratio < 1.6)).sum()) >= 3


# --- colour ------------------------------------------------------------------------------------------

COLOR_NAMES: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown", "white", "gray", "black",
)  # fmt: skip
# Hue (OpenCV 0..180) upper bounds of the chromatic names, as indices into COLOR_NAMES; red wraps around.
_HUE_BOUNDS = np.array([6, 20, 34, 78, 96, 130, 148, 168], dtype=np.float32)
_HUE_CODES = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0], dtype=np.uint8)
_BROWN, _WHITE, _GRAY, _BLACK = (COLOR_NAMES.index(n) for n in ("brown", "white", "gray", "black"))


def _color_codes(hsv: np.ndarray) -> np.ndarray:
    """One colour code (index into COLOR_NAMES) per pixel of an OpenCV HSV image (H 0..180, S, V 0..255)."""
    h, s, v = (hsv[..., i].astype(np.float32) for i in range(3))
    chroma = (s > 0.22 * 255) & (v > 0.2 * 255)
    codes = np.where(chroma, _HUE_CODES[np.searchsorted(_HUE_BOUNDS, h, side="right")], _GRAY).astype(np.uint8)
    # Dark oranges and reds read as brown: coffee, wood, fur.
    codes[chroma & (h < 25) & (v < 0.6 * 255) & (s < 0.85 * 255)] = _BROWN
    codes[~chroma & (v < 0.22 * 255)] = _BLACK
    codes[~chroma & (v > 0.78 * 255)] = _WHITE
    return codes


def dominant_colors(hsv: np.ndarray, limit: int = 4, min_share: float = 0.06) -> list[str]:
    counts = np.bincount(_color_codes(hsv).ravel(), minlength=len(COLOR_NAMES))
    order = np.argsort(-counts, kind="stable")
    share = counts / max(int(counts.sum()), 1)
    return [COLOR_NAMES[i] for i in order[:limit] if share[i] >= min_share] or [COLOR_NAMES[order[0]]]


def region_color(rgb: np.ndarray) -> str:
    """The most common colour name in a region (e.g. the subject's box)."""
    return dominant_colors(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV), limit=1, min_share=0.0)[0]


# --- sky -----------------------------------------------------------------------------------------


def _has_sky(rgb: np.ndarray, hsv: np.ndarray) -> bool:
    """Upper third mostly smooth and bluish (day or dusk) or a bright, colourless overcast."""
    top = slice(0, max(1, rgb.shape[0] // 3))
    f = rgb[top].astype(np.float32) / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    v = hsv[top][..., 2] / 255.0
    s = hsv[top][..., 1] / 255.0
    bluish = (b > r + 0.04) & (b >= g - 0.02) & (v > 0.18)
    overcast = (v > 0.8) & (s < 0.12)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.abs(cv2.Laplacian(cv2.GaussianBlur(gray, (3, 3), 0), cv2.CV_32F))[top]
    smooth = grad < 6.0
    return float(((bluish | overcast) & smooth).mean()) >= 0.45


# --- the facts -----------------------------------------------------------------------------------


def analyze(image: np.ndarray) -> PhotoFacts:
    rgb = as_rgb(image)
    work, scale = _downsize(rgb, WORK_SIDE)
    gray = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
    face_gray, face_scale = _downsize(gray, FACE_SIDE)
    face_scale *= scale
    faces = [
        (round(x / face_scale), round(y / face_scale), round(w / face_scale), round(h / face_scale))
        for x, y, w, h in detect_faces(cv2.equalizeHist(face_gray))
    ]
    small, _ = _downsize(work, COLOR_SIDE)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    f = small.astype(np.float32) / 255.0
    spread = float(np.abs(f - f.mean(axis=2, keepdims=True)).max(axis=2).mean())
    is_gray = spread < 0.02
    return PhotoFacts(
        faces=faces,
        has_person=bool(faces) or (not is_gray and _upper_body_with_face(face_gray)),
        has_text=has_text_regions(gray),
        has_sky=not is_gray and _has_sky(small, hsv),
        mean_brightness=round(float(f.mean()), 4),
        warmth=round(float((f[..., 0] - f[..., 2]).mean()), 4),
        saturation=round(float(hsv[..., 1].mean() / 255.0), 4),
        dominant_colors=["gray"] if is_gray else dominant_colors(hsv),
        is_grayscale=is_gray,
    )


# --- where things are ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Regions:
    """Where things are in the photo, in words. Sides are "left" / "center" / "right"."""

    subject: str  # "the person", "the main subject"
    subject_box: tuple[int, int, int, int]  # x, y, w, h in input pixels
    subject_side: str  # left / center / right
    subject_level: str  # top / middle / bottom
    subject_color: str  # colour name of the subject's box
    background_color: str  # colour name of the photo's border
    bright_area: str  # "upper" / "lower" / "left" / "right": the brightest half
    calm_band: str  # "top" / "bottom": the band with least detail, where text reads best
    calm_band_brightness: float  # 0..1


def _third(frac: float, names: tuple[str, str, str]) -> str:
    return names[0] if frac < 0.38 else names[2] if frac > 0.62 else names[1]


def _salient_box(rgb: np.ndarray) -> tuple[tuple[int, int, int, int], tuple[float, float]]:
    """A stand-in for "the subject": the strongest blob of colour distinct from the border and of fine
    detail (subjects are in focus, settings often are not), with a mild centre prior.

    Returns the blob's box and its centre of mass as fractions of width and height.
    """
    lab = cv2.cvtColor(cv2.GaussianBlur(rgb, (5, 5), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
    h, w = lab.shape[:2]
    m = max(2, min(h, w) // 12)
    border = np.concatenate([lab[:m].reshape(-1, 3), lab[-m:].reshape(-1, 3), lab[:, :m].reshape(-1, 3),
                             lab[:, -m:].reshape(-1, 3)])  # fmt: skip
    distinct = np.linalg.norm(lab - np.median(border, axis=0), axis=2)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = cv2.GaussianBlur(np.abs(cv2.Laplacian(gray, cv2.CV_32F)), (0, 0), 4)
    yy, xx = np.mgrid[0:h, 0:w]
    prior = 1.0 - 0.6 * np.hypot(xx / w - 0.5, yy / h - 0.5) / 0.71
    score = (0.5 * distinct / (distinct.max() + 1e-6) + 0.5 * detail / (detail.max() + 1e-6)) * prior
    mask = cv2.morphologyEx(
        (score >= np.percentile(score, 80)).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
    )
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return (w // 4, h // 4, w // 2, h // 2), (0.5, 0.5)
    mass = np.bincount(labels.ravel(), weights=score.ravel(), minlength=n)[1:]
    best = 1 + int(np.argmax(mass))
    x, y, bw, bh = (int(v) for v in stats[best, :4])
    return (x, y, bw, bh), (float(centroids[best][0] / w), float(centroids[best][1] / h))


def describe_regions(image: np.ndarray, facts: PhotoFacts) -> Regions:
    rgb = as_rgb(image)
    small, scale = _downsize(rgb, COLOR_SIDE)
    h, w = small.shape[:2]
    H, W = rgb.shape[:2]
    if facts.faces:
        box = facts.faces[0]
        centre = ((box[0] + box[2] / 2) / W, (box[1] + box[3] / 2) / H)
        subject = "the person"
    else:
        (sx, sy, sw, sh), centre = _salient_box(small)
        box = (round(sx / scale), round(sy / scale), round(sw / scale), round(sh / scale))
        subject = "the person" if facts.has_person else "the main subject"
    # Colours are read on the small copy, so the box is scaled down to it.
    bx, by, bw, bh = (max(0, round(v * scale)) for v in box)
    if facts.faces:
        # A person's colour is their clothing, below the face, not their skin.
        crop = small[min(h - 1, by + 3 * bh // 2) : by + 4 * bh, max(0, bx - bw // 2) : bx + bw + bw // 2]
    else:
        crop = small[by : by + max(bh, 1), bx : bx + max(bw, 1)]
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    halves = {
        "upper": gray[: h // 2].mean(), "lower": gray[h // 2 :].mean(),
        "left": gray[:, : w // 2].mean(), "right": gray[:, w // 2 :].mean(),
    }  # fmt: skip
    detail = np.abs(cv2.Laplacian(gray, cv2.CV_32F))
    band = max(1, h // 4)
    calm = "top" if detail[:band].mean() <= detail[-band:].mean() else "bottom"
    calm_rows = gray[:band] if calm == "top" else gray[-band:]
    m = max(2, min(h, w) // 12)
    border = np.concatenate([small[:m].reshape(-1, 3), small[-m:].reshape(-1, 3)])[None]
    return Regions(
        subject=subject,
        subject_box=box,
        subject_side=_third(centre[0], ("left", "center", "right")),
        subject_level=_third(centre[1], ("top", "middle", "bottom")),
        subject_color=region_color(crop if crop.size else small),
        background_color=region_color(border),
        bright_area=max(halves, key=lambda k: halves[k]),
        calm_band=calm,
        calm_band_brightness=round(float(calm_rows.mean()), 4),
    )
