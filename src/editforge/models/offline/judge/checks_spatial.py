"""Per-type compliance checks of the metric judge for edits that reframe or add pixels in one place.

zoom_in and outpainting change the framing, so the output is *located* in the source (or the source
in the output) by resizing and template matching; add_text is a localized change with stroke
structure at the asked place, the rest untouched (checks_lettering).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from editforge.models.offline.judge import metrics as m
from editforge.models.offline.judge.checks import (
    Outcome,
    Params,
    Spec,
    Views,
    compliance_for,
    fraction_between,
    strength_of,
)
from editforge.models.offline.judge.quality import reblur_index

# --- zoom_in
ZOOM_MATCH_MIN = 0.8  # NCC of the output against its best source window: below it, not a crop (an
# outpainting matched a 4.7× "crop" of the rocket's repetitive sky at 0.72; real crops match at 0.9+)
MAX_STRETCH = (1.08, 1.2)  # aspect distortion of the crop (×): invisible / clearly distorted
FULL_MAGNIFICATION = 1.3  # 1.3× (a crop of 77 % of the width) reads as a clear zoom
ZOOM_OFFSET_FULL = 0.5  # a "left" crop sits at least halfway from centre to the left edge ...
ZOOM_OFFSET_NONE = 0.15  # ... and one this close to centre is not "left" at all
ZOOM_CENTRE_TOLERANCE = (0.35, 0.7)  # |offset| still centred / clearly off-centre
SUBJECT_CENTRED, SUBJECT_OFF = 0.15, 0.25  # subject's distance from the crop centre, in crop sizes
# --- outpainting
OUTPAINT_MATCH_MIN = 0.8  # NCC of the source against its spot in the output: "unchanged inside"
FULL_MARGIN = 0.15  # new canvas as a share of the old side: 15 % reads as a clear extension
STRAY_MARGIN = 0.04  # more than this on a side not asked for counts as extending it
MIN_FILL_STD = 3.0  # grey std of the new area: below it the canvas was padded with a flat colour
MIRRORED = (0.6, 0.85)  # correlation of the new strip with the old one reflected: a mirror, not new scenery
BLURRED_FILL = (0.1, 0.25)  # re-blur index of the new strip over the old one's: smeared, not painted
SEAM_OK, SEAM_BAD = 3.5, 5.0  # boundary step / neighbouring steps: ~1–3 for a fill that continues the photo
SIDES = {
    "all": "ltrb",
    "horizontal": "lr",
    "vertical": "tb",
    "left": "l",
    "right": "r",
    "top": "t",
    "bottom": "b",
}
SIDE_NAMES = {"l": "left", "r": "right", "t": "top", "b": "bottom"}


@dataclass
class Match:
    score: float
    x: int
    y: int
    w: int
    h: int


def _best_match(image: np.ndarray, template: np.ndarray) -> tuple[float, int, int]:
    res = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
    res = np.nan_to_num(res, nan=-1.0)
    _, score, _, loc = cv2.minMaxLoc(res)
    return float(score), int(loc[0]), int(loc[1])


def _search(image: np.ndarray, template: np.ndarray, sizes: list[tuple[int, int]]) -> Match | None:
    """Best match of `template` resized to each (h, w) that fits inside `image`."""
    best: Match | None = None
    for h, w in sizes:
        if min(h, w) < 12 or h > image.shape[0] or w > image.shape[1]:
            continue
        score, x, y = _best_match(image, m.resize(template, (h, w)))
        if best is None or score > best.score:
            best = Match(score, x, y, w, h)
    return best


def _scales(lo: float, hi: float, n: int) -> list[float]:
    return list(np.geomspace(lo, hi, n)) if hi > lo else [hi]


def locate_crop(src_g: np.ndarray, out_g: np.ndarray) -> Match | None:
    """Where in the source the output is a (resized) crop of: a scale sweep, then scale and aspect refined.

    The aspect is searched too, so a crop that was squashed and stretched back is found, and its
    distortion measured, instead of being missed.
    """
    hs, ws = src_g.shape
    ho, wo = out_g.shape
    best: Match | None = None
    for aspect in {ho / wo, hs / ws}:  # the output's own aspect, or the source's if stretched to it
        sizes = [(round(s * ws * aspect), round(s * ws)) for s in _scales(0.2, 1.0, 28)]
        found = _search(src_g, out_g, sizes)
        if found and (best is None or found.score > best.score):
            best = found
    if best is None:
        return None
    w0, h0 = best.w, best.h
    sizes = [
        (round(h0 * fh), round(w0 * fw)) for fw in np.linspace(0.96, 1.04, 5) for fh in np.geomspace(0.55, 1.82, 11)
    ]
    fine = _search(src_g, out_g, sizes)
    return fine if fine and fine.score > best.score else best


def locate_inset(src_g: np.ndarray, out_g: np.ndarray) -> Match | None:
    """Where (and how large) the source sits inside the output."""
    hs, ws = src_g.shape
    kmax = min(out_g.shape[0] / hs, out_g.shape[1] / ws)
    ks = [k for k in _scales(0.3 * kmax, kmax, 24)] + ([1.0] if kmax >= 1.0 else [])
    coarse = _search(out_g, src_g, [(round(hs * k), round(ws * k)) for k in ks])
    if coarse is None:
        return None
    k0 = coarse.w / ws
    fine = _search(out_g, src_g, [(round(hs * k0 * f), round(ws * k0 * f)) for f in np.linspace(0.96, 1.04, 9)])
    return fine if fine and fine.score > coarse.score else coarse


def subject_point(v: Views) -> tuple[float, float]:
    """The main subject as (x, y) fractions: the largest face, else the centre of mass of detail."""
    if v.face is not None:
        return v.face[0] + v.face[2] / 2, v.face[1] + v.face[3] / 2
    g = v.src_g
    energy = cv2.GaussianBlur(np.abs(cv2.Laplacian(g, cv2.CV_32F)), (0, 0), max(2.0, min(g.shape) / 20))
    total = float(energy.sum()) + m.EPS
    ys, xs = np.mgrid[0 : g.shape[0], 0 : g.shape[1]]
    return float((energy * xs).sum() / total / g.shape[1]), float((energy * ys).sum() / total / g.shape[0])


# ---------------------------------------------------------------- zoom_in


def _region_fit(region: str, ox: float, oy: float, subject_fit: float | None) -> float:
    if region == "center":
        return 1 - fraction_between(max(abs(ox), abs(oy)), *ZOOM_CENTRE_TOLERANCE)
    if region == "subject":
        return 1.0 if subject_fit is None else subject_fit
    along = {"left": -ox, "right": ox, "top": -oy, "bottom": oy}.get(region)
    return 1.0 if along is None else fraction_between(along, ZOOM_OFFSET_NONE, ZOOM_OFFSET_FULL)


def check_zoom_in(v: Views, params: Params | None) -> Outcome:
    region = (params or {}).get("region")  # None: any magnified crop will do
    src_g = v.src_g
    out_g = m.gray(m.fit(v.out_full))
    match = locate_crop(src_g, out_g)
    if match is None or match.score < ZOOM_MATCH_MIN:
        score = match.score if match else 0.0
        why = f"output is not a crop of the source (best match r={score:.2f})"
        return Outcome(0.0, why, {"match": score}, 0.0, "source region not found")
    hs, ws = src_g.shape
    magnification = min(ws / match.w, hs / match.h)
    cx, cy = match.x + match.w / 2, match.y + match.h / 2
    ox = (cx - ws / 2) / max((ws - match.w) / 2, 1.0)
    oy = (cy - hs / 2) / max((hs - match.h) / 2, 1.0)
    subject_fit = None
    if region == "subject":
        sx, sy = subject_point(v)
        off = max(abs(sx * ws - cx) / match.w, abs(sy * hs - cy) / match.h)  # 0 = subject at crop centre
        subject_fit = 1 - fraction_between(off, SUBJECT_CENTRED, SUBJECT_OFF)
    fit = _region_fit(region, ox, oy, subject_fit) if region else 1.0
    strength = strength_of(magnification - 1, FULL_MAGNIFICATION - 1)
    where = f"crop centred at ({cx / ws:.2f}, {cy / hs:.2f}) of the frame"
    evidence = f"magnified {magnification:.2f}×, {where} (asked {region or 'a zoom'})"
    if fit < 1.0:
        evidence += f": not the {region} region"
    aspect = (match.h / match.w) / (v.out_full.shape[0] / v.out_full.shape[1])
    stretch = max(aspect, 1 / aspect)
    if (bent := fraction_between(stretch, *MAX_STRETCH)) > 0:
        fit *= 1 - bent
        evidence += f"; the crop is stretched ×{stretch:.2f} (shapes distorted)"
    scale = v.src_full.shape[1] / ws
    y0, y1, x0, x1 = (int(c * scale) for c in (match.y, match.y + match.h, match.x, match.x + match.w))
    crop = v.src_full[y0:y1, x0:x1]
    reference = m.resize(crop, v.out_full.shape[:2]) if crop.size else None
    measures = {"match": match.score, "magnification": magnification, "offset_x": ox, "offset_y": oy,
                "region_fit": fit, "stretch": stretch}  # fmt: skip
    preservation = fraction_between(match.score, 0.6, 0.9) * (1 - bent)
    note = f"crop matches the source r={match.score:.2f}"
    return Outcome(compliance_for(strength) * fit, evidence, measures, preservation, note, reference=reference)


# ---------------------------------------------------------------- outpainting


def _boundary_seam(out_g: np.ndarray, match: Match, side: str) -> float:
    """Step across the old frame's edge on `side` over the typical step near it (1 = invisible)."""
    g = out_g if side in "lr" else out_g.T
    x, w, y, h = (match.x, match.w, match.y, match.h) if side in "lr" else (match.y, match.h, match.x, match.w)
    edge = x if side in "lt" else x + w
    rows = g[y : y + h]
    steps = np.abs(np.diff(rows, axis=1)).mean(axis=0)  # steps[c] is between column c and c + 1
    at = [steps[c] for c in range(edge - 2, edge + 1) if 0 <= c < steps.size]
    around = [*range(edge - 10, edge - 3), *range(edge + 3, edge + 10)]
    near = [steps[c] for c in around if 0 <= c < steps.size]
    if not at or not near:
        return 1.0
    return float(max(at) / (np.median(near) + 0.5))


