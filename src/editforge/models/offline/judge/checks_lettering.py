"""add_text's layout check: a localized change with letter-like strokes at the asked place and colour.

It sees where and how text was drawn, not what it says: checks_words adds the reading (OCR).
"""

from __future__ import annotations

import cv2
import numpy as np

from editforge.models.offline.judge import metrics as m
from editforge.models.offline.judge.checks import Outcome, Params, Views, compliance_for, fraction_between, strength_of

TEXT_DIFF = 40.0  # per-pixel change (max over channels) that counts as ink
TEXT_MIN_SHARE, TEXT_MAX_SHARE = 0.0008, 0.3  # changed share of the frame: nothing / a global edit
FULL_TEXT_CONTRAST = 70.0  # median change of the ink pixels: faint, ghostly text falls below
FULL_GLYPHS = 3  # separate ink components in the text region (letters)
FULL_TEXT_EDGES = 0.08  # Canny edge density inside the text region
TEXT_POSITION_FULL, TEXT_POSITION_NONE = 0.38, 0.48  # centre of text within top/bottom 38 % / past 48 %
WRONG_COLOUR_CAP = 0.2  # text in another colour than asked, or cut off: a miss, not a partial success
LETTERS_SHOWN = (0.55, 0.8)  # glyphs found per letter asked: text cut by the frame falls below


PALETTE_HUES = {
    "red": 0,
    "orange": 30,
    "gold": 48,
    "yellow": 55,
    "green": 120,
    "blue": 225,
    "purple": 280,
    "pink": 330,
}


def _colour_fits(name: str, rgb: np.ndarray) -> bool | None:
    """Whether a stroke colour reads as the named one; None for names this judge does not know."""
    grey = float(m.gray(rgb[None, None, :])[0, 0])
    spread = float(rgb.max() - rgb.min())
    if name == "white":
        return grey >= 170 and spread <= 60
    if name == "black":
        return grey <= 80
    if name == "silver":
        return 110 <= grey <= 230 and spread <= 50
    if name not in PALETTE_HUES:
        return None
    hsv = cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32)[None, None, :], cv2.COLOR_RGB2HSV)[0, 0]
    gap = abs((float(hsv[0]) - PALETTE_HUES[name] + 180) % 360 - 180)
    return spread >= 40 and gap <= 35


