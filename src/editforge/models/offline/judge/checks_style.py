"""Per-type compliance checks of the metric judge for looks that re-render the picture.

Film and period looks (grain, vintage, victorian … 1970s) are told by their cues; paintings,
cartoons and sketches by the share of the change that no blur or sharpen (a 5×5 linear filter) can
explain; the person types by the person's region, found from the face in the source.
"""

from __future__ import annotations

import cv2
import numpy as np

from editforge.models.offline.judge import metrics as m
from editforge.models.offline.judge.checks import (
    Outcome,
    Params,
    Spec,
    Views,
    capped_strength,
    compliance_for,
    fraction_between,
    not_understood,
    outcome_for,
    strength_of,
    with_preservation,
)

# --- film_grain_vintage / modern_historical
FULL_GRAIN = 6.0  # std (levels) of the fine texture added, at native resolution
MAX_GRAIN_TIE = 0.35  # added detail correlating more with source edges is sharpening, not grain
FULL_MONO = 0.6  # 1 − colour-residual ratio: sepia/mono leaves <40 % of the colour
FULL_LIFT = 25.0  # rise of the 2nd-percentile grey: faded, milky blacks
FULL_DESAT = 0.35  # 1 − saturation ratio
FULL_VIGNETTE = 0.35  # drop of corner/centre brightness ratio
FULL_FADE = 0.25  # 1 − contrast (grey std) ratio
PERIOD_PAIR = 1.5  # the two clearest period cues must add up to this (e.g. 0.75 + 0.75)
FULL_ERA_MONO = 0.75  # victorian/1920s: colour mostly gone (sepia or black-and-white)
GREY_SOURCE = 3.0  # colour residual (levels) under which a source is already monochrome
# --- style_transfer / photo_to_cartoon
FULL_RESTYLE = 0.17  # change no 5×5 linear filter explains, over the source's grey std (paint, not blur)
# Named styles, set on foreign and own renderings of scikit-image's photos (a generic smoothed oil filter:
# colour −3…0 %, texture ×0.6–0.8; Van Gogh renderings +27…+106 %, ×0.98–2.3; watercolours −9…−29 % colour).
VG_CHROMA, VG_TEXTURE = (0.05, 0.2), (0.85, 0.95)
WASH_COLOUR, WASH_PALER, WASH_LIGHTER = (0.3, 0.5), (0.04, 0.08), (2.0, 5.0)
ERA_COLOUR = (0.2, 0.35)  # colour kept (residual ratio) below which a 1950s/1970s print is monochrome
ERA_MONO_LEFT = (0.45, 0.6)  # ... and above which a victorian/1920s print still has its colour (a faded 1970s)
FULL_FLATTEN = 0.12  # rise of the share of pixels in the 8 fullest of 64 grey bins (cel tones)
FULL_INK = 0.04  # rise in the share of near-black pixels (comic outlines)
MAX_SKETCH_CHROMA = 8.0  # mean max−min channel (levels) of a grey drawing
FULL_SKETCH_TEXTURE = 0.3  # rise of the fine-detail energy ratio (lines added)
FULL_PAPER_LIFT, PAPER_CHROMA = 40.0, 3.0  # ... or, for a light hand, grey paper: median grey's rise, no colour
# --- person_lineart / person_sticker
PAPER_LIGHT = (150.0, 200.0)  # median grey of the person region: photo-dark / paper-light
FULL_LINE_SHARE, MAX_LINE_SHARE = 0.03, 0.5  # dark line pixels in it: lines on paper, not a dark picture
FULL_LINES_FOLLOW = 0.25  # correlation of the output's ink with the source's edges
PLAIN_TOLERANCE = 22.0  # max channel distance to the background colour
FULL_PLAIN_FRAME = 0.85  # share of the frame's pixels on the plain background
WHITE_BORDER_SHARE, RIM_WIDTH = 0.3, 0.03  # white share of the cut-out's rim band, its depth (of short side)
WHITE_LEVEL = 235.0  # grey level of a sticker's white border
MIN_CUTOUT, MAX_CUTOUT = 0.08, 0.85  # share of the frame the cut-out covers
MAX_BOX_FILL = 0.92  # a person's outline fills less of its bounding box than a rectangle does
FULL_CONTENT_KEPT = 0.8  # correlation of the face's pixels with the source's
# --- preservation: structure SSIM at which structure counts as kept / lost
KEEP_TEXTURED, LOSE_TEXTURED = 0.7, 0.3  # grain adds texture by design
KEEP_PERIOD, LOSE_PERIOD = 0.9, 0.55  # an old-print look keeps the picture sharp enough to read
KEEP_LAYOUT, LOSE_LAYOUT = 0.5, 0.15  # styles repaint texture; the 64-px layout must survive


