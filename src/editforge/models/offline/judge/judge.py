"""The offline metric judge: Pico-Banana's four criteria, measured instead of asked.

No key, no GPU. For each edit type the classical editor does, a check (checks*.py)
reads the instruction's asked value with its own reading (instruction.py) and measures whether that
change happened; seamlessness, preservation and technical quality come from plain measurements
(metrics.py). For any other type it abstains: scores None, with the reason — it never guesses.

Every reply carries its measurements as JSON in `raw`, so a run can be re-filtered later without
re-judging.
"""

from __future__ import annotations

import json
import math

import cv2
import numpy as np

from editforge.models.base import JudgeReply
from editforge.models.offline.judge import metrics as m
from editforge.models.offline.judge import ocr
from editforge.models.offline.judge.checks import (
    KEEP_TONE,
    LOSE_TONE,
    Outcome,
    Params,
    Spec,
    Views,
    fraction_between,
    with_preservation,
)
from editforge.models.offline.judge.checks import SPECS as LOOK_SPECS
from editforge.models.offline.judge.checks_spatial import SEAM_BAD, SEAM_OK
from editforge.models.offline.judge.checks_spatial import SPECS as SPATIAL_SPECS
from editforge.models.offline.judge.checks_style import SPECS as STYLE_SPECS
from editforge.models.offline.judge.checks_words import NEEDS_WORDS
from editforge.models.offline.judge.checks_words import SPECS as WORD_SPECS
from editforge.models.offline.judge.instruction import read_request
from editforge.models.offline.judge.metrics_structure import related_layout
from editforge.models.offline.judge.quality import degradation
from editforge.records import ModelRef, Scores
from editforge.taxonomy import EditType


def _unchanged(v: Views, params: Params | None) -> Outcome:
    """For a type without a check, an unchanged output still has its preservation measured."""
    return with_preservation(v, Outcome(0.0, "no visible change"), KEEP_TONE, LOSE_TONE)


UNCHANGED = Spec(_unchanged)
SPECS: dict[str, Spec] = {
    **LOOK_SPECS,
    **STYLE_SPECS,
    **SPATIAL_SPECS,
    **WORD_SPECS,
}

MAX_SIDE = 1600  # larger photos are measured downsized: statistics, not pixels, are judged
NO_CHANGE_MAD = 1.0  # mean |out − src| (levels) below which nothing visible changed
# A no-op saved as JPEG (quality 95) changes pixels by a level or two, all high-frequency: MSE ≤ ~15
# (PSNR ≥ 36 dB; the detailed rocket photo is the worst) and under a level left once both are smoothed
# (σ 1). A uniform tint of 3 levels keeps its 3 levels through the smoothing; grain too faint to see
# (σ ≤ 5) reads as no change, as it looks.
REENCODE_MSE, REENCODE_SMOOTH = 25.0, 1.0
LOCAL_INK, LOCAL_SHARE = 40.0, 0.0008  # a local edit (recoloured letters) is visible when this share moved this far
BLANK_STD = 2.0  # grey std (levels) of a blank / constant frame
# seamlessness
BLOCKS_OK, BLOCKS_BAD = 0.08, 0.5  # 8×8 block-edge excess over the source: JPEG q≈10 sits near 0.5
BANDING_OK, BANDING_BAD = 0.3, 0.7  # share of tonal levels lost in smooth gradients
HALF_OK, HALF_BAD = 0.8, 0.95  # the edit stops at a straight line: 1.0 = one side untouched, hard edge
# technical quality
CLIP_OK, CLIP_BAD = 0.03, 0.25  # newly clipped share of channel values
BLUR_OK, BLUR_BAD = 1.0, 3.5  # halvings of the contrast-normalised Laplacian variance
NOISE_OK, NOISE_BAD = 4.0, 20.0  # noise sigma rise (levels) for types where noise is a flaw
GRAIN_OK, GRAIN_BAD = 25.0, 45.0  # ... and for types whose look is texture: only absurd noise
FLAT_OK, FLAT_BAD = 12.0, 4.0  # grey std (levels): a nearly flat frame has lost its picture
BROKEN_QUALITY = 0.05  # technical quality of an output that is not an RGB uint8 image
UNRELATED = 0.35  # layout relation (or crop/inset match) below which the output is another picture: pairs of
# different sample photos reach 0.18, right edits (sketches, words on a box) stay above 0.55


