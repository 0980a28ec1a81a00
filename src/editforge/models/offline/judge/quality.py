"""The quality veto: blur, noise, JPEG blocking and pixelation of the output relative to the source, at full resolution.

A right edit that was then wrecked is not a right edit. Each artefact is measured on the whole frame at
the source's own resolution (the output brought to the source's size; for a zoom, against the upsampled
crop), as the rise over the source, and graded from "fine" to "clearly degraded". What the instruction
asks for is allowed: grain, rain or snow may add noise; paintings, fog and cartoons may smooth. The worst
artefact is the severity: past `VETO` the output fails whatever its compliance (a hard failure).

Blur is the re-blur index of Crété-Roffet et al. (2007): how little the edges change when blurred once
more. Unlike a Laplacian-variance ratio it does not mistake a repainting's new strokes for sharpness or a
flattened cartoon for blur: foreign and own paintings, sketches and cartoons sit at −0.3…+0.1, a σ 2.5 px
blur of any of them at +0.25…+0.45. Thresholds were set on scikit-image's photos: per-channel noise of
σ≈22, JPEG quality ≤ ~15 and 3×3 pixel blocks land at or past "clearly degraded"; JPEG quality 50 and σ 6
noise stay near "fine".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from editforge.models.offline.judge import metrics as m
from editforge.models.offline.judge.checks import fraction_between

BLUR = (0.1, 0.22)  # rise of the re-blur index (0 sharp … 1 flat): fine / clearly degraded
BLUR_WHEN_SMOOTH = (0.2, 0.32)  # where smoothing is the look (paintings, fog: the editor's fog is +0.16)
NOISE = (5.0, 12.0)  # rise of the noise estimate (levels)
NOISE_WHEN_TEXTURED = (25.0, 45.0)  # where grain is the look: only absurd luminance noise ...
CHROMA_NOISE = (8.0, 20.0)  # ... but no look asks for colour speckle (film grain and strokes are ~0-4)
BLOCKING = (0.7, 1.3)  # excess of steps on the 8×8 grid over the source's
PIXELATION = (0.3, 0.55)  # relative drop of the share of rows/columns carrying 80 % of the edges
VETO = 1.0  # severity from which the output is wrecked


@dataclass
class Degradation:
    severity: float  # 0 = clean, 1 = clearly degraded (the worst artefact)
    flaws: list[str] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def wrecked(self) -> bool:
        return self.severity >= VETO


def edge_concentration(g: np.ndarray) -> float:
    """Share of columns (or rows, whichever is larger) that carry 80 % of the step energy.

    A photo's edges spread over most columns; a pixelated one keeps its steps on the block boundaries only.
    """
    shares = []
    for steps in (np.abs(np.diff(g, axis=1)).mean(axis=0), np.abs(np.diff(g, axis=0)).mean(axis=1)):
        ranked = np.sort(steps)[::-1]
        total = float(ranked.sum())
        if total <= m.EPS:
            return 0.0
        shares.append(float(np.searchsorted(np.cumsum(ranked) / total, 0.8) + 1) / ranked.size)
    return max(shares)


def reblur_index(g: np.ndarray) -> float:
    """Crété-Roffet no-reference blur: 0 = edges as sharp as can be, 1 = already as blurred as a 9-px box blur."""
    worst = 0.0
    for axis, size in ((0, (1, 9)), (1, (9, 1))):
        steps = np.abs(np.diff(g, axis=axis))
        lost = np.maximum(0.0, steps - np.abs(np.diff(cv2.blur(g, size), axis=axis)))
        total = float(steps.sum())
        if total > m.EPS:
            worst = max(worst, (total - float(lost.sum())) / total)
    return worst


def chroma_noise(rgb: np.ndarray) -> float:
    """Noise of the two colour-opponent channels: colour speckle, which no look asks for."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return m.noise_sigma(r - g) + m.noise_sigma(b - 0.5 * (r + g))


def degradation(reference: np.ndarray, output: np.ndarray, smoothing_ok: bool, noise_ok: bool) -> Degradation:
    """How degraded `output` is against `reference` (float RGB 0–255), on the reference's pixel grid."""
    out = m.resize(output, reference.shape[:2])
    ref_g, out_g = m.gray(reference), m.gray(out)
    blur = reblur_index(out_g) - reblur_index(ref_g)
    noise = m.noise_sigma(out_g) - m.noise_sigma(ref_g)
    speckle = chroma_noise(out) - chroma_noise(reference)
    blocks = m.blockiness(out_g) - max(m.blockiness(ref_g), 1.0)
    spread_ref = edge_concentration(ref_g)
    pixelation = (spread_ref - edge_concentration(out_g)) / (spread_ref + m.EPS)
    grades = {
        f"blurred (re-blur index +{blur:.2f})": fraction_between(blur, *(BLUR_WHEN_SMOOTH if smoothing_ok else BLUR)),
        f"noisy (+{noise:.1f} levels)": fraction_between(noise, *(NOISE_WHEN_TEXTURED if noise_ok else NOISE)),
        f"colour speckle (+{speckle:.1f} levels)": fraction_between(speckle, *CHROMA_NOISE),
        f"JPEG-blocked (grid step excess {blocks:.2f})": fraction_between(blocks, *BLOCKING),
        f"pixelated (edges on {pixelation:.0%} fewer lines)": fraction_between(pixelation, *PIXELATION),
    }
    severity = max(grades.values())
    measures = {"reblur_rise": blur, "noise_rise_full": noise, "chroma_noise_rise": speckle, "blocking_excess": blocks,
                "pixelation": pixelation, "degradation": severity}  # fmt: skip
    return Degradation(severity, [name for name, g in grades.items() if g > 0.1], measures)
