"""Per-type compliance checks of the metric judge: shared machinery, and the photometric looks.

Each check reads the asked parameters (from `instruction.read_request`) and measures whether that
change happened, in that direction, strongly enough. A check reduces its evidence to a *strength*:
1.0 means "clearly visible", 0 nothing, negative the opposite way. `compliance_for` turns strength into
compliance steeply, because a 0.1–0.3× edit is a miss, not a partial success: with the other three
criteria perfect (0.60 of the weight) compliance must stay below 0.25 for an edit to fail at 0.7, so
strength below ~0.5 fails; above a clear edit compliance keeps rising a little, so scores rank.

The FULL_* constants are the changes that read as "clearly visible" at the judge's working size
(256 px), set against hand-built edits and the classical editor's output on scikit-image's photos:
a nominal edit lands at 1.2–3× FULL, a 0.1–0.3× miss below 0.75×. An editor whose nominal edits are
far stronger than ~2.5× FULL makes its own 0.3× misses pass: tune FULL_* to a new editor's strength.
The other check modules hold the styles (checks_style) and the framing edits (checks_spatial).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from editforge.models.offline.judge import metrics as m

Params = dict[str, str]
Measures = dict[str, float | str]  # raw numbers; the judge rounds them for the JSON

# --- grading (strength 1.0 = "clearly visible")
PARTIAL_FROM = 0.45  # strength below this earns no compliance: 0.3× of a clear edit sits well below ...
CLEAR_FROM = 0.75  # ... while a moderate edit (0.6 of a finished look, by other code) reaches this
CLEAR_FULL, CLEAR_SPREAD = 1.6, 0.15  # compliance climbs the last 0.15 from CLEAR_FROM to CLEAR_FULL
OVERDONE = (3.5, 5.0)  # strength from which an edit swamps the photo, and where it has fully
OVERDONE_FOLIAGE = (6.0, 8.0)  # autumn: turning a green hillside orange is a large warmth shift by design
OVERDONE_HAZE = (2.3, 3.0)  # fog and sunny grades saturate early: 3× a clear haze is a grey wall
CUE_CAP = 1.5  # in sums of cues, one very strong cue must not buy off a missing one
# --- color_tone / global_lighting: tints in points of R−B per 100 of brightness (gain-type tints
# read the same on dark and bright photos); ×1.15 R / ×0.85 B is about 30 points.
FULL_TINT = 15.0
MIN_TINT_CHROMA = 0.6  # a "tint" that drained colour below 60 % and left greys alone is desaturation
FULL_LIGHT = 20.0  # mean grey change (levels) for brighter/darker: a clear exposure step
FULL_GOLDEN = 20.0  # golden/blue hour are stronger casts than a tone tweak
FULL_GREEN_CAST = 8.0  # G − (R+B)/2 shift (points) of a fluorescent cast
# --- weather. Rain and snow: geometric mean of two cues, the energy of the fine detail added and the
# share of pixels that jumped brighter than their surroundings (thresholded: faint drizzle is none).
FULL_STREAK_ENERGY, FULL_STREAKS = 7.5, 0.012  # std (levels) of added detail; share of streak pixels
MIN_STREAK_COHERENCE = 0.3  # rain falls one way; grain and flakes have no direction (~0.02)
FULL_FLAKE_ENERGY, FULL_FLAKES = 5.0, 0.016  # the same for snow: flakes net of equal dark specks
HEAVY = 1.6  # "heavy" rain or snow must be this many times a clear one
MAX_WEATHER_TIE = 0.45  # flakes are new, not the source's edges (sharpening ties at ~0.5)
FULL_HAZE_CONTRAST, FULL_HAZE_LIFT = 0.3, 35.0  # fog: contrast drop, and dark-channel rise (levels)
FULL_SUN_LIGHT, FULL_SUN_COLOUR, FULL_SUN_WARM = 15.0, 0.25, 12.0  # sunny: any two of the three
# --- seasonal (CIELAB: L 0–100; chroma as a ratio): each season as classical colour work shows it
FULL_AUTUMN_WARM = 14.0  # warmth-index rise: the golden low-sun cast (and greens turned orange)
FOLIAGE_PRESENT, MAX_FOLIAGE_LEFT = 0.05, 0.7  # with >5 % greens, autumn must turn 30 % of them
FULL_SUMMER_COLOUR = 0.22  # Lab chroma rise: lush, saturated
FULL_WINTER_DESAT, FULL_WINTER_LIGHT = 0.3, 4.0  # Lab chroma drop and L rise: snow-white, drained
FULL_SPRING_LIGHT = 3.5  # Lab L rise: light and airy ...
MAX_SPRING_DRAIN, MAX_SPRING_WARM = 0.3, 12.0  # ... without winter's drained colour or autumn's cast
# --- preservation: structure SSIM (moments matched) at which structure counts as kept / lost
KEEP_TONE, LOSE_TONE = 0.85, 0.4
KEEP_PRECIP, LOSE_PRECIP = 0.6, 0.15  # rain streaks and flakes over a smooth sky weigh heavily in SSIM


def fraction_between(x: float, lo: float, hi: float) -> float:
    if hi == lo:
        return float(x >= hi)
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def strength_of(value: float, full: float) -> float:
    return float(value / full)


def capped_strength(value: float) -> float:
    return float(np.clip(value, -CUE_CAP, CUE_CAP))


def compliance_for(strength: float, overdone: tuple[float, float] | None = None) -> float:
    """Compliance from strength: none below PARTIAL_FROM, a pass from CLEAR_FROM, rising to 1 at CLEAR_FULL
    (so a bolder clear edit outranks a just-visible one), and none again once overdone."""
    shown = fraction_between(strength, PARTIAL_FROM, CLEAR_FROM)
    full = shown * (1 - CLEAR_SPREAD + CLEAR_SPREAD * fraction_between(strength, CLEAR_FROM, CLEAR_FULL))
    return full * (1.0 - fraction_between(strength, *overdone)) if overdone else full


@dataclass
class Views:
    """The source and the output as the checks see them: float32, 0–255, each computed once."""

    src_full: np.ndarray  # native size, RGB float32
    out_full: np.ndarray

    @cached_property
    def src(self) -> np.ndarray:
        return m.fit(self.src_full)

    @cached_property
    def out(self) -> np.ndarray:
        """The output resized onto the source's working grid (for types that keep the framing)."""
        return m.resize(self.out_full, self.src.shape[:2])

    @cached_property
    def src_g(self) -> np.ndarray:
        return m.gray(self.src)

    @cached_property
    def out_g(self) -> np.ndarray:
        return m.gray(self.out)

    @cached_property
    def src_patch(self) -> np.ndarray:
        """A native-resolution grey crop: pixel statistics (noise) die in resampling."""
        return m.gray(m.center_patch(self.src_full))

    @cached_property
    def out_patch(self) -> np.ndarray:
        return m.gray(m.center_patch(m.resize(self.out_full, self.src_full.shape[:2])))

    @cached_property
    def structure(self) -> float:
        return m.structure_ssim(self.src_g, self.out_g, 128)

    @cached_property
    def layout(self) -> float:
        return m.structure_ssim(self.src_g, self.out_g, 64)

    @cached_property
    def face(self) -> tuple[float, float, float, float] | None:
        return find_face(self.src_full)

    @cached_property
    def shifts(self) -> dict[str, float]:
        """Global colour and tone changes, out − src (tints in points per 100 of brightness)."""
        src, out = self.src, self.out
        tint, neutral = m.tint_shift(src, out)
        lab_src, lab_out = m.lab_means(src), m.lab_means(out)
        return {
            "lab_L": lab_out["L"] - lab_src["L"],
            "lab_chroma": (lab_out["C"] + 1.0) / (lab_src["C"] + 1.0) - 1.0,
            "light": m.brightness(out) - m.brightness(src),
            "tint": tint,
            "tint_neutral": neutral,
            "green": m.relative(m.green_tint(out), out) - m.relative(m.green_tint(src), src),
            "chroma": m.chroma(out) / (m.chroma(src) + 1.0) - 1.0,
            "contrast": float(self.out_g.std() / (self.src_g.std() + m.EPS)) - 1.0,
        }