def _plain(obj: object) -> object:
    """JSON-ready copy: numpy scalars to Python, floats to 4 places, NaN/inf to null."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return round(obj, 4) if math.isfinite(obj) else None
    return obj


def read_params(instruction: str, key: str) -> Params | None:
    """The asked parameters for `key` (with `avoid`: the values refused), or None when no value is named."""
    request = read_request(instruction, key)
    return None if request is None else dict(request.params)


class MetricJudge:
    """Scores the classical editor's 14 edit types and replace_text, from measurements alone."""

    ref = ModelRef(provider="offline", model="metric-judge", prompt_version="v1")
    supported_types: frozenset[str] = frozenset(SPECS)

    def judge(self, source: np.ndarray, edited: np.ndarray, instruction: str, edit_type: EditType) -> JudgeReply:
        key = edit_type.key
        spec = SPECS.get(key)
        src = m.as_rgb(source)
        if src.image is None:
            return self._abstain(f"source image unusable: {'; '.join(src.problems)}")
        out = m.as_rgb(edited)
        if out.image is None:
            return self._broken(key, f"output unusable: {'; '.join(out.problems)}", out.problems)
        views = Views(m.fit(src.image, MAX_SIDE), m.fit(out.image, MAX_SIDE))
        grey_std = float(m.gray(m.fit(views.out_full)).std())
        if grey_std < BLANK_STD:
            return self._broken(key, f"output is blank (grey std {grey_std:.1f})", out.problems, seam=0.2)
        change = self._change(views)
        if spec is not None and spec.local and change < NO_CHANGE_MAD:
            change = max(change, self._local_change(views))
        if spec is None:
            # Unusable and unchanged outputs fail whatever was asked; anything else needs a check we lack.
            if change >= NO_CHANGE_MAD:
                return self._abstain(f"metric judge has no check for {key}")
            spec = UNCHANGED
        if key in NEEDS_WORDS and change >= NO_CHANGE_MAD and not ocr.available():
            return self._abstain(f"{key} needs the words read: install the OCR extra (pip install 'editforge[ocr]')")
        params = read_params(instruction, key)
        outcome = spec.check(views, params)
        if spec.diff_seams and change >= NO_CHANGE_MAD:
            self._half_applied(views, outcome)
        hard_fail = None
        if change < NO_CHANGE_MAD:
            outcome.compliance = 0.0
            outcome.evidence = hard_fail = f"no visible change (mean |diff| {change:.2f} levels)"
        elif params is None and outcome.compliance > 0:
            outcome.evidence += " (instruction not parsed: judged against the edit type alone)"
        relation = self._relation(views, spec, outcome)
        if relation < UNRELATED:
            outcome.compliance, outcome.preservation = 0.0, 0.0
            hard_fail = hard_fail or f"the output is not this photo edited (relation to the source {relation:.2f})"
            outcome.evidence = hard_fail
        reference = outcome.reference if outcome.reference is not None else views.src_full
        degraded = degradation(reference, views.out_full, spec.smoothing_ok, spec.noise_ok)
        if (cut := fraction_between(degraded.severity, 0.5, 1.0)) > 0 and outcome.compliance > 0:
            outcome.compliance *= 1 - cut  # a wrecked rendering of the edit is not the edit asked for
            outcome.evidence += f", but the output is degraded: {', '.join(degraded.flaws)}"
        if degraded.wrecked:
            hard_fail = hard_fail or f"output degraded beyond what was asked: {', '.join(degraded.flaws)}"
        seam, seam_note, seam_measures = self._seamlessness(views, spec, outcome)
        quality, quality_note, quality_measures = self._technical(views, spec, outcome, out.problems)
        if degraded.severity > 0:
            quality = min(quality, 1.0 - degraded.severity)
            if degraded.flaws:
                quality_note += f"; full resolution: {', '.join(degraded.flaws)}"
        scores = Scores(
            instruction_compliance=float(np.clip(outcome.compliance, 0, 1)),
            seamlessness=seam,
            preservation=float(np.clip(outcome.preservation, 0, 1)),
            technical_quality=float(np.clip(quality, 0, 1)),
        )
        notes = [outcome.evidence, outcome.preservation_note, seam_note, quality_note]
        rationale = "; ".join(n for n in notes if n)
        raw = {
            "judge": self.ref.label(),
            "edit_type": key,
            "params": params,
            "mean_abs_diff": change,
            "relation": relation,
            "measures": outcome.measures | seam_measures | quality_measures | degraded.measures,
            "scores": scores.model_dump(),
            "weighted": scores.weighted(),
            "problems": out.problems,
            "hard_fail": hard_fail,
        }
        return JudgeReply(scores=scores, rationale=rationale, raw=self._json(raw), hard_fail=hard_fail)

    # ------------------------------------------------------------ pieces

    def _abstain(self, reason: str) -> JudgeReply:
        return JudgeReply(
            scores=None,
            rationale=reason,
            abstain_reason=reason,
            raw=self._json({"judge": self.ref.label(), "abstain": reason}),
        )

    def _broken(self, key: str, why: str, problems: list[str], seam: float = 0.0) -> JudgeReply:
        """An output with nothing to measure is a failed edit, scored as such (not an abstention)."""
        scores = Scores(instruction_compliance=0.0, seamlessness=seam, preservation=0.0, technical_quality=0.0)
        raw = {
            "judge": self.ref.label(),
            "edit_type": key,
            "broken": why,
            "problems": problems,
            "scores": scores.model_dump(),
            "weighted": scores.weighted(),
        }
        return JudgeReply(scores=scores, rationale=why, raw=self._json(raw), hard_fail=why)

    @staticmethod
    def _json(payload: dict) -> str:
        return json.dumps(_plain(payload), ensure_ascii=False)

    @staticmethod
    def _relation(v: Views, spec: Spec, outcome: Outcome) -> float:
        """How much the output is this photo at all: 1 = same layout, ~0 = another picture or noise."""
        if not spec.aligned:
            return float(outcome.measures.get("match", 1.0))  # zoom / outpainting: the found crop or inset
        return related_layout(v.src_g, v.out_g)

    @staticmethod
    def _half_applied(v: Views, outcome: Outcome) -> None:
        """A look that stops part-way across the frame complies only in part, and shows a seam."""
        half = m.half_applied(v.src, v.out)
        outcome.half_applied = half
        outcome.measures["half_applied"] = half
        cut = fraction_between(half, HALF_OK, HALF_BAD)
        if cut > 0 and outcome.compliance > 0:
            outcome.compliance *= 1 - cut
            outcome.evidence += f"; applied to only part of the frame (boundary score {half:.2f})"

    @staticmethod
    def _local_change(v: Views) -> float:
        """NO_CHANGE_MAD when a small share of pixels moved a long way (a few recoloured letters), else 0.

        Compared after a light smoothing, so JPEG ringing along letter edges is not a change."""
        if v.out_full.shape != v.src_full.shape:
            return 0.0
        src, out = (cv2.GaussianBlur(img, (0, 0), 1.0) for img in (v.src_full, v.out_full))
        moved = float(np.mean(np.abs(out - src).max(axis=2) > LOCAL_INK))
        return NO_CHANGE_MAD if moved >= LOCAL_SHARE else 0.0

    @staticmethod
    def _change(v: Views) -> float:
        """Mean |out − src| in levels; 0 when the only change is re-encoding noise (a no-op saved as JPEG)."""
        if v.out_full.shape != v.src_full.shape:
            return m.mean_abs_diff(v.src, v.out)
        change = m.mean_abs_diff(v.src_full, v.out_full)
        mse = float(np.mean((v.src_full - v.out_full) ** 2))
        if change >= NO_CHANGE_MAD and mse <= REENCODE_MSE:
            src, out = (cv2.GaussianBlur(img, (0, 0), 1.0) for img in (v.src_full, v.out_full))
            if m.mean_abs_diff(src, out) < REENCODE_SMOOTH:
                return 0.0
        return change

    @staticmethod
    def _seamlessness(v: Views, spec: Spec, outcome: Outcome) -> tuple[float, str, dict]:
        blocks_src = m.blockiness(m.gray(m.center_patch(v.src_full)))
        blocks_out = m.blockiness(m.gray(m.center_patch(v.out_full)))
        excess = blocks_out - max(blocks_src, 1.0)
        penalties = {"8×8 blocking": 0.7 * fraction_between(excess, BLOCKS_OK, BLOCKS_BAD)}
        measures: dict[str, float] = {"blockiness": blocks_out, "blockiness_src": blocks_src}
        if spec.aligned and not spec.flat_ok:  # banding is measured against the same pixels of the source
            band = m.banding(v.src_g, v.out_g)
            measures["banding"] = band
            penalties["banding"] = 0.6 * fraction_between(band, BANDING_OK, BANDING_BAD)
        if outcome.half_applied is not None:
            penalties["the edit stops at a straight line"] = 0.8 * fraction_between(
                outcome.half_applied, HALF_OK, HALF_BAD
            )
        if (step := outcome.boundary_seam) is not None:
            penalties[f"a visible seam at the old frame (×{step:.1f})"] = 0.8 * fraction_between(
                step, SEAM_OK, SEAM_BAD
            )
        score = float(np.clip(1.0 - sum(penalties.values()), 0.0, 1.0))
        flaws = [name for name, p in penalties.items() if p > 0.05]
        note = f"seams/artefacts: {', '.join(flaws)}" if flaws else "no seams or banding"
        return score, note, measures

    @staticmethod
    def _technical(v: Views, spec: Spec, outcome: Outcome, problems: list[str]) -> tuple[float, str, dict]:
        ref_full = outcome.reference if outcome.reference is not None else v.src_full
        ref_patch = m.gray(m.center_patch(ref_full))
        out_patch = m.gray(m.center_patch(v.out_full))
        ref_small, out_small = m.fit(ref_full), m.fit(v.out_full)
        clip = m.clipping_fraction(out_small) - m.clipping_fraction(ref_small)
        sharp = m.sharpness(out_patch) / (m.sharpness(ref_patch) + m.EPS)
        halvings = -math.log2(max(sharp, 1e-6))
        noise = m.noise_sigma(out_patch) - m.noise_sigma(ref_patch)
        spread = float(m.gray(out_small).std())
        # Where blur, noise or white paper is the look itself, it is no flaw (only absurd noise is).
        blurred = 0.0 if spec.smoothing_ok else 0.6 * fraction_between(halvings, BLUR_OK, BLUR_BAD)
        noisy = 0.7 * (
            fraction_between(noise, GRAIN_OK, GRAIN_BAD)
            if spec.noise_ok
            else fraction_between(noise, NOISE_OK, NOISE_BAD)
        )
        penalties = {
            f"new clipping {clip:.0%}": 0.0 if spec.white_ok else 0.6 * fraction_between(clip, CLIP_OK, CLIP_BAD),
            f"blurred (sharpness ×{sharp:.2f})": blurred,
            f"noise +{noise:.1f}": noisy,
            f"nearly flat (grey std {spread:.0f})": 0.6 * fraction_between(-spread, -FLAT_OK, -FLAT_BAD),
        }
        score = float(np.clip(1.0 - sum(penalties.values()), 0.0, 1.0))
        flaws = [name for name, p in penalties.items() if p > 0.05]
        if problems:
            score = min(score, BROKEN_QUALITY)
            flaws.insert(0, f"not an RGB uint8 image ({'; '.join(problems)})")
        note = f"technical: {', '.join(flaws)}" if flaws else "no clipping, blur or noise"
        measures = {"new_clipping": clip, "sharpness_ratio": sharp, "noise_rise": noise, "grey_std": spread}
        return score, note, measures
