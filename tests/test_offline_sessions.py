"""Multi-turn sessions through the offline provider: writer → editor → judge, turn after turn.

Each later turn edits the image the previous turn left, knowing the earlier instructions; the
referring type text_font_color recolours the words an earlier add_text turn put in the picture.
"""

from __future__ import annotations

import json
import re
from functools import cache

import cv2
import numpy as np
import pytest
import skimage.data

from editforge import taxonomy
from editforge.models.base import ModelCallError, TextReply, WriteRequest
from editforge.models.offline.core.analysis import analyze
from editforge.models.offline.core.colours import COLOURS
from editforge.models.offline.core.intent import Intent, parse_instruction
from editforge.models.offline.editor.editor import OPS, ClassicalEditor, draw_for
from editforge.models.offline.judge.judge import MetricJudge
from editforge.models.offline.writer.rewriter import RuleRewriter
from editforge.models.offline.writer.writer import (
    SESSION_ONLY_TYPES,
    SUPPORTED,
    TemplateWriter,
    candidate_types,
    session_types,
)
from editforge.records import DEFAULT_THRESHOLD, PhotoFacts

WRITER, REWRITER, EDITOR, JUDGE = TemplateWriter(), RuleRewriter(), ClassicalEditor(), MetricJudge()
REFERS_BACK = re.compile(r"\b(you added|previous|earlier|before|from before|last)\b")


@cache
def photo(name: str, side: int = 256) -> np.ndarray:
    img = getattr(skimage.data, name)()
    h, w = img.shape[:2]
    s = side / max(h, w)
    out = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out.flags.writeable = False
    return out


@cache
def facts(name: str) -> PhotoFacts:
    return analyze(photo(name))


def nominal(key: str, skip: int = 0) -> int:
    """A seed whose draw is a nominal edit (no miss) for this type."""
    seeds = [s for s in range(400) if draw_for(s, key, OPS[key].flaws).flaw is None]
    return seeds[skip]


def with_flaw(key: str, flaw: str) -> int:
    return next(s for s in range(2000) if draw_for(s, key, OPS[key].flaws).flaw == flaw)


def write(image: np.ndarray, name: str, key: str, seed: int, history: list[str]) -> TextReply:
    return WRITER.write(WriteRequest(image, taxonomy.get(key), seed, facts(name), list(history)))


def asked(reply: TextReply) -> Intent:
    read = json.loads(reply.raw)["intent"]
    return Intent(read["edit_type"], read["params"])


def judged(before: np.ndarray, after: np.ndarray, instruction: str, key: str) -> tuple[float, str]:
    reply = JUDGE.judge(before, after, instruction, taxonomy.get(key))
    assert reply.scores is not None, reply.rationale
    return reply.scores.weighted(), reply.rationale


def red_dominant(pixels: np.ndarray) -> np.ndarray:
    p = pixels.astype(np.int32)
    return (p[:, 0] > p[:, 1] + 80) & (p[:, 0] > p[:, 2] + 80)


@cache
def first_two_turns() -> tuple[list[np.ndarray], list[str], dict]:
    """astronaut: turn 1 adds words (not red), turn 2 cools the colours; both pass the judge."""
    name, images, history = "astronaut", [photo("astronaut")], []
    seed = next(s for s in range(20) if asked(write(images[0], name, "add_text", s, [])).params["color"] != "red")
    turn1 = write(images[0], name, "add_text", seed, [])
    edit1 = EDITOR.edit(images[0], turn1.text, nominal("add_text"))
    assert judged(images[0], edit1.image, turn1.text, "add_text")[0] >= DEFAULT_THRESHOLD
    images.append(edit1.image)
    history.append(turn1.text)
    turn2 = write(images[1], name, "color_tone", 2, history)
    assert asked(turn2).edit_type == "color_tone" and REFERS_BACK.search(turn2.text), turn2.text
    edit2 = EDITOR.edit(images[1], turn2.text, nominal("color_tone"))
    assert judged(images[1], edit2.image, turn2.text, "color_tone")[0] >= DEFAULT_THRESHOLD
    images.append(edit2.image)
    history.append(turn2.text)
    return images, history, json.loads(edit1.raw)


@cache
def red_turn() -> tuple[TextReply, np.ndarray]:
    """Turn 3 of the astronaut session: the writer asks for the added words in red."""
    images, history, _ = first_two_turns()
    for seed in range(60):
        reply = write(images[2], "astronaut", "text_font_color", seed, history)
        if asked(reply).params["color"] == "red":
            out = EDITOR.edit(images[2], reply.text, nominal("text_font_color"))
            return reply, out.image
    raise AssertionError("the writer never asked for red")


# ---------------------------------------------------------------- the referring turn, end to end