@dataclass
class Outcome:
    compliance: float
    evidence: str  # one short clause for the rationale, naming the measurement
    measures: Measures = field(default_factory=dict)
    preservation: float = 1.0
    preservation_note: str = ""
    boundary_seam: float | None = None  # outpainting: step across the old frame's edge (ratio)
    half_applied: float | None = None  # a global look that stops at a straight line (judge fills in)
    reference: np.ndarray | None = None  # what a clean output would look like (zoom: upsampled crop)


Check = Callable[[Views, "Params | None"], Outcome]


@dataclass(frozen=True)
class Spec:
    """How the judge treats a type beyond its check: which artefacts are the point of the edit."""

    check: Check
    smoothing_ok: bool = False  # blur is part of the look (paintings, fog)
    noise_ok: bool = False  # added fine texture is the look (grain, rain, snow)
    flat_ok: bool = False  # few tones / flat areas are the look (cartoons, stickers)
    white_ok: bool = False  # large pure-white areas are the look (sketches, stickers)
    diff_seams: bool = True  # an edit stopping at a straight line is a flaw (global looks)
    aligned: bool = True  # the output keeps the source's framing (not so for zoom and outpainting)
    local: bool = False  # a small local change (recoloured letters): visible below the mean-change floor


_local = threading.local()  # a cascade classifier is not safe to share between threads