def _grain(v: Views) -> tuple[float, str, dict[str, float]]:
    added = m.added_texture(v.src_patch, v.out_patch)
    strength = strength_of(added.energy, FULL_GRAIN)
    evidence = f"fine texture added {added.energy:.1f} levels"
    if strength > 0 and added.source_tie > MAX_GRAIN_TIE:
        strength = 0.0
        evidence += f", but it follows the source's edges (tie {added.source_tie:.2f}): sharpening, not grain"
    return strength, evidence, {"grain_energy": added.energy, "added_tie": added.source_tie}


def _period_cues(v: Views) -> dict[str, float]:
    """Cues of an old print, each 1.0 when clearly there."""
    resid = m.colour_residual(v.out) / (m.colour_residual(v.src) + m.EPS)
    src_sat = m.saturation(v.src)
    grey_source = m.colour_residual(v.src) < GREY_SOURCE  # no colour to lose: those cues mean nothing
    return {
        "toned": 0.0 if grey_source else strength_of(1 - resid, FULL_MONO),
        "faded_blacks": strength_of(float(np.percentile(v.out_g, 2) - np.percentile(v.src_g, 2)), FULL_LIFT),
        "desaturated": 0.0 if grey_source else strength_of(1 - m.saturation(v.out) / (src_sat + m.EPS), FULL_DESAT),
        "vignette": strength_of(m.vignette(v.src_g) - m.vignette(v.out_g), FULL_VIGNETTE),
        "low_contrast": strength_of(-v.shifts["contrast"], FULL_FADE),
    }


def _period(cues: dict[str, float]) -> tuple[float, str, dict[str, float]]:
    """Strength of an old-print look: its two clearest cues together (one faint cue is no look)."""
    ranked = sorted(cues.items(), key=lambda kv: -kv[1])
    strength = (capped_strength(ranked[0][1]) + capped_strength(ranked[1][1])) / PERIOD_PAIR
    shown = ", ".join(f"{k.replace('_', ' ')} {val:.2f}" for k, val in ranked[:3])
    return strength, f"period cues (1 = clear): {shown}", {f"cue_{k}": c for k, c in cues.items()}


def check_film_grain_vintage(v: Views, params: Params | None) -> Outcome:
    look = (params or {}).get("look")
    if look not in (None, "grain", "vintage"):
        return not_understood("grain or vintage")
    results = {}
    if look in (None, "grain"):
        results["grain"] = _grain(v)
    if look in (None, "vintage"):
        results["vintage"] = _period(_period_cues(v))
    name = max(results, key=lambda k: results[k][0])  # unparsed: either look will do
    strength, evidence, measures = results[name]
    out = outcome_for(strength, f"{evidence} (asked {look or 'grain or vintage'})", **measures)
    if name == "grain":
        return with_preservation(v, out, KEEP_TEXTURED, LOSE_TEXTURED)
    return with_preservation(v, out, KEEP_PERIOD, LOSE_PERIOD, strict=True)


def cues_colour(v: Views) -> float:
    return m.colour_residual(v.out) / (m.colour_residual(v.src) + m.EPS)


def check_modern_historical(v: Views, params: Params | None) -> Outcome:
    era = (params or {}).get("era")
    if era not in (None, "victorian", "1920s", "1950s", "1970s"):
        return not_understood("which era")
    cues = _period_cues(v)
    mono = cues["toned"] * FULL_MONO / FULL_ERA_MONO
    period, evidence, measures = _period(cues)
    # Victorian plates and 1920s film were monochrome; the 1950s-70s had (faded, tinted) colour. A source
    # that is already monochrome cannot lose colour, so there the other cues of an old print must show.
    if m.colour_residual(v.src) < GREY_SOURCE:
        mono = period
    # The 1950s-70s kept their (faded) colour: a sepia or grey print is another era.
    coloured = 1.0 if m.colour_residual(v.src) < GREY_SOURCE else fraction_between(cues_colour(v), *ERA_COLOUR)
    grey = 1.0 if m.colour_residual(v.src) < GREY_SOURCE else 1 - fraction_between(cues_colour(v), *ERA_MONO_LEFT)
    by_era = {"victorian": mono * grey, "1920s": mono * grey, "1950s": period * coloured, "1970s": period * coloured}
    strength = by_era[era] if era else max(by_era.values())
    out = outcome_for(strength, f"{evidence} (asked {era or 'a historical look'})", **measures)
    return with_preservation(v, out, KEEP_PERIOD, LOSE_PERIOD, strict=True)