def _ink_colours(out: np.ndarray, mask: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The one or two main colours of the lettering (fill, and outline when there is one), each
    with the mask of its pixels."""
    pixels = out[mask].astype(np.float32)
    if len(pixels) < 8:
        return ([pixels.mean(axis=0)], [mask]) if len(pixels) else ([], [])
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)  # k-means draws its start from OpenCV's RNG: pin it so a verdict is repeatable
    _, labels, centres = cv2.kmeans(pixels, 2, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    shares = np.bincount(labels, minlength=2) / len(labels)
    colours, masks = [], []
    for i in np.argsort(-shares):
        if shares[i] >= 0.2:
            part = np.zeros_like(mask)
            part[mask] = labels == i
            colours.append(centres[i])
            masks.append(part)
    return colours, masks


def _inner(masks: list[np.ndarray]) -> np.ndarray:
    """The fill among the ink colours: the one an outline (the other colour) surrounds."""
    if len(masks) < 2:
        return masks[0]
    kernel = np.ones((3, 3), np.uint8)

    def surrounded(mk: np.ndarray, other: np.ndarray) -> float:
        ring = cv2.dilate(mk.astype(np.uint8), kernel).astype(bool) & ~mk
        return float(other[ring].mean()) if ring.any() else 0.0

    a, b = masks[0], masks[1]
    return a if surrounded(a, b) >= surrounded(b, a) else b


def _glyphs(masks: list[np.ndarray], out_box: np.ndarray) -> int:
    """Separate letter-like components, counted on the fill (outlines merge neighbouring letters and
    break up on light backgrounds); a solid label box is read from the output's own contrast."""
    if not masks:
        return 0
    mask = _inner(masks)
    if (masks[0] | masks[-1]).mean() > 0.75:
        g = np.clip(out_box, 0, 255).astype(np.uint8)
        _, binary = cv2.threshold(g, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        mask = binary.astype(bool) if binary.mean() < 0.5 else ~binary.astype(bool)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    # Anti-aliased crumbs are not letters: count parts at least a tenth the size of the biggest.
    return int(np.sum(areas >= max(3, 0.1 * areas.max()))) if len(areas) else 0


def _position_fit(position: str | None, cy: float) -> float:
    if position == "top":
        return fraction_between(TEXT_POSITION_NONE - cy, 0, TEXT_POSITION_NONE - TEXT_POSITION_FULL)
    if position == "bottom":
        return fraction_between(cy - (1 - TEXT_POSITION_NONE), 0, TEXT_POSITION_NONE - TEXT_POSITION_FULL)
    if position == "center":
        return 1 - fraction_between(abs(cy - 0.5), 0.12, 0.25)
    return 1.0


def check_add_text(v: Views, params: Params | None) -> Outcome:
    params = params or {}
    src = m.fit(v.src_full, 512)  # letters need more pixels than the usual working size
    out = m.resize(v.out_full, src.shape[:2])
    diff = np.abs(out - src).max(axis=2)
    ink = diff > TEXT_DIFF
    share = float(ink.mean())
    untouched = float(np.mean(diff <= 12))
    if share < TEXT_MIN_SHARE or share > TEXT_MAX_SHARE:
        why = "no visible text added" if share < TEXT_MIN_SHARE else "a global change, not added text"
        note = f"{untouched:.0%} untouched"
        return Outcome(
            0.0,
            f"{share:.2%} of pixels changed: {why}",
            {"ink_share": share},
            fraction_between(untouched, 0.6, 0.97),
            note,
        )
    H, W = ink.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, W // 25), max(3, H // 40)))
    n, labels, _, _ = cv2.connectedComponentsWithStats(cv2.dilate(ink.astype(np.uint8), kernel))
    per_blob = np.bincount(labels[ink], minlength=n)
    per_blob[0] = 0
    region = (per_blob >= 0.2 * per_blob.max())[labels]  # the text block: the big blobs of ink
    ys, xs = np.nonzero(region & ink)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    localised = float((region & ink).sum() / ink.sum())
    out_g = m.gray(out)
    inks, ink_masks = _ink_colours(out, region & ink)
    glyphs = _glyphs([mk[y0:y1, x0:x1] for mk in ink_masks], out_g[y0:y1, x0:x1])
    edges = float(cv2.Canny(np.clip(out_g[y0:y1, x0:x1], 0, 255).astype(np.uint8), 80, 160).mean() / 255)
    contrast = float(np.median(diff[region & ink]))
    strength = min(
        strength_of(glyphs, FULL_GLYPHS), strength_of(edges, FULL_TEXT_EDGES), strength_of(contrast, FULL_TEXT_CONTRAST)
    )
    cy = (y0 + y1) / 2 / H
    position = params.get("position")
    fit = _position_fit(position, cy)
    evidence = (
        f"text-like change over {share:.1%} of the frame ({glyphs} glyphs, edge density {edges:.2f}, "
        f"ink contrast {contrast:.0f}) centred at {cy:.0%} height (asked {position or 'anywhere'})"
    )
    compliance = compliance_for(strength) * fit * fraction_between(localised, 0.6, 0.85)
    letters = sum(ch.isalnum() for ch in params.get("text", ""))
    shown = glyphs / letters if letters else 1.0
    if x0 <= 1 or x1 >= W - 1 or shown < LETTERS_SHOWN[1]:
        compliance *= fraction_between(shown, *LETTERS_SHOWN) if shown < LETTERS_SHOWN[1] else 0.0
        compliance = min(compliance, WRONG_COLOUR_CAP)
        evidence += f"; the text runs off the frame or is cut ({glyphs} glyphs for {letters} letters)"
    colour_name = params.get("color")
    fits = [_colour_fits(colour_name, c) for c in inks] if colour_name else []
    colour_ok = None if not fits or None in fits else any(fits)
    if colour_ok is False:
        compliance = min(compliance, WRONG_COLOUR_CAP)
        shown = " and ".join(f"rgb{tuple(int(c) for c in rgb)}" for rgb in inks)
        evidence += f"; the lettering is {shown}, not {colour_name}"
    pad = cv2.dilate(region.astype(np.uint8), kernel, iterations=2).astype(bool)
    rest = float(np.mean(diff[~pad] <= 12)) if (~pad).any() else 1.0
    measures = {"ink_share": share, "glyphs": glyphs, "edge_density": edges, "ink_contrast": contrast,
                "center_y": cy, "position_fit": fit, "localised": localised, "rest_untouched": rest,
                "colour_ok": "unknown" if colour_ok is None else str(colour_ok)}  # fmt: skip
    return Outcome(
        compliance, evidence, measures, fraction_between(rest, 0.9, 0.99), f"{rest:.1%} of the rest untouched"
    )