def _face_detector() -> cv2.CascadeClassifier:
    if not hasattr(_local, "faces"):
        _local.faces = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    return _local.faces


def find_face(rgb: np.ndarray) -> tuple[float, float, float, float] | None:
    """The largest frontal face as (x, y, w, h) in fractions of the frame, or None."""
    g = np.clip(m.gray(m.fit(rgb, 384)), 0, 255).astype(np.uint8)
    faces = _face_detector().detectMultiScale(g, 1.1, 5, minSize=(max(16, min(g.shape) // 20),) * 2)
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return x / g.shape[1], y / g.shape[0], w / g.shape[1], h / g.shape[0]


def not_understood(asked: str) -> Outcome:
    return Outcome(0.0, f"instruction not understood (could not tell {asked} was asked)")


def outcome_for(
    strength: float, evidence: str, overdone: tuple[float, float] | None = OVERDONE, **measures: float
) -> Outcome:
    measures["strength"] = strength
    if overdone and strength >= overdone[0]:
        evidence += f"; overdone ({strength:.1f}× a clear edit)"
    return Outcome(compliance_for(strength, overdone), evidence, dict(measures))


def with_preservation(
    v: Views, out: Outcome, keep: float, lose: float, layout: bool = False, strict: bool = False
) -> Outcome:
    """Preservation from structure; an edit that destroyed the picture complies with nothing.

    Compliance is cut once structure falls below halfway between `lose` and `keep` (`strict`: below
    `keep`, for looks that should leave the picture as sharp as it was). The global colour shifts
    join the measures of every look.
    """
    value = v.layout if layout else v.structure
    label = "layout SSIM" if layout else "structure SSIM"
    out.measures = {**v.shifts, label.replace(" ", "_").lower(): value, **out.measures}
    out.preservation = fraction_between(value, lose, keep)
    out.preservation_note = f"{label} {value:.2f}"
    cut = fraction_between(value, lose, keep if strict else (lose + keep) / 2)
    if cut < 1.0 and out.compliance > 0:
        out.compliance *= cut
        out.evidence += f", but the picture's structure is lost ({label} {value:.2f})"
    return out


def describe_change(value: float, what: str, unit: str = "") -> str:
    if abs(value) < 0.05:
        return f"{what} did not change"
    return f"{what} {'rose' if value > 0 else 'fell'} by {value:+.1f}{unit}"


def check_color_tone(v: Views, params: Params | None) -> Outcome:
    direction = (params or {}).get("direction")
    if direction not in ("warm", "cool"):
        return not_understood("warm or cool")
    d = v.shifts
    sign = 1.0 if direction == "warm" else -1.0
    strength = strength_of(sign * d["tint"], FULL_TINT)
    evidence = f"{describe_change(d['tint'], 'warmth R−B', ' pts')} (asked {direction})"
    if strength > 0 and d["chroma"] < MIN_TINT_CHROMA - 1 and sign * d["tint_neutral"] < 0.3 * sign * d["tint"]:
        strength = 0.0
        evidence += ", but by draining colour: the greys did not take the tint"
    return with_preservation(v, outcome_for(strength, evidence), KEEP_TONE, LOSE_TONE)


def check_global_lighting(v: Views, params: Params | None) -> Outcome:
    mood = (params or {}).get("mood")
    d = v.shifts
    strengths = {
        "brighter": strength_of(d["light"], FULL_LIGHT),
        "darker": strength_of(-d["light"], FULL_LIGHT),
        "golden_hour": strength_of(d["tint"], FULL_GOLDEN),
        "blue_hour": strength_of(-d["tint"], FULL_GOLDEN),
        "fluorescent": max(strength_of(d["green"], FULL_GREEN_CAST), strength_of(-d["tint"], FULL_GOLDEN)),
    }
    if mood not in strengths:
        return not_understood("which lighting")
    evidence = f"{describe_change(d['light'], 'brightness')}, {describe_change(d['tint'], 'warmth R−B', ' pts')}"
    if mood == "fluorescent":
        evidence += f", {describe_change(d['green'], 'green cast', ' pts')}"
    out = outcome_for(strengths[mood], f"{evidence} (asked {mood.replace('_', ' ')})")
    return with_preservation(v, out, KEEP_TONE, LOSE_TONE)


def _precipitation(v: Views, condition: str) -> tuple[float, str, dict[str, float]]:
    added = m.added_texture(v.src_g, v.out_g)
    jumps = m.speckle_fraction(v.src_g, v.out_g)
    measures = {"added_energy": added.energy, "coherence": added.coherence, "added_tie": added.source_tie,
                "bright_specks": jumps}  # fmt: skip
    if condition == "rain":
        strength = float(
            np.sqrt(max(strength_of(added.energy, FULL_STREAK_ENERGY) * strength_of(jumps, FULL_STREAKS), 0.0))
        )
        strength *= fraction_between(added.coherence, 0.15, MIN_STREAK_COHERENCE)
        evidence = (f"streaks cover {jumps:.1%} of the frame, added detail {added.energy:.1f} levels, "
                    f"direction coherence {added.coherence:.2f}")  # fmt: skip
        return strength, evidence, measures
    strength = float(np.sqrt(max(strength_of(added.energy, FULL_FLAKE_ENERGY) * strength_of(jumps, FULL_FLAKES), 0.0)))
    evidence = f"new bright flakes cover {jumps:.1%} of the frame, added detail {added.energy:.1f} levels"
    if strength > 0 and (streaky := fraction_between(added.coherence, 0.15, MIN_STREAK_COHERENCE)) > 0:
        strength *= 1 - streaky  # flakes fall every way; one-way streaks are rain
        evidence += f", but the added detail runs one way (coherence {added.coherence:.2f}): rain streaks"
    if strength > 0 and added.source_tie > MAX_WEATHER_TIE:
        strength = 0.0
        evidence += f", but the change follows the source's edges (tie {added.source_tie:.2f})"
    return strength, evidence, measures


def check_weather(v: Views, params: Params | None) -> Outcome:
    condition = (params or {}).get("condition")
    if condition not in ("rain", "snow", "fog", "sunny"):
        return not_understood("which weather")
    d = v.shifts
    measures: dict[str, float] = {}
    if condition in ("rain", "snow"):
        strength, evidence, measures = _precipitation(v, condition)
        if (params or {}).get("intensity") == "heavy":
            strength /= HEAVY  # "snow heavily": a few flakes are not what was asked
            evidence += " (asked heavy)"
    elif condition == "fog":
        lift = measures["dark_channel_rise"] = m.dark_channel(v.out) - m.dark_channel(v.src)
        strength = min(strength_of(-d["contrast"], FULL_HAZE_CONTRAST), strength_of(lift, FULL_HAZE_LIFT))
        evidence = f"contrast {d['contrast']:+.0%}, {describe_change(lift, 'dark channel')}"
    else:
        parts = (
            strength_of(d["light"], FULL_SUN_LIGHT),
            strength_of(d["chroma"], FULL_SUN_COLOUR),
            strength_of(d["tint"], FULL_SUN_WARM),
        )
        # any two clear cues of brighter / more colourful / warmer
        strength = sum(capped_strength(p) for p in parts) / 2
        strength = max(strength, max(parts) / 2) if strength >= 1 else strength  # keep overdone visible
        light, warmth = describe_change(d["light"], "brightness"), describe_change(d["tint"], "warmth")
        evidence = f"{light}, colour {d['chroma']:+.0%}, {warmth}"
    haze = condition in ("fog", "sunny")
    out = outcome_for(strength, f"{evidence} (asked {condition})", OVERDONE_HAZE if haze else OVERDONE, **measures)
    return (
        with_preservation(v, out, KEEP_TONE, LOSE_TONE) if haze else with_preservation(v, out, KEEP_PRECIP, LOSE_PRECIP)
    )


def _season_strength(v: Views, season: str) -> float:
    d = v.shifts
    if season == "winter":
        return min(strength_of(-d["lab_chroma"], FULL_WINTER_DESAT), strength_of(d["lab_L"], FULL_WINTER_LIGHT))
    if season == "autumn":
        strength = strength_of(d["tint"], FULL_AUTUMN_WARM)
        foliage = m.hue_fraction(v.src, 70, 170)
        if foliage >= FOLIAGE_PRESENT and m.hue_fraction(v.out, 70, 170) / foliage > MAX_FOLIAGE_LEFT:
            strength = min(strength, 0.5)  # the leaves stayed green
        return strength
    if season == "spring":
        strength = strength_of(d["lab_L"], FULL_SPRING_LIGHT)
        if d["lab_chroma"] < -MAX_SPRING_DRAIN or d["tint"] > MAX_SPRING_WARM:
            strength = min(strength, 0.5)  # drained like winter, or cast like autumn
        return strength
    strength = strength_of(d["lab_chroma"], FULL_SUMMER_COLOUR)
    return strength if d["lab_L"] > -3 else min(strength, 0.5)  # summer is not darker


def check_seasonal(v: Views, params: Params | None) -> Outcome:
    season = (params or {}).get("season")
    if season not in ("winter", "autumn", "spring", "summer"):
        return not_understood("which season")
    d = v.shifts
    evidence = (f"{describe_change(d['tint'], 'warmth', ' pts')}, {describe_change(d['lab_L'], 'lightness L*')}, "
                f"colourfulness {d['lab_chroma']:+.0%} (asked {season})")  # fmt: skip
    overdone = OVERDONE_FOLIAGE if season == "autumn" else OVERDONE  # whole green hillsides turn orange
    return with_preservation(v, outcome_for(_season_strength(v, season), evidence, overdone), KEEP_TONE, LOSE_TONE)


SPECS: dict[str, Spec] = {
    "color_tone": Spec(check_color_tone),
    "global_lighting": Spec(check_global_lighting),
    "weather": Spec(check_weather, smoothing_ok=True, noise_ok=True),
    "seasonal": Spec(check_seasonal),
}
