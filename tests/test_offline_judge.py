"""The offline metric judge against edits built here with plain numpy/OpenCV (not the classical editor).

For every type the judge claims: a correct, clearly visible edit passes; a no-op, a 0.2× weak edit,
the opposite direction (where the type has one), a wrong operation and a destroyed image fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from skimage import data

from editforge import taxonomy
from editforge.models.base import Judge, JudgeReply
from editforge.models.offline.judge.judge import MetricJudge
from editforge.records import CRITERIA, DEFAULT_THRESHOLD
from foreign_edits import (
    Edit,
    blur,
    cartoon,
    extend,
    gains,
    grain,
    lineart,
    oil_paint,
    photo,
    rain,
    recolour,
    sticker,
    summer,
    sunny,
    text_at,
    victorian,
    winter,
    zoom,
    zoom_out,
)

JUDGE = MetricJudge()


@dataclass(frozen=True)
class Case:
    key: str
    instruction: str
    edit: Edit
    wrong: Edit
    opposite: Edit | None = None
    photo: str = "chelsea"
    other: str = "coffee"  # "a different photo"


# fmt: off
CASES = [
    Case("color_tone", "Make the photo warmer, with an amber tone.", gains(1.15, 1.03, 0.85), blur,
         gains(0.85, 1.0, 1.16)),
    Case("film_grain_vintage", "Add heavy film grain to the photo.", grain, blur),
    Case("global_lighting", "Relight the scene with warm golden hour sunlight.", gains(1.18, 1.05, 0.8, 10),
         blur, gains(0.7, 0.8, 1.0)),
    Case("weather", "Make it rain heavily in this scene.", rain, blur, sunny, "coffee", "chelsea"),
    Case("seasonal", "Make it look like winter.", winter, blur, summer),
    Case("style_transfer", "Repaint the photo as an oil painting with visible brush strokes.", oil_paint,
         gains(1.15, 1.03, 0.85)),
    Case("photo_to_cartoon", "Turn the photo into a cartoon.", cartoon, blur),
    Case("modern_historical", "Make it look like a Victorian-era photograph.", victorian, blur),
    Case("zoom_in", "Zoom in on the left side of the frame.", zoom("left"), zoom_out, zoom("right")),
    Case("outpainting", "Extend the canvas to the right.", extend("right"), zoom("center"), extend("left")),
    Case("add_text", 'Add the text "HELLO" in white at the top.', text_at("top"),
         text_at("top", box_only=True), text_at("bottom")),
    Case("person_lineart", "Turn the person into a line-art ink drawing.", lineart, blur, None, "astronaut",
         "chelsea"),
    Case("person_sticker", "Turn the person into a sticker with a white border.", sticker, blur, None,
         "astronaut", "chelsea"),
    Case("text_font_color", "Now make the text you added at the top red.", recolour((220, 30, 35)),
         recolour((220, 30, 35), "outline"), recolour((35, 90, 220)), "chelsea+text"),
]
# fmt: on
IDS = [c.key for c in CASES]
DIRECTED = [c for c in CASES if c.opposite is not None]


def reply_for(case: Case, edited: object, instruction: str | None = None) -> JudgeReply:
    src = photo(case.photo)
    return JUDGE.judge(src, edited, instruction or case.instruction, taxonomy.get(case.key))  # type: ignore[arg-type]


def judge(case: Case, edited: np.ndarray) -> tuple[float, str]:
    reply = reply_for(case, edited)
    assert reply.scores is not None, reply.rationale
    json.loads(reply.raw)  # the measurements travel as JSON
    return reply.scores.weighted(), reply.rationale


def test_claims_exactly_the_classical_types() -> None:
    assert {c.key for c in CASES} | {"replace_text"} == JUDGE.supported_types  # replace_text: test_offline_judge_words
    assert isinstance(JUDGE, Judge)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_correct_edit_passes(case: Case) -> None:
    score, why = judge(case, case.edit(photo(case.photo), 1.0))
    assert score >= DEFAULT_THRESHOLD, why


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_op_fails(case: Case) -> None:
    score, why = judge(case, photo(case.photo).copy())
    assert score < DEFAULT_THRESHOLD, why
    assert "no visible change" in why


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_weak_edit_fails(case: Case) -> None:
    score, why = judge(case, case.edit(photo(case.photo), 0.2))
    assert score < DEFAULT_THRESHOLD, why


@pytest.mark.parametrize("case", DIRECTED, ids=[c.key for c in DIRECTED])
def test_opposite_direction_fails(case: Case) -> None:
    assert case.opposite is not None
    score, why = judge(case, case.opposite(photo(case.photo), 1.0))
    assert score < DEFAULT_THRESHOLD, why


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_wrong_operation_fails(case: Case) -> None:
    score, why = judge(case, case.wrong(photo(case.photo), 1.0))
    assert score < DEFAULT_THRESHOLD, why


@pytest.mark.parametrize("destroy", ["noise", "black", "other_photo"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_destroyed_image_fails(case: Case, destroy: str) -> None:
    src = photo(case.photo)
    if destroy == "noise":
        out = np.random.default_rng(0).integers(0, 256, src.shape, dtype=np.uint8)
    elif destroy == "black":
        out = np.zeros_like(src)
    else:
        out = cv2.resize(photo(case.other), (src.shape[1], src.shape[0]), interpolation=cv2.INTER_AREA)
    score, why = judge(case, out)
    assert score < DEFAULT_THRESHOLD, why


def test_abstains_for_a_type_without_a_check() -> None:
    src = photo("chelsea")
    reply = JUDGE.judge(src, blur(src), "Remove the cat.", taxonomy.get("remove_object"))
    assert reply.scores is None
    assert reply.abstain_reason == "metric judge has no check for remove_object"


def test_weighted_score_follows_the_rubric_weights() -> None:
    reply = reply_for(CASES[0], CASES[0].edit(photo(CASES[0].photo), 0.5))
    assert reply.scores is not None
    by_hand = sum(getattr(reply.scores, name) * weight for name, weight in CRITERIA.items())
    assert reply.scores.weighted() == pytest.approx(by_hand, abs=1e-6)
    assert list(CRITERIA.values()) == [0.40, 0.25, 0.20, 0.15]
    raw = json.loads(reply.raw)
    assert raw["weighted"] == pytest.approx(reply.scores.weighted(), abs=1e-4)
    assert raw["params"] == {"direction": "warm"} and "tint" in raw["measures"]


def test_rationale_names_the_evidence() -> None:
    case = CASES[0]
    _, why = judge(case, case.edit(photo(case.photo), 1.0))
    assert "warmth R−B rose" in why and "asked warm" in why and "SSIM" in why


def test_instruction_read_clause_by_clause() -> None:
    # "warm" comes first, so the shared reader takes this for a tone edit; the judge still finds the
    # golden hour that the global_lighting type asks for.
    reply = reply_for(CASES[2], CASES[2].edit(photo(CASES[2].photo), 1.0))
    assert json.loads(reply.raw)["params"] == {"mood": "golden_hour"}


def test_unreadable_direction_is_not_guessed() -> None:
    reply = reply_for(CASES[0], CASES[0].edit(photo(CASES[0].photo), 1.0), "Do something nice.")
    assert reply.scores is not None and reply.scores.instruction_compliance == 0
    assert "not understood" in reply.rationale


def test_unreadable_instruction_judged_against_the_type_where_no_direction_is_needed() -> None:
    case = next(c for c in CASES if c.key == "zoom_in")
    reply = reply_for(case, case.edit(photo(case.photo), 1.0), "Make it better.")
    assert reply.scores is not None and reply.scores.weighted() >= DEFAULT_THRESHOLD
    assert "judged against the edit type alone" in reply.rationale


def test_resized_output_is_compared_at_the_source_size() -> None:
    case = CASES[0]
    edited = case.edit(photo(case.photo), 1.0)
    bigger = cv2.resize(edited, (edited.shape[1] * 5 // 4, edited.shape[0] * 5 // 4), interpolation=cv2.INTER_CUBIC)
    assert judge(case, bigger)[0] >= DEFAULT_THRESHOLD
    same = cv2.resize(photo(case.photo), (bigger.shape[1], bigger.shape[0]), interpolation=cv2.INTER_CUBIC)
    assert judge(case, same)[0] < DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    "broken",
    [
        np.zeros((0, 0, 3), np.uint8),  # empty
        np.zeros((4, 4, 3), np.uint8),  # tiny
        np.full((256, 256, 3), np.nan, np.float32),  # NaN
        np.full((171, 256, 3), 128, np.uint8),  # blank grey frame
        "not an image",
        np.zeros((171, 256, 5), np.uint8),  # five channels
    ],
    ids=["empty", "tiny", "nan", "blank", "str", "5ch"],
)
def test_broken_output_scores_low_without_crashing(broken: object) -> None:
    reply = reply_for(CASES[0], broken)
    assert reply.scores is not None and reply.abstain_reason is None
    assert reply.scores.weighted() < 0.3 and reply.scores.technical_quality <= 0.05, reply.rationale


@pytest.mark.parametrize("form", ["grey", "float01", "rgba"])
def test_off_contract_output_is_measured_but_marked_down(form: str) -> None:
    case = CASES[0]
    edited = case.edit(photo(case.photo), 1.0)
    converted = {
        "grey": cv2.cvtColor(edited, cv2.COLOR_RGB2GRAY),
        "float01": edited.astype(np.float32) / 255,
        "rgba": np.dstack([edited, np.full(edited.shape[:2], 255, np.uint8)]),
    }[form]
    reply = reply_for(case, converted)
    assert reply.scores is not None and reply.scores.technical_quality <= 0.05
    assert "not an RGB uint8 image" in reply.rationale


def test_unusable_source_abstains() -> None:
    reply = JUDGE.judge(np.zeros((3, 3), np.uint8), photo("chelsea"), "Make it warmer.", taxonomy.get("color_tone"))
    assert reply.scores is None and reply.abstain_reason and "source" in reply.abstain_reason


def test_grey_source_photo_does_not_crash() -> None:
    grey = cv2.resize(data.camera(), (256, 256), interpolation=cv2.INTER_AREA)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    for case in CASES:
        reply = JUDGE.judge(rgb, case.edit(rgb, 1.0), case.instruction, taxonomy.get(case.key))
        assert reply.scores is not None, case.key


def test_half_applied_look_fails() -> None:
    case = CASES[6]  # photo_to_cartoon
    src = photo(case.photo)
    styled = case.edit(src, 1.0)
    half = src.copy()
    half[:, src.shape[1] // 2 :] = styled[:, src.shape[1] // 2 :]
    score, why = judge(case, half)
    assert score < DEFAULT_THRESHOLD and "only part of the frame" in why


def test_overdone_tint_fails() -> None:
    case = CASES[0]
    score, why = judge(case, gains(1.6, 1.05, 0.4)(photo(case.photo), 1.0))
    assert score < DEFAULT_THRESHOLD and "overdone" in why


def test_outpainting_with_a_visible_seam_fails() -> None:
    case = next(c for c in CASES if c.key == "outpainting")
    src = photo(case.photo)
    out = case.edit(src, 1.0)
    out[:, src.shape[1] :] = np.clip(out[:, src.shape[1] :].astype(np.int16) + 45, 0, 255).astype(np.uint8)
    score, why = judge(case, out)
    assert score < DEFAULT_THRESHOLD and "old edge" in why


def test_text_in_the_wrong_colour_fails() -> None:
    case = next(c for c in CASES if c.key == "add_text")
    score, why = judge(case, text_at("top")(photo(case.photo), 1.0))
    assert score >= DEFAULT_THRESHOLD
    red = Case(case.key, 'Add the text "HELLO" in red at the top.', case.edit, case.wrong)
    score, why = judge(red, text_at("top")(photo(case.photo), 1.0))
    assert score < DEFAULT_THRESHOLD and "not red" in why


def test_hard_fail_marks_what_a_judge_chain_may_stop_on() -> None:
    """The prefilter flag: set for unchanged or broken output (any type), never for a real edit."""
    import skimage.data

    photo = skimage.data.coffee()[::2, ::2].copy()
    judge = MetricJudge()
    remove = taxonomy.get("remove_object")
    assert "no visible change" in judge.judge(photo, photo, "remove the cup", remove).hard_fail
    assert judge.judge(photo, np.zeros_like(photo), "remove the cup", remove).hard_fail
    flipped = np.ascontiguousarray(photo[:, ::-1])
    assert judge.judge(photo, flipped, "remove the cup", remove).hard_fail is None
    warm = np.clip(photo.astype(np.float32) * [1.12, 1.0, 0.85], 0, 255).astype(np.uint8)
    assert judge.judge(photo, warm, "make it warmer", taxonomy.get("color_tone")).hard_fail is None


@pytest.mark.parametrize(
    ("instruction", "key", "right", "forbidden"),
    [
        ("Make the photo less warm: cool it down.", "color_tone", gains(0.85, 1.0, 1.16), gains(1.15, 1.03, 0.85)),
        ("Not brighter - reduce the brightness, make it moodier.", "global_lighting", gains(0.7, 0.7, 0.7),
         gains(1.3, 1.3, 1.3)),
        ("Make it snow, instead of rain.", "weather", None, rain),
    ],
)  # fmt: skip
def test_the_refused_direction_fails(instruction: str, key: str, right: Edit | None, forbidden: Edit) -> None:
    src = photo("coffee")
    refused = JUDGE.judge(src, forbidden(src, 1.0), instruction, taxonomy.get(key))
    assert refused.scores is not None and refused.scores.weighted() < DEFAULT_THRESHOLD, refused.rationale
    if right is not None:
        kept = JUDGE.judge(src, right(src, 1.0), instruction, taxonomy.get(key))
        assert kept.scores is not None and kept.scores.weighted() >= DEFAULT_THRESHOLD, kept.rationale
