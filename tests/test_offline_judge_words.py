"""The metric judge's word-reading checks (real OCR) against text drawn here with OpenCV, apart from the editor."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from editforge import taxonomy
from editforge.models.offline.judge import ocr
from editforge.models.offline.judge.judge import MetricJudge
from editforge.records import DEFAULT_THRESHOLD
from foreign_edits import photo

pytestmark = pytest.mark.skipif(not ocr.available(), reason="the ocr extra is not installed")
JUDGE = MetricJudge()
FONT = cv2.FONT_HERSHEY_SIMPLEX


def caption(img: np.ndarray, words: str, colour: tuple[int, int, int], box: tuple[int, int, int] | None = None,
            at: str = "top") -> np.ndarray:  # fmt: skip
    out = img.copy()
    h, w = out.shape[:2]
    (tw, th), _ = cv2.getTextSize(words, FONT, 1.5, 4)
    x, y = (w - tw) // 2, th + 24 if at == "top" else h - 24
    if box is not None:
        cv2.rectangle(out, (x - 12, y - th - 12), (x + tw + 12, y + 14), box, -1)
    cv2.putText(out, words, (x, y), FONT, 1.5, colour, 4, cv2.LINE_AA)
    return out


def score(src: np.ndarray, out: np.ndarray, instruction: str, key: str) -> tuple[float, str]:
    reply = JUDGE.judge(src, out, instruction, taxonomy.get(key))
    assert reply.scores is not None, reply.rationale
    return reply.scores.weighted(), reply.rationale


def test_the_asked_words_pass_and_other_words_fail() -> None:
    src = photo("coffee", 512)
    ask = 'Add the text "FRESH" in red at the top.'
    right, why = score(src, caption(src, "FRESH", (220, 30, 35), box=(255, 255, 255)), ask, "add_text")
    assert right >= DEFAULT_THRESHOLD, why  # red words on a white box: an honest way to add text
    wrong, why = score(src, caption(src, "STALE", (220, 30, 35), box=(255, 255, 255)), ask, "add_text")
    assert wrong < DEFAULT_THRESHOLD and "not read" in why


def test_replace_text_needs_the_new_words_and_the_old_gone() -> None:
    src = caption(photo("chelsea", 512), "OPEN", (20, 20, 20), box=(240, 240, 240), at="bottom")
    ask = 'Replace "OPEN" with "SHUT".'
    done = caption(src, "SHUT", (20, 20, 20), box=(240, 240, 240), at="bottom")
    assert score(src, done, ask, "replace_text")[0] >= DEFAULT_THRESHOLD
    both = caption(src, "SHUT", (20, 20, 20), box=(240, 240, 240), at="top")  # new words added, old kept
    right, why = score(src, both, ask, "replace_text")
    assert right < DEFAULT_THRESHOLD and "still there" in why
    other = caption(src, "SOLD", (20, 20, 20), box=(240, 240, 240), at="bottom")
    assert score(src, other, ask, "replace_text")[0] < DEFAULT_THRESHOLD


def test_similarity_reads_across_lines_and_ignores_case_and_spacing() -> None:
    reads = [ocr.Read("good", 0.9, (0.1, 0.1, 0.4, 0.2)), ocr.Read("Morning!", 0.9, (0.45, 0.1, 0.8, 0.2))]
    assert ocr.similarity("GOOD MORNING", reads)[0] == 1.0
    assert ocr.similarity("GOOD EVENING", reads)[0] < ocr.READ_AS


def test_a_recolour_that_erased_the_words_fails() -> None:
    from foreign_edits import recolour, text_at

    src = text_at("top")(photo("coffee"), 1.0)  # white outlined HELLO at the top
    ink = (src.min(axis=2) > 235) | (src.max(axis=2) < 30)
    ink[src.shape[0] // 3 :] = False
    erased = cv2.inpaint(src, cv2.dilate(ink.astype(np.uint8) * 255, np.ones((5, 5), np.uint8)), 5, cv2.INPAINT_TELEA)
    ask = "Make the text at the top red."
    right, why = score(src, recolour((220, 30, 35))(src, 1.0), ask, "text_font_color")
    assert right >= DEFAULT_THRESHOLD, why
    gone, why = score(src, erased, ask, "text_font_color")
    assert gone < DEFAULT_THRESHOLD, why
