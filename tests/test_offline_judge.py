"""The offline metric judge against edits built here with plain numpy/OpenCV (not the classical editor).

For every type the judge claims: a correct, clearly visible edit passes; a no-op, a 0.2× weak edit,
the opposite direction (where the type has one), a wrong operation and a destroyed image fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import pytest
from skimage import data

from editforge import taxonomy
from editforge.models.base import Judge, JudgeReply
from editforge.models.offline.judge import MetricJudge
from editforge.records import CRITERIA, DEFAULT_THRESHOLD

Edit = Callable[[np.ndarray, float], np.ndarray]
JUDGE = MetricJudge()


@cache
def photo(name: str, side: int = 256) -> np.ndarray:
    if name.endswith("+text"):  # white outlined words at the top, as an earlier add_text turn left them
        return text_at("top")(photo(name.removesuffix("+text"), side), 1.0)
    img = getattr(data, name)()
    h, w = img.shape[:2]
    s = side / max(h, w)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def f32(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32)


def blend(src: np.ndarray, look: np.ndarray, s: float) -> np.ndarray:
    """`s` of a finished look over the photo: how the weak (0.2×) versions are made."""
    return u8(f32(src) + (f32(look) - f32(src)) * min(s, 1.0))


def gains(r: float, g: float, b: float, add: float = 0.0) -> Edit:
    return lambda img, s: u8(f32(img) * (1 + (np.array([r, g, b], np.float32) - 1) * s) + add * s)


def blur(img: np.ndarray, s: float = 1.0) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), 2.5)


def saturate(img: np.ndarray, k: float) -> np.ndarray:
    grey = f32(img).mean(axis=2, keepdims=True)
    return u8(grey + (f32(img) - grey) * k)


def grain(img: np.ndarray, s: float) -> np.ndarray:
    noise = np.random.default_rng(1).normal(0, 12, img.shape[:2])[..., None]
    return u8(f32(img) + noise * s)


def rain(img: np.ndarray, s: float) -> np.ndarray:
    h, w = img.shape[:2]
    rng = np.random.default_rng(2)
    layer = np.zeros((h, w), np.float32)
    for _ in range(h * w // 400):
        x, y, n = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(8, 16))
        cv2.line(layer, (x, y), (x + n // 4, y + n), 1.0, 1)
    look = f32(img) * 0.85 + cv2.GaussianBlur(layer, (0, 0), 0.7)[..., None] * 110
    return blend(img, look, s)


def regrade(saturation: float, r: float, g: float, b: float, add: float = 0.0) -> Edit:
    """A finished colour grade (saturation, channel gains, lift), laid over the photo by `s`."""
    return lambda img, s: blend(img, u8(f32(saturate(img, saturation)) * np.array([r, g, b]) + add), s)


sunny, summer = regrade(1.35, 1.08, 1.03, 0.95, 15), regrade(1.5, 1.06, 1.03, 0.94)
winter = regrade(0.45, 0.9, 0.97, 1.1, 25)


def oil_paint(img: np.ndarray, s: float) -> np.ndarray:
    smooth = img
    for _ in range(3):
        smooth = cv2.bilateralFilter(smooth, 9, 60, 9)
    h, w = img.shape[:2]
    strokes = cv2.filter2D(
        np.random.default_rng(5).normal(0, 1, (h, w)).astype(np.float32), -1, np.ones((1, 9), np.float32) / 3
    )
    look = (f32(smooth) // 32) * 32 + 16 + strokes[..., None] * 10
    return blend(img, u8(look), s)


def cartoon(img: np.ndarray, s: float) -> np.ndarray:
    flat = img
    for _ in range(3):
        flat = cv2.bilateralFilter(flat, 7, 40, 7)
    flat = (flat // 48) * 48 + 24
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    edges = cv2.adaptiveThreshold(cv2.medianBlur(grey, 5), 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 5)
    return blend(img, np.where(edges[..., None] == 0, 20, flat).astype(np.uint8), s)


def victorian(img: np.ndarray, s: float) -> np.ndarray:
    sepia = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
    h, w = img.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    vignette = 1 - 0.4 * (np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2)) / np.sqrt(2)) ** 2
    return blend(img, u8((f32(img) @ sepia.T * 0.85 + 20) * vignette[..., None]), s)


def zoom(region: str) -> Edit:
    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        factor = 1 + 0.7 * s
        cw, ch = round(w / factor), round(h / factor)
        x0 = {"left": 0, "right": w - cw}.get(region, (w - cw) // 2)
        return cv2.resize(img[(h - ch) // 2 : (h - ch) // 2 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_CUBIC)

    return run


def zoom_out(img: np.ndarray, s: float = 1.0) -> np.ndarray:
    h, w = img.shape[:2]
    pad = cv2.copyMakeBorder(img, h // 4, h // 4, w // 4, w // 4, cv2.BORDER_REFLECT_101)
    return cv2.resize(pad, (w, h), interpolation=cv2.INTER_AREA)


def extend(side: str) -> Edit:
    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        n = max(1, round(0.3 * w * s))
        left, right = (n, 0) if side == "left" else (0, n)
        canvas = cv2.copyMakeBorder(img, 0, 0, left, right, cv2.BORDER_REFLECT_101)
        soft = cv2.GaussianBlur(canvas, (0, 0), 4)
        ramp_ = np.clip(np.abs(np.arange(canvas.shape[1]) - (left if side == "left" else left + w)) / 12, 0, 1)
        inside = np.zeros(canvas.shape[1], bool)
        inside[left : left + w] = True
        mix = np.where(inside, 0.0, ramp_)[None, :, None]
        return u8(f32(canvas) * (1 - mix) + f32(soft) * mix)

    return run


def text_at(position: str, box_only: bool = False) -> Edit:
    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        layer = img.copy()
        (tw, th), _ = cv2.getTextSize("HELLO", cv2.FONT_HERSHEY_DUPLEX, 1.6, 3)
        org = ((w - tw) // 2, th + 12 if position == "top" else h - 14)
        if box_only:
            cv2.rectangle(layer, (org[0], org[1] - th), (org[0] + tw, org[1]), (255, 255, 255), -1)
        else:
            cv2.putText(layer, "HELLO", org, cv2.FONT_HERSHEY_DUPLEX, 1.6, (0, 0, 0), 7, cv2.LINE_AA)
            cv2.putText(layer, "HELLO", org, cv2.FONT_HERSHEY_DUPLEX, 1.6, (255, 255, 255), 3, cv2.LINE_AA)
        return blend(img, layer, s)

    return run


def recolour(colour: tuple[int, int, int], part: str = "fill") -> Edit:
    """The words text_at("top") drew, with their fill (or, wrongly, their outline) in another colour."""

    def run(img: np.ndarray, s: float) -> np.ndarray:
        h, w = img.shape[:2]
        layer = img.copy()
        (tw, th), _ = cv2.getTextSize("HELLO", cv2.FONT_HERSHEY_DUPLEX, 1.6, 3)
        org = ((w - tw) // 2, th + 12)
        fill = colour
        if part == "outline":
            cv2.putText(layer, "HELLO", org, cv2.FONT_HERSHEY_DUPLEX, 1.6, colour, 7, cv2.LINE_AA)
            fill = (255, 255, 255)
        cv2.putText(layer, "HELLO", org, cv2.FONT_HERSHEY_DUPLEX, 1.6, fill, 3, cv2.LINE_AA)
        return blend(img, layer, s)

    return run


def person_mask(img: np.ndarray) -> np.ndarray:
    """Head and shoulders of the astronaut (face at about x=177, y=66, w=95 in the 512 px photo)."""
    h, w = img.shape[:2]
    k = w / 512
    mask = np.zeros((h, w), np.uint8)
    cx, cy = int(225 * k), int(115 * k)
    cv2.ellipse(mask, (cx, cy), (int(60 * k), int(75 * k)), 0, 0, 360, 1, -1)
    torso = [(cx - 40 * k, 185 * k), (cx + 40 * k, 185 * k), (cx + 190 * k, 300 * k), (cx + 230 * k, h),
             (cx - 230 * k, h), (cx - 190 * k, 300 * k)]  # fmt: skip
    cv2.fillPoly(mask, [np.array(torso, np.int32)], 1)
    return mask


def lineart(img: np.ndarray, s: float) -> np.ndarray:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    lines = cv2.dilate(cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.2), 50, 120), np.ones((2, 2), np.uint8))
    art = np.where(lines > 0, 25, 250).astype(np.uint8)
    return blend(img, np.repeat(art[..., None], 3, axis=2), s)


def sticker(img: np.ndarray, s: float) -> np.ndarray:
    mask = person_mask(img)
    white = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13)))
    outline = cv2.dilate(white, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    look = np.full_like(img, (200, 230, 250))
    look[outline > 0] = (20, 20, 20)
    look[white > 0] = (255, 255, 255)
    look[mask > 0] = img[mask > 0]
    return blend(img, look, s)


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
    assert {c.key for c in CASES} == JUDGE.supported_types
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
