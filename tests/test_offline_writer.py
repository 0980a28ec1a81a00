"""The template writer: grounded long instructions that the classical editor's reader reads back."""

from __future__ import annotations

import json
import re
from functools import cache

import numpy as np
import pytest
import skimage.data

from editforge import taxonomy
from editforge.models.base import ModelCallError, TextReply, Writer, WriteRequest
from editforge.models.offline.core.analysis import analyze, as_rgb
from editforge.models.offline.core.intent import Intent, parse_instruction
from editforge.models.offline.writer.rewriter import RuleRewriter
from editforge.models.offline.writer.writer import SESSION_ONLY_TYPES, SUPPORTED, TemplateWriter, candidate_types
from editforge.records import PhotoFacts

PHOTOS = ("astronaut", "coffee", "rocket", "page")
PERSON_TYPES = {"person_lineart", "person_sticker"}
SINGLE = SUPPORTED - SESSION_ONLY_TYPES  # text_font_color needs a session (tests/test_offline_sessions.py)
WRITER = TemplateWriter()


@cache
def photo(name: str) -> np.ndarray:
    return as_rgb(getattr(skimage.data, name)())


@cache
def facts(name: str) -> PhotoFacts:
    return analyze(photo(name))


def write(name: str, key: str, seed: int = 0, history: list[str] | None = None) -> TextReply:
    request = WriteRequest(photo(name), taxonomy.get(key), seed, facts(name), list(history or []))
    return WRITER.write(request)


def intended(reply: TextReply, key: str) -> Intent:
    raw = json.loads(reply.raw)
    assert raw["intent"]["edit_type"] == key
    return Intent(key, raw["intent"]["params"])


def sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s])


def test_is_a_writer() -> None:
    assert isinstance(WRITER, Writer)
    assert WRITER.ref.label() == "offline/template-writer@v1"
    assert WRITER.supported_types == SUPPORTED and len(SUPPORTED) == 14 and len(SINGLE) == 13
    assert set(taxonomy.keys()) >= SUPPORTED


@pytest.mark.parametrize("name", PHOTOS)
def test_every_type_reads_back_as_written(name: str) -> None:
    rewriter = RuleRewriter()
    for key in sorted(SINGLE):
        if key in PERSON_TYPES and not facts(name).has_person:
            continue
        for seed in range(5):
            reply = write(name, key, seed)
            want = intended(reply, key)
            assert parse_instruction(reply.text) == want, reply.text
            words = len(reply.text.split())
            assert 30 <= words <= 80, (words, reply.text)
            assert 2 <= sentences(reply.text) <= 4, reply.text
            short = rewriter.rewrite(reply.text, taxonomy.get(key), seed).text
            assert parse_instruction(short) == want, (reply.text, short)


def test_parameters_follow_the_photo() -> None:
    assert intended(write("coffee", "color_tone"), "color_tone").params == {"direction": "cool"}  # warm photo
    assert intended(write("rocket", "color_tone"), "color_tone").params == {"direction": "warm"}  # blue dusk
    zoom = write("astronaut", "zoom_in")
    assert intended(zoom, "zoom_in").params == {"region": "subject"} and "face" in zoom.text
    for seed in range(10):
        mood = intended(write("rocket", "global_lighting", seed), "global_lighting").params["mood"]
        assert mood in ("brighter", "golden_hour")  # a dim photo is not darkened further
        condition = intended(write("coffee", "weather", seed), "weather").params["condition"]
        assert condition != "sunny"  # no sky to clear


def test_add_text_is_quoted_placed_and_coloured() -> None:
    for name in ("astronaut", "coffee", "rocket"):
        for seed in range(8):
            reply = write(name, "add_text", seed)
            params = intended(reply, "add_text").params
            assert f'"{params["text"]}"' in reply.text
            assert params["position"] in ("top", "bottom", "center")
            assert params["color"] in reply.text
            if name == "astronaut":
                assert params["position"] != "center"  # keep words off the face


def test_grounded_in_the_photo() -> None:
    text = write("rocket", "weather", 1).text
    assert "sky" in text
    text = write("astronaut", "film_grain_vintage", 2).text + write("astronaut", "style_transfer", 2).text
    assert "person" in text
    colours = facts("coffee").dominant_colors
    assert any(c in write("coffee", "color_tone", 0).text for c in colours)


def test_deterministic_under_seed() -> None:
    for key in sorted(SINGLE):
        assert write("astronaut", key, 7).text == write("astronaut", key, 7).text