def _restyle(v: Views) -> float:
    """Change no 5×5 linear filter of the source explains (strokes, flat areas, lines), relative."""
    return m.linear_residual(v.src_g, v.out_g) / (float(v.src_g.std()) + 1.0)


def _style_fit(v: Views, style: str) -> tuple[float, str, dict[str, float]]:
    """How well a repainting is the named style, not just any paint filter (1 = fits, 0 = another style).

    Van Gogh: bold brushwork (fine texture kept or added, not smoothed away) and intensified colour; a
    plain smoothed, posterised "oil" filter has neither. Watercolour: the colour stays (not a grey
    drawing) but paler or lighter washes (an oil filter keeps full colour and the darks).
    """
    chroma = m.chroma(v.out) / (m.chroma(v.src) + 1.0) - 1.0
    texture = m.texture_ratio(v.src_g, v.out_g)
    colour_kept = m.colour_residual(v.out) / (m.colour_residual(v.src) + m.EPS)
    measures = {"chroma_change": chroma, "texture_ratio": texture, "colour_kept": colour_kept}
    if style == "van_gogh":
        fit = min(fraction_between(chroma, VG_CHROMA[0], VG_CHROMA[1]), fraction_between(texture, *VG_TEXTURE))
        why = "" if fit >= 1 else f"; not Van Gogh's manner (colour {chroma:+.0%}, brush texture ×{texture:.2f})"
    elif style == "watercolor":
        lighter = v.shifts["lab_L"]
        washed = max(fraction_between(-chroma, *WASH_PALER), fraction_between(lighter, *WASH_LIGHTER))
        fit = min(fraction_between(colour_kept, *WASH_COLOUR), washed)
        shown = f"colour kept {colour_kept:.2f}, {chroma:+.0%}, L* {lighter:+.1f}"
        why = "" if fit >= 1 else f"; not watercolour washes ({shown})"
    else:
        return 1.0, "", measures
    return fit, why, measures


def check_style_transfer(v: Views, params: Params | None) -> Outcome:
    style = (params or {}).get("style", "painting")
    restyle, texture = _restyle(v), m.texture_change(v.src_g, v.out_g)
    fit, why, fit_measures = _style_fit(v, style)
    evidence = (f"repainted {restyle:.0%} of the tonal range beyond any blur/sharpen, fine texture changed "
                f"{texture:.0%} (asked {style.replace('_', ' ')}){why}")  # fmt: skip
    strength = strength_of(restyle, FULL_RESTYLE) * fit
    out = outcome_for(strength, evidence, restyle=restyle, texture_change=texture, style_fit=fit, **fit_measures)
    return with_preservation(v, out, KEEP_LAYOUT, LOSE_LAYOUT, layout=True)


def _on_paper(v: Views) -> float:
    """A light-handed sketch: paper-light overall, its dark strokes along the source's edges (it may hold
    less fine detail than a textured photo, so a rise of detail is not required)."""
    lighter = float(np.median(v.out_g) - np.median(v.src_g))
    follow = m.correlation(cv2.GaussianBlur(255 - v.out_g, (0, 0), 2), m.edge_map(v.src_g, 2))
    return min(strength_of(lighter, FULL_PAPER_LIFT), strength_of(follow, FULL_LINES_FOLLOW))