def test_third_turn_recolours_the_words_from_turn_one() -> None:
    images, history, first = first_two_turns()
    reply, out = red_turn()
    words = first["params"]["text"]
    assert REFERS_BACK.search(reply.text), reply.text
    assert re.search(r"\b(text|lettering|words)\b", reply.text)
    assert words not in reply.text or f'"{words}"' in reply.text  # named as the words, quoted, if at all
    assert len(reply.text.split()) <= 80
    long = parse_instruction(reply.text)
    short = REWRITER.rewrite(reply.text, taxonomy.get("text_font_color"), 3).text
    assert long is not None and long.edit_type == "text_font_color" and long.params["color"] == "red"
    assert parse_instruction(short) == long, short
    assert "red" in short and len(short.split()) <= 12
    # The letters drawn in turn 1 (their fill, still near its colour after the cooler grade) are red
    # now; outside the words' box nothing moved.
    x0, y0, x1, y1 = (int(round(v)) for v in first["details"]["text_box_xyxy"])
    before = images[2].astype(np.int32)
    fill = np.abs(images[1].astype(np.int32) - COLOURS[first["details"]["colour"]]).max(axis=2) < 40
    fill[:, :] &= np.abs(images[1].astype(np.int32) - images[0].astype(np.int32)).max(axis=2) > 40
    box = np.zeros(fill.shape, bool)
    box[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = True
    assert (fill & box).sum() > 100
    assert red_dominant(out[fill & box]).mean() > 0.9
    assert red_dominant(before[fill & box]).mean() < 0.1
    outside = np.abs(out.astype(np.int32) - before)[~box]
    assert outside.max() <= 2 and outside.mean() < 0.05
    changed = np.abs(out.astype(np.int32) - before).max(axis=2) > 40
    assert changed.any() and not (changed & ~box).any()


def test_judge_passes_the_recolour_and_fails_the_misses() -> None:
    images, _, first = first_two_turns()
    reply, out = red_turn()
    before = images[2]
    score, why = judged(before, out, reply.text, "text_font_color")
    assert score >= DEFAULT_THRESHOLD, why
    assert "letter parts found" in why and "asked red" in why
    assert judged(before, before.copy(), reply.text, "text_font_color")[0] < DEFAULT_THRESHOLD
    position, other = first["params"]["position"], "green" if first["params"]["color"] != "green" else "orange"
    wrong = EDITOR.edit(before, f"Now make the text you added at the {position} {other}.", nominal("text_font_color"))
    assert json.loads(wrong.raw)["details"]["colour"] == other
    score, why = judged(before, wrong.image, reply.text, "text_font_color")
    assert score < DEFAULT_THRESHOLD and "not red" in why
    tint = np.clip(before.astype(np.float32) * 0.6 + np.array(COLOURS["red"]) * 0.4, 0, 255).astype(np.uint8)
    assert judged(before, tint, reply.text, "text_font_color")[0] < DEFAULT_THRESHOLD
    warm = np.clip(before.astype(np.float32) * [1.25, 0.85, 0.85], 0, 255).astype(np.uint8)
    assert judged(before, warm, reply.text, "text_font_color")[0] < DEFAULT_THRESHOLD


@pytest.mark.parametrize("flaw", ["weak", "half_letters"])
def test_editor_misses_fail_the_judge(flaw: str) -> None:
    images, _, _ = first_two_turns()
    reply, _ = red_turn()
    out = ClassicalEditor(miss_rate=1.0).edit(images[2], reply.text, with_flaw("text_font_color", flaw))
    assert json.loads(out.raw)["flaw"] == flaw
    score, why = judged(images[2], out.image, reply.text, "text_font_color")
    assert score < DEFAULT_THRESHOLD, why


def test_four_turn_session_on_coffee() -> None:
    name, image, history, done = "coffee", photo("coffee"), [], []
    for turn, key in enumerate(["add_text", "weather", "text_font_color", "global_lighting"], start=1):
        assert not done or key in session_types(facts(name), done, SUPPORTED)
        reply = write(image, name, key, turn, history)
        assert parse_instruction(reply.text) == asked(reply) and asked(reply).edit_type == key, reply.text
        short = REWRITER.rewrite(reply.text, taxonomy.get(key), turn)
        assert parse_instruction(short.text) == asked(reply), short.text
        if history:
            assert REFERS_BACK.search(reply.text), reply.text
        out = EDITOR.edit(image, reply.text, nominal(key, turn))
        score, why = judged(image, out.image, reply.text, key)
        assert score >= DEFAULT_THRESHOLD, (key, why)
        image, history, done = out.image, [*history, reply.text], [*done, key]


def test_editor_refuses_when_there_are_no_words() -> None:
    with pytest.raises(ModelCallError, match="no text found to recolour"):
        EDITOR.edit(photo("coffee"), "Now make the text you added at the top red.", nominal("text_font_color"))


# ---------------------------------------------------------------- the writer in a session


def test_writer_refuses_text_colour_without_an_added_text_turn() -> None:
    image = photo("astronaut")
    for history in ([], ["Make it warmer."], ["Make the cat wear a tiny red hat."]):
        with pytest.raises(ModelCallError, match="add_text"):
            write(image, "astronaut", "text_font_color", 0, history)
    restyled = ['Add the words "SALE" at the top in white lettering.', "Turn the photo into an oil painting."]
    with pytest.raises(ModelCallError, match="style_transfer"):
        write(image, "astronaut", "text_font_color", 0, restyled)
    fogged = ['Add the words "SALE" at the top in white lettering.', "Cover the scene in thick fog."]
    with pytest.raises(ModelCallError, match="weather"):
        write(image, "astronaut", "text_font_color", 0, fogged)


def test_text_colour_is_a_session_only_type() -> None:
    assert frozenset({"text_font_color"}) == SESSION_ONLY_TYPES
    assert SUPPORTED & EDITOR.supported_types & JUDGE.supported_types >= SESSION_ONLY_TYPES
    single = SUPPORTED & EDITOR.supported_types & JUDGE.supported_types - SESSION_ONLY_TYPES
    assert len(single) == 13 and "add_text" in single
    assert "text_font_color" not in candidate_types(facts("astronaut"), SUPPORTED)


def test_text_colour_turn_knows_the_words_place_and_colour() -> None:
    history = ['Add the words "SALE" in white at the top of the photo.']
    seen = set()
    for seed in range(12):
        reply = write(photo("coffee"), "coffee", "text_font_color", seed, history)
        params = asked(reply).params
        assert params["color"] not in ("white", "silver") and params["color"] in COLOURS
        assert params.get("text", "SALE") == "SALE" and params.get("position", "top") == "top"
        assert set(params) & {"text", "position"}, reply.text  # says which lettering
        assert "SALE" not in reply.text.replace('"SALE"', "")  # the words only ever quoted as the words
        seen.add(params["color"])
    assert len(seen) >= 3
    again = [*history, "Now make the text you added at the top red."]
    for seed in range(6):
        assert asked(write(photo("coffee"), "coffee", "text_font_color", seed, again)).params["color"] != "red"


def test_other_turns_refer_back_without_hijacking_the_ask() -> None:
    text = 'Add the words "HELLO" in white at the top of the photo.'
    snow = "Add falling snow over the whole scene."
    leads = set()
    for key, history in [("global_lighting", [text, snow]), ("color_tone", [text]), ("seasonal", [snow]),
                         ("film_grain_vintage", [text, "Now make the text you added at the top red."])]:  # fmt: skip
        for seed in range(8):
            reply = write(photo("coffee"), "coffee", key, seed, history)
            assert parse_instruction(reply.text) == asked(reply) and asked(reply).edit_type == key, reply.text
            assert REFERS_BACK.search(reply.text), reply.text
            leads.add(reply.text.split(",")[0].split(" ")[0])
    assert {"Keeping", "With"} & leads and len(leads) >= 3  # the earlier edit named first, in some turns


def test_session_types_follow_the_history() -> None:
    coffee, astronaut = facts("coffee"), facts("astronaut")
    assert "text_font_color" not in session_types(coffee, ["color_tone"], SUPPORTED)
    assert "text_font_color" in session_types(coffee, ["add_text"], SUPPORTED)
    assert "text_font_color" in session_types(coffee, ["add_text", "weather"], SUPPORTED)
    assert "text_font_color" not in session_types(coffee, ["add_text", "style_transfer"], SUPPORTED)
    assert "text_font_color" not in session_types(coffee, ["add_text", "text_font_color"], SUPPORTED)
    assert "text_font_color" in session_types(coffee, ["add_text", "text_font_color", "weather"], SUPPORTED)
    after_zoom = session_types(astronaut, ["zoom_in"], SUPPORTED)
    assert "zoom_in" not in after_zoom and "outpainting" not in after_zoom and "person_sticker" in after_zoom
    assert "outpainting" not in session_types(coffee, ["outpainting", "color_tone"], SUPPORTED)
    assert "photo_to_cartoon" not in session_types(coffee, ["style_transfer"], SUPPORTED)
    assert "add_text" not in session_types(coffee, ["add_text", "weather", "add_text"], SUPPORTED)
    assert "color_tone" not in session_types(coffee, ["color_tone"], SUPPORTED)
    assert "color_tone" in session_types(coffee, ["color_tone", "weather"], SUPPORTED)
    assert not {"person_lineart", "person_sticker"} & set(session_types(coffee, ["weather"], SUPPORTED))
    order = taxonomy.keys()
    types = session_types(coffee, ["add_text"], SUPPORTED)
    assert types == sorted(types, key=order.index) and set(types) <= SUPPORTED
