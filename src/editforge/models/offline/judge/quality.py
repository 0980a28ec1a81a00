"""The quality veto: blur, noise, JPEG blocking and pixelation of the output relative to the source, at full resolution.

A right edit that was then wrecked is not a right edit. Each artefact is measured on the whole frame at
the source's own resolution (the output brought to the source's size; for a zoom, against the upsampled
crop), as the rise over the source, and graded from "fine" to "clearly degraded". What the instruction
asks for is allowed: grain, rain or snow may add noise; paintings, fog and cartoons may smooth. The worst
artefact is the severity: past `VETO` the output fails whatever its compliance (a hard failure).

Thresholds were set on scikit-image's photos: a Gaussian blur of σ≈2 px, per-channel noise of σ≈22,
JPEG quality ≤ 8 and 3×3 pixel blocks each land at or past "clearly degraded"; σ 1 blur, JPEG quality
50 and σ 6 noise stay near "fine".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from editforge.models.offline.judge import metrics as m
from editforge.models.offline.judge.checks import fraction_between

BLUR = (2.5, 5.5)  # halvings of the contrast-normalised Laplacian variance: fine / clearly degraded
BLUR_WHEN_SMOOTH = (6.0, 9.5)  # where smoothing is the look (paintings, fog): only mush is degraded
NOISE = (5.0, 12.0)  # rise of the noise estimate (levels)
NOISE_WHEN_TEXTURED = (25.0, 45.0)  # where grain is the look: only absurd noise
BLOCKING = (0.8, 1.8)  # excess of steps on the 8×8 grid over the source's
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


def degradation(reference: np.ndarray, output: np.ndarray, smoothing_ok: bool, noise_ok: bool) -> Degradation:
    """How degraded `output` is against `reference` (float RGB 0–255), on the reference's pixel grid."""
    out = m.resize(output, reference.shape[:2])
    ref_g, out_g = m.gray(reference), m.gray(out)
    halvings = -math.log2(max(m.sharpness(out_g) / (m.sharpness(ref_g) + m.EPS), 1e-6))
    noise = m.noise_sigma(out_g) - m.noise_sigma(ref_g)
    blocks = m.blockiness(out_g) - max(m.blockiness(ref_g), 1.0)
    spread_ref = edge_concentration(ref_g)
    pixelation = (spread_ref - edge_concentration(out_g)) / (spread_ref + m.EPS)
    grades = {
        f"blurred ({halvings:.1f} halvings of sharpness)": fraction_between(
            halvings, *(BLUR_WHEN_SMOOTH if smoothing_ok else BLUR)
        ),
        f"noisy (+{noise:.1f} levels)": fraction_between(noise, *(NOISE_WHEN_TEXTURED if noise_ok else NOISE)),
        f"JPEG-blocked (grid step excess {blocks:.2f})": fraction_between(blocks, *BLOCKING),
        f"pixelated (edges on {pixelation:.0%} fewer lines)": fraction_between(pixelation, *PIXELATION),
    }
    severity = max(grades.values())
    measures = {"blur_halvings": halvings, "noise_rise_full": noise, "blocking_excess": blocks,
                "pixelation": pixelation, "degradation": severity}  # fmt: skip
    return Degradation(severity, [name for name, g in grades.items() if g > 0.1], measures)