def check_photo_to_cartoon(v: Views, params: Params | None) -> Outcome:
    style = (params or {}).get("style")
    if style not in (None, "cartoon", "comic", "pencil_sketch"):
        return not_understood("cartoon, sketch or comic")
    restyle = _restyle(v)
    flatten = m.tone_peakiness(v.out_g) - m.tone_peakiness(v.src_g)
    ink = float(np.mean(v.out_g < 60) - np.mean(v.src_g < 60))
    chroma, lines = m.chroma(v.out), m.texture_ratio(v.src_g, v.out_g) - 1
    coloured, redrawn = (
        fraction_between(chroma, MAX_SKETCH_CHROMA, 2 * MAX_SKETCH_CHROMA),
        strength_of(restyle, FULL_RESTYLE),
    )
    # The light-hand reading asks for a drawing with no colour at all: a pale, desaturated photo is not one.
    paper = _on_paper(v) * (1 - fraction_between(chroma, PAPER_CHROMA, 2 * PAPER_CHROMA))
    cues = {
        "cartoon": min(redrawn, strength_of(flatten, FULL_FLATTEN)) * coloured,
        "comic": min(redrawn, strength_of(ink, FULL_INK)) * coloured,
        "pencil_sketch": min(redrawn, max(strength_of(lines, FULL_SKETCH_TEXTURE), paper)) * (1 - coloured),
    }
    name = style or max(cues, key=lambda k: cues[k])  # unparsed: any of the three will do
    evidence = (
        f"redrawn {restyle:.0%} of the tonal range, tones flattened {flatten:+.0%}, ink {ink:+.1%}, "
        f"chroma {chroma:.0f}, line detail {lines:+.0%} (asked {name.replace('_', ' ')})"
    )
    measures = {
        "restyle": restyle,
        "flatten": flatten,
        "ink": ink,
        "chroma_level": chroma,
        "line_detail": lines,
    }
    # No "overdone" here: a sketch or comic replaces the photo's rendering entirely by design.
    out = outcome_for(cues[name], evidence, None, **measures, **{f"cue_{k}": c for k, c in cues.items()})
    return with_preservation(v, out, KEEP_LAYOUT, LOSE_LAYOUT, layout=True)


def person_box(v: Views) -> tuple[tuple[int, int, int, int], str]:
    """(x0, y0, x1, y1) of the person on the working grid: from the face down, else a central guess."""
    H, W = v.src.shape[:2]
    if v.face is None:
        return (int(0.2 * W), int(0.1 * H), int(0.8 * W), H), "no face found; assumed a central person"
    fx, fy, fw, fh = v.face
    box = (max(0.0, fx - 1.0 * fw), max(0.0, fy - 0.5 * fh), min(1.0, fx + 2.0 * fw), 1.0)
    return (int(box[0] * W), int(box[1] * H), int(box[2] * W), int(box[3] * H)), "person placed from the face"


def _background_kept(v: Views, box: tuple[int, int, int, int]) -> float:
    """1 when the area around the person is untouched or turned into plain/paper background."""
    x0, y0, x1, y1 = box
    outside = np.ones(v.src_g.shape, bool)
    outside[y0:y1, x0:x1] = False
    if outside.sum() < 64:
        return 1.0
    o, s = v.out_g[outside], v.src_g[outside]
    unchanged = 1 - fraction_between(float(np.mean(np.abs(o - s))), 6, 20)
    return max(
        unchanged, 1 - fraction_between(float(o.std()), 25, 45), fraction_between(float(np.median(o)), *PAPER_LIGHT)
    )


def check_person_lineart(v: Views, params: Params | None) -> Outcome:
    box, note = person_box(v)
    x0, y0, x1, y1 = box
    out_g, src_g = v.out_g[y0:y1, x0:x1], v.src_g[y0:y1, x0:x1]
    median, chroma, lines = (
        float(np.median(out_g)),
        m.chroma(v.out[y0:y1, x0:x1]),
        float(np.mean(out_g < 110)),
    )
    follow = m.correlation(cv2.GaussianBlur(255 - out_g, (0, 0), 2), m.edge_map(src_g, 2))
    on_paper = min(fraction_between(median, *PAPER_LIGHT), fraction_between(16 - chroma, 0, 8))
    strength = min(on_paper, strength_of(lines, FULL_LINE_SHARE) if lines <= MAX_LINE_SHARE else 0.0,
                   strength_of(follow, FULL_LINES_FOLLOW))  # fmt: skip
    evidence = (f"person region median grey {median:.0f}, chroma {chroma:.0f}, dark lines {lines:.1%}, "
                f"lines follow the source's edges r={follow:.2f} ({note})")  # fmt: skip
    background = _background_kept(v, box)
    measures = {"median_grey": median, "chroma_level": chroma, "line_share": lines, "lines_follow": follow,
                "background_ok": background, "strength": strength}  # fmt: skip
    preservation = 0.6 * fraction_between(follow, 0.05, FULL_LINES_FOLLOW) + 0.4 * background
    note = f"lines follow the person r={follow:.2f}, background ok {background:.2f}"
    return Outcome(compliance_for(strength), evidence, measures, preservation, note)