@pytest.mark.parametrize("key", sorted(SINGLE))
def test_varied_across_seeds(key: str) -> None:
    texts = {write("astronaut", key, seed).text for seed in range(20)}
    assert len(texts) >= 5, texts


@pytest.mark.parametrize("key", sorted(PERSON_TYPES))
def test_person_types_refused_without_a_person(key: str) -> None:
    with pytest.raises(ModelCallError, match=f"no person in photo for {key}"):
        write("coffee", key)


def test_unsupported_type_refused() -> None:
    with pytest.raises(ModelCallError, match="remove_object"):
        write("coffee", "remove_object")


def test_looks_at_the_photo_when_given_no_facts() -> None:
    request = WriteRequest(photo("astronaut"), taxonomy.get("person_sticker"), 0)  # default PhotoFacts
    reply = WRITER.write(request)
    assert parse_instruction(reply.text) == Intent("person_sticker")


def test_candidate_types_follow_what_the_photo_holds() -> None:
    everything = frozenset(taxonomy.keys())
    coffee = candidate_types(facts("coffee"), everything)
    assert not {t.key for t in taxonomy.all_types() if t.needs} & set(coffee)
    assert "color_tone" in coffee and "add_text" in coffee
    astronaut = candidate_types(facts("astronaut"), SUPPORTED)
    assert set(astronaut) == SINGLE  # no text of its own: nothing to recolour in a single turn
    assert "text_font_color" in candidate_types(facts("page"), everything)
    assert candidate_types(facts("coffee"), SUPPORTED) == [k for k in taxonomy.keys() if k in SINGLE - PERSON_TYPES]


# --- multi-turn sessions --------------------------------------------------------------------------

TRICKY_HISTORY = [
    'Add the words "SALE" at the top in red lettering.',
    "Zoom in on the face of the person.",
    "Extend the canvas to the left, continuing the scene there.",
    "Make the person a sticker with a white border.",
    "Turn the person into line art.",
    "Add falling snow and make it winter.",
    "Make it warmer and add film grain.",
    "Make the cat wear a tiny red hat.",  # a turn the offline reader does not know
]


@pytest.mark.parametrize("key", sorted(SINGLE))
def test_history_is_woven_in_without_hijacking_the_ask(key: str) -> None:
    for seed in range(6):
        start = seed % len(TRICKY_HISTORY)
        history = TRICKY_HISTORY[start : start + 1 + seed % 3]
        reply = write("astronaut", key, seed, history)
        want = intended(reply, key)
        assert parse_instruction(reply.text) == want, reply.text
        assert len(reply.text.split()) <= 80
        assert re.search(r"\b(previous|earlier|before|last|next step|undo)\b", reply.text), reply.text
        assert reply.text != write("astronaut", key, seed).text


def test_session_of_writer_turns() -> None:
    rng = np.random.default_rng(0)
    for name in ("astronaut", "coffee"):
        kinds = sorted(SINGLE - (set() if facts(name).has_person else PERSON_TYPES))
        history: list[str] = []
        for turn in range(5):
            key = kinds[int(rng.integers(len(kinds)))]
            reply = write(name, key, turn, history)
            assert parse_instruction(reply.text) == intended(reply, key), reply.text
            history.append(reply.text)


def test_later_text_turn_refers_to_earlier_words_and_moves_elsewhere() -> None:
    first = write("astronaut", "add_text", 3)
    earlier = intended(first, "add_text").params
    second = write("astronaut", "add_text", 4, [first.text])
    now = intended(second, "add_text").params
    assert now["position"] != earlier["position"]
    assert now["text"] != earlier["text"]
    assert earlier["text"] in second.text  # named, unquoted, as what to keep
    tone = write("astronaut", "color_tone", 4, [first.text])
    assert earlier["text"] in tone.text and f'"{earlier["text"]}"' not in tone.text


def test_same_type_again_picks_a_different_parameter() -> None:
    first = write("coffee", "style_transfer", 0)
    style = intended(first, "style_transfer").params["style"]
    for seed in range(5):
        again = write("coffee", "style_transfer", seed, [first.text])
        assert intended(again, "style_transfer").params["style"] != style


def test_colour_shift_names_only_what_the_photo_holds() -> None:
    def colour_lines(name: str) -> str:
        return " ".join(write(name, "color_tone", seed).text for seed in range(30))

    coffee = colour_lines("coffee")  # a cup on a table: no skin, no green
    assert "skin" not in coffee and "foliage" not in coffee and "neutral tones stay believable" in coffee
    assert facts("astronaut").has_person and "skin" in colour_lines("astronaut")