def _strips(out_g: np.ndarray, match: Match, side: str) -> tuple[np.ndarray, np.ndarray]:
    """(new strip beyond the old edge on `side`, the old strip inside it mirrored), equal shapes."""
    g = out_g if side in "lr" else out_g.T
    x, w, y, h = (match.x, match.w, match.y, match.h) if side in "lr" else (match.y, match.h, match.x, match.w)
    if side in "lt":
        n = min(x, w)
        return g[y : y + h, x - n : x], g[y : y + h, x : x + n][:, ::-1]
    n = min(g.shape[1] - x - w, w)
    return g[y : y + h, x + w : x + w + n], g[y : y + h, x + w - n : x + w][:, ::-1]


def _lazy_fill(out_g: np.ndarray, match: Match, sides: str) -> tuple[float, float]:
    """(how much the new area mirrors the photo, how much blurrier it is), worst over the extended sides."""
    mirror = soft = 0.0
    for side in sides:
        new, inside = _strips(out_g, match, side)
        if min(new.shape) < 4:
            continue
        mirror = max(mirror, m.correlation(new, inside))
        soft = max(soft, reblur_index(new) - reblur_index(inside))
    return mirror, soft


def check_outpainting(v: Views, params: Params | None) -> Outcome:
    side = (params or {}).get("side")  # None: any extension will do
    scale = m.WORK_SIDE / max(v.src_full.shape[:2])
    oh, ow = v.out_full.shape[:2]
    shrink = min(scale, 640 / max(oh, ow))  # keep the source at working size unless the output is huge
    out_g = m.gray(m.resize(v.out_full, (max(1, round(oh * shrink)), max(1, round(ow * shrink)))))
    src_g = m.gray(m.resize(v.src_full, (round(v.src_full.shape[0] * shrink), round(v.src_full.shape[1] * shrink))))
    match = locate_inset(src_g, out_g)
    if match is None or match.score < OUTPAINT_MATCH_MIN:
        score = match.score if match else 0.0
        why = f"the source is not found unchanged inside the output (best match r={score:.2f})"
        return Outcome(
            0.0, why, {"match": score}, fraction_between(score, 0.5, 0.9), "source not found inside the output"
        )
    H, W = out_g.shape
    margins = {"l": match.x / match.w, "r": (W - match.x - match.w) / match.w, "t": match.y / match.h,
               "b": (H - match.y - match.h) / match.h}  # fmt: skip
    asked = SIDES.get(side or "", "")
    extended = "".join(s for s in "lrtb" if margins[s] > STRAY_MARGIN)
    if asked:
        strength = min(strength_of(margins[s], FULL_MARGIN) for s in asked)
        stray = [SIDE_NAMES[s] for s in extended if s not in asked]
    else:
        strength, stray = max((strength_of(mv, FULL_MARGIN) for mv in margins.values()), default=0.0), []
    new = np.ones_like(out_g, bool)
    new[match.y : match.y + match.h, match.x : match.x + match.w] = False
    fill_std = float(out_g[new].std()) if new.any() else 0.0
    got = ", ".join(f"{SIDE_NAMES[s]} +{margins[s]:.0%}" for s in extended) or "nowhere"
    evidence = f"canvas extended {got} (asked {side or 'any side'})"
    compliance = compliance_for(strength)
    if stray:
        compliance = min(compliance, 0.5)
        evidence += f"; also extended {', '.join(stray)}"
    if new.any() and fill_std < MIN_FILL_STD:
        compliance *= 0.2
        evidence += "; the new area is a flat fill"
    region = out_g[match.y : match.y + match.h, match.x : match.x + match.w]
    kept = m.ssim(m.resize(src_g, region.shape), region)
    seam = max((_boundary_seam(out_g, match, s) for s in extended), default=1.0)
    if (cut := fraction_between(seam, SEAM_OK, SEAM_BAD)) > 0:
        compliance *= 1 - 0.8 * cut  # a fill that does not continue the photo is not an extension of it
        evidence += f"; the new area does not continue the photo (step ×{seam:.1f} at the old edge)"
    mirror, soft = _lazy_fill(out_g, match, extended)
    if (lazy := max(fraction_between(mirror, *MIRRORED), fraction_between(soft, *BLURRED_FILL))) > 0:
        compliance *= 1 - 0.8 * lazy  # the photo reflected or smeared past its edge invents nothing
        evidence += f"; the new area {'mirrors the photo' if mirror >= MIRRORED[0] else 'is a blur'}"
        evidence += f" (mirror r={mirror:.2f}, re-blur +{soft:.2f})"
    measures = {"match": match.score, "fill_std": fill_std, "inside_ssim": kept, "boundary_seam": seam,
                "fill_mirror": mirror, "fill_reblur": soft,
                **{f"margin_{SIDE_NAMES[s]}": mv for s, mv in margins.items()}}  # fmt: skip
    note = f"source kept inside SSIM {kept:.2f}"
    return Outcome(compliance, evidence, measures, fraction_between(kept, 0.5, 0.9), note, boundary_seam=seam)


SPECS: dict[str, Spec] = {
    "zoom_in": Spec(check_zoom_in, diff_seams=False, aligned=False),
    "outpainting": Spec(check_outpainting, diff_seams=False, aligned=False),
}