def _background_mask(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(mask of the plain background reached from the frame, its colour, share of the frame on it).

    The frame's least plain side is left out: a bust sticker is cut off by the bottom edge.
    """
    sides = [rgb[:3].reshape(-1, 3), rgb[-3:].reshape(-1, 3), rgb[:, :3].reshape(-1, 3),
             rgb[:, -3:].reshape(-1, 3)]  # fmt: skip
    colour = np.median(np.concatenate(sides), axis=0)
    near = np.abs(rgb - colour).max(axis=2) <= PLAIN_TOLERANCE
    _, labels = cv2.connectedComponents(near.astype(np.uint8), connectivity=4)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    mask = np.isin(labels, edge_labels[edge_labels > 0])
    plain = sorted(float(np.mean(np.abs(side - colour).max(axis=1) <= PLAIN_TOLERANCE)) for side in sides)
    return mask, colour, float(np.mean(plain[1:]))


def check_person_sticker(v: Views, params: Params | None) -> Outcome:
    box, note = person_box(v)
    bg, colour, on_frame = _background_mask(v.out)
    fg = ~bg
    H, W = fg.shape
    fx, fy, fw, fh = v.face or (box[0] / W, box[1] / H, (box[2] - box[0]) / W, (box[3] - box[1]) / H)
    fx0, fy0, fx1, fy1 = int(fx * W), int(fy * H), int((fx + fw) * W), int((fy + fh) * H)
    holds_person = bool(fg[min((fy0 + fy1) // 2, H - 1), min((fx0 + fx1) // 2, W - 1)])
    k = max(5, round(RIM_WIDTH * min(H, W)) * 2 + 1)
    rim = fg & ~cv2.erode(fg.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool)
    white_rim = float(np.mean((v.out_g[rim] >= WHITE_LEVEL) & (m.chroma_map(v.out)[rim] < 20))) if rim.any() else 0.0
    # On a white backdrop the white border merges with it: it cannot be seen, so it is not judged.
    white_bg = m.gray(colour[None, None, :])[0, 0] >= WHITE_LEVEL and float(np.ptp(colour)) < 12
    ys, xs = np.nonzero(fg)
    fill = fg.sum() / max((np.ptp(ys) + 1) * (np.ptp(xs) + 1), 1) if fg.any() else 0.0
    # A cut-out holds the face and is not a rectangle (a box cut out is not the person).
    cutout = float(holds_person and MIN_CUTOUT <= fg.mean() <= MAX_CUTOUT and fill <= MAX_BOX_FILL)
    face_out = v.out_g[fy0:fy1, fx0:fx1]
    kept = m.correlation(face_out, v.src_g[fy0:fy1, fx0:fx1]) if face_out.size > 16 else 0.0
    plain = fraction_between(on_frame, 0.6, FULL_PLAIN_FRAME) * fraction_between(float(bg.mean()), 0.05, 0.15)
    border = 1.0 if white_bg else strength_of(white_rim, WHITE_BORDER_SHARE)
    strength = min(plain, cutout, border, strength_of(kept, FULL_CONTENT_KEPT))
    evidence = (
        f"plain background on {on_frame:.0%} of the frame edge, cut-out covers {fg.mean():.0%} (fills "
        f"{fill:.0%} of its box), white rim {white_rim:.0%}, face kept r={kept:.2f} ({note})"
    )
    measures = {"frame_plain": on_frame, "foreground_share": float(fg.mean()), "box_fill": float(fill),
                "white_rim": white_rim, "face_kept": kept, "holds_person": str(holds_person),
                "strength": strength}  # fmt: skip
    return Outcome(
        compliance_for(strength), evidence, measures, fraction_between(kept, 0.3, 0.8), f"face kept r={kept:.2f}"
    )


PAINTED = {"smoothing_ok": True, "noise_ok": True, "flat_ok": True}  # smooth areas, flat tones, fine lines
SPECS: dict[str, Spec] = {
    "film_grain_vintage": Spec(check_film_grain_vintage, noise_ok=True),
    "modern_historical": Spec(check_modern_historical, noise_ok=True),
    "style_transfer": Spec(check_style_transfer, **PAINTED),
    "photo_to_cartoon": Spec(check_photo_to_cartoon, white_ok=True, **PAINTED),
    "person_lineart": Spec(check_person_lineart, white_ok=True, diff_seams=False, **PAINTED),
    "person_sticker": Spec(check_person_sticker, flat_ok=True, white_ok=True, diff_seams=False),
}
