"""The metric judge's quality veto and hard failures, against edits made here with plain OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from editforge import taxonomy
from editforge.models.offline.judge.judge import MetricJudge
from editforge.models.offline.judge.quality import degradation
from editforge.records import DEFAULT_THRESHOLD
from foreign_edits import gains, grain, photo

JUDGE = MetricJudge()
WARM = "Make the photo warmer, with an amber tone."


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def pixelate(img: np.ndarray, k: int) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (w // k, h // k), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def noisy(img: np.ndarray, sigma: float) -> np.ndarray:
    return np.clip(img + np.random.default_rng(3).normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


WRECKS = {
    "blur": lambda img: cv2.GaussianBlur(img, (0, 0), 2.5),
    "noise": lambda img: noisy(img, 30),
    "jpeg": lambda img: jpeg(img, 4),
    "pixelate": lambda img: pixelate(img, 6),
}


@pytest.mark.parametrize("wreck", sorted(WRECKS))
def test_a_right_edit_then_wrecked_fails_at_every_threshold(wreck: str) -> None:
    src = photo("chelsea", 512)
    warm = gains(1.15, 1.03, 0.85)(src, 1.0)
    clean = JUDGE.judge(src, warm, WARM, taxonomy.get("color_tone"))
    assert clean.scores is not None and clean.scores.weighted() >= DEFAULT_THRESHOLD and clean.hard_fail is None
    reply = JUDGE.judge(src, WRECKS[wreck](warm), WARM, taxonomy.get("color_tone"))
    assert reply.scores is not None and reply.hard_fail, reply.rationale
    assert reply.scores.weighted() < 0.5, reply.rationale


def test_mild_artefacts_are_not_a_veto() -> None:
    src = photo("chelsea", 512)
    warm = gains(1.15, 1.03, 0.85)(src, 1.0)
    reply = JUDGE.judge(src, jpeg(warm, 60), WARM, taxonomy.get("color_tone"))
    assert reply.scores is not None and reply.hard_fail is None
    assert reply.scores.weighted() >= DEFAULT_THRESHOLD, reply.rationale


def test_grain_asked_is_grain_allowed() -> None:
    src = photo("chelsea", 512)
    reply = JUDGE.judge(src, grain(src, 1.5), "Add heavy film grain.", taxonomy.get("film_grain_vintage"))
    assert reply.scores is not None and reply.hard_fail is None
    assert reply.scores.weighted() >= DEFAULT_THRESHOLD, reply.rationale
    noise = degradation(src.astype(np.float32), noisy(src, 30).astype(np.float32), False, False)
    assert noise.wrecked and any("noisy" in f for f in noise.flaws)


def test_another_photo_is_a_hard_failure() -> None:
    src = photo("chelsea", 256)
    other = cv2.resize(photo("coffee", 256), (src.shape[1], src.shape[0]))
    reply = JUDGE.judge(src, other, WARM, taxonomy.get("color_tone"))
    assert reply.scores is not None and reply.hard_fail and "not this photo" in reply.hard_fail
    assert reply.scores.weighted() < 0.5


def test_no_change_is_measured_not_assumed() -> None:
    src = photo("chelsea", 256)
    reply = JUDGE.judge(src, src.copy(), "Remove the cat.", taxonomy.get("remove_object"))  # a type without a check
    assert reply.scores is not None and reply.hard_fail and "no visible change" in reply.hard_fail
    assert reply.scores.instruction_compliance == 0.0
    assert "structure SSIM" in reply.rationale and "blur" in reply.rationale  # preservation and quality measured
    changed = JUDGE.judge(src, cv2.GaussianBlur(src, (0, 0), 2), "Remove the cat.", taxonomy.get("remove_object"))
    assert changed.scores is None  # a visible change of a type without a check: abstain, never guess


def test_a_no_op_saved_as_jpeg_is_still_no_change() -> None:
    src = photo("coffee", 512)
    reply = JUDGE.judge(src, jpeg(src, 95), WARM, taxonomy.get("color_tone"))
    assert reply.scores is not None and reply.hard_fail and "no visible change" in reply.hard_fail
    faint = JUDGE.judge(src, gains(1.03, 1.0, 0.97)(src, 1.0), WARM, taxonomy.get("color_tone"))
    assert faint.hard_fail is None  # a faint but uniform tint is a (weak) change, not a no-op


def test_a_mirrored_blur_outpainting_scores_below_a_real_extension() -> None:
    from foreign_edits import extend

    src = photo("chelsea", 384)
    n = src.shape[1] // 3
    mirrored = cv2.GaussianBlur(cv2.copyMakeBorder(src, 0, 0, 0, n, cv2.BORDER_REFLECT_101), (0, 0), 6)
    mirrored[:, : src.shape[1]] = src
    ask = "Extend the canvas to the right."
    lazy = JUDGE.judge(src, mirrored, ask, taxonomy.get("outpainting"))
    real = JUDGE.judge(src, extend("right")(src, 1.0), ask, taxonomy.get("outpainting"))
    assert lazy.scores is not None and real.scores is not None
    assert lazy.scores.weighted() < DEFAULT_THRESHOLD <= real.scores.weighted(), (lazy.rationale, real.rationale)
    assert "mirrors the photo" in lazy.rationale
