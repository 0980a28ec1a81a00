"""The metric judge's check for recoloured lettering (text_font_color).

The lettering is found in the source with `textfind.find_text` (the same look the classical editor
takes, so the judge knows where the letters were and what colour they had); what changed is read
from the difference. A recolour complies when the changes sit on the letters' fill (not their outline,
not the photo around them), cover the whole word, take the asked colour, and move the fill most of the
way from its old colour to the new one. Lettering the look cannot find (another editor's, with no
outline) is judged from the changes alone: letter-like strokes of the asked colour.
"""

from __future__ import annotations

import cv2
import numpy as np

from editforge.models.offline.core.colours import COLOURS
from editforge.models.offline.core.textfind import find_text, letter_count
from editforge.models.offline.judge import metrics as m
from editforge.models.offline.judge.checks import (
    Outcome,
    Params,
    Views,
    compliance_for,
    fraction_between,
    not_understood,
    strength_of,
)
from editforge.models.offline.judge.checks_lettering import (
    TEXT_DIFF,
    TEXT_MAX_SHARE,
    TEXT_MIN_SHARE,
    WRONG_COLOUR_CAP,
    _colour_fits,
    _ink_colours,
)

WORK = 512  # letters need more pixels than the usual working size
FULL_MOVE = 0.85  # share of the way from the old fill colour to the asked one: a clear recolour
FULL_COVERAGE = 0.85  # share of the letters' fill that changed: half a word is a miss
ON_LETTERS = (0.6, 0.85)  # share of the changed pixels on the letters: below, the change is elsewhere
MIN_CHROMA = 70.0  # max − min channel of a "red" fill: a faint pink tint is not red
FULL_GLYPHS = 3  # letter-like components when the lettering could not be found in the source
KEPT = 12.0  # per-pixel change (levels) up to which a pixel counts as untouched


def _clearly(name: str, rgb: np.ndarray) -> bool | None:
    """Whether `rgb` reads as the named colour, and clearly (a hue colour must be saturated)."""
    fits = _colour_fits(name, rgb)
    if fits and name not in ("white", "black", "silver"):
        return float(rgb.max() - rgb.min()) >= MIN_CHROMA
    return fits


def _main_colour(out: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    colours, masks = _ink_colours(out, mask)
    if not colours:
        return None
    return colours[int(np.argmax([mk.sum() for mk in masks]))]


def _glyphs(mask: np.ndarray) -> int:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return int(np.sum(areas >= max(3, 0.1 * areas.max()))) if len(areas) else 0


def check_text_font_color(v: Views, params: Params | None) -> Outcome:
    params = params or {}
    name = params.get("color")
    if name not in COLOURS:
        return not_understood("which colour the text should take")
    src = m.fit(v.src_full, WORK)
    out = m.resize(v.out_full, src.shape[:2])
    diff = np.abs(out - src).max(axis=2)
    changed = diff > TEXT_DIFF
    share = float(changed.mean())
    untouched = float(np.mean(diff <= KEPT))
    if share < TEXT_MIN_SHARE or share > TEXT_MAX_SHARE:
        why = "no lettering changed colour" if share < TEXT_MIN_SHARE else "a change over the whole picture"
        return Outcome(0.0, f"{share:.2%} of pixels changed: {why}", {"changed_share": share},
                       fraction_between(untouched, 0.6, 0.97), f"{untouched:.0%} untouched")  # fmt: skip
    found = find_text(src / 255.0, params.get("position"), letter_count(params.get("text")))
    measures: dict[str, float | str] = {"changed_share": share, "text_found": str(found is not None)}
    if found is not None:
        fill = found.alpha >= 0.5
        letters = found.alpha > 0.2
        coverage = float((changed & fill).sum() / max(fill.sum(), 1))
        on_letters = float((changed & letters).sum() / changed.sum())
        region = letters | (changed & ~letters)
        old = found.fill * 255.0
        recoloured = changed & fill
        where = f"{found.letters} letter parts found"
    else:
        coverage, recoloured = 1.0, changed
        glyphs = _glyphs(changed)
        on_letters = fraction_between(glyphs, 1, FULL_GLYPHS) if share < 0.05 else 0.0
        region = changed
        old = np.median(src[changed], axis=0)
        where = f"no outlined lettering found in the source; {glyphs} changed strokes"
    new = _main_colour(out, recoloured) if recoloured.any() else None
    fits = _clearly(name, new) if new is not None else False
    target = np.array(COLOURS[name], np.float32)
    moved = float(np.linalg.norm((new if new is not None else old) - old) / max(np.linalg.norm(target - old), 1.0))
    strength = min(strength_of(moved, FULL_MOVE), strength_of(coverage, FULL_COVERAGE))
    compliance = compliance_for(strength) * fraction_between(on_letters, *ON_LETTERS)
    shown = f"rgb{tuple(int(c) for c in new)}" if new is not None else "unchanged"
    evidence = (f"{where}; {coverage:.0%} of the fill changed, {on_letters:.0%} of the changes on the letters, "
                f"now {shown} (from rgb{tuple(int(c) for c in old)}, asked {name})")  # fmt: skip
    if fits is False:
        compliance = min(compliance, WRONG_COLOUR_CAP)
        evidence += f"; the lettering is not {name}"
    kernel = np.ones((5, 5), np.uint8)
    pad = cv2.dilate(region.astype(np.uint8), kernel).astype(bool)
    rest = float(np.mean(diff[~pad] <= KEPT)) if (~pad).any() else 1.0
    if rest < 0.9:
        compliance *= fraction_between(rest, 0.6, 0.9)
        evidence += f"; the picture around the letters changed too ({rest:.0%} untouched)"
    measures |= {"coverage": coverage, "on_letters": on_letters, "moved": moved, "strength": strength,
                 "colour_ok": "unknown" if fits is None else str(fits), "rest_untouched": rest}  # fmt: skip
    return Outcome(
        compliance, evidence, measures, fraction_between(rest, 0.9, 0.99), f"{rest:.1%} of the rest untouched"
    )
