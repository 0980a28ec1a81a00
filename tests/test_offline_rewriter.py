"""The rule rewriter: short human-style instructions that keep every parameter of the long one."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
import skimage.data

from editforge import taxonomy
from editforge.models.base import Rewriter, WriteRequest
from editforge.models.offline.core.analysis import analyze, as_rgb
from editforge.models.offline.core.intent import Intent, parse_instruction
from editforge.models.offline.writer.rewriter import EXAMPLES, MAX_WORDS, RuleRewriter
from editforge.models.offline.writer.writer import SESSION_ONLY_TYPES, SUPPORTED, TemplateWriter

SINGLE = SUPPORTED - SESSION_ONLY_TYPES  # text_font_color's long instructions need a session

REWRITER = RuleRewriter()
WRITER = TemplateWriter()


@cache
def long_instruction(name: str, key: str, seed: int) -> str:
    image = as_rgb(getattr(skimage.data, name)())
    return WRITER.write(WriteRequest(image, taxonomy.get(key), seed, _facts(name))).text


@cache
def _facts(name: str):  # type: ignore[no-untyped-def]
    return analyze(as_rgb(getattr(skimage.data, name)()))


def short(text: str, key: str, seed: int = 0) -> str:
    return REWRITER.rewrite(text, taxonomy.get(key), seed).text


def test_is_a_rewriter() -> None:
    assert isinstance(REWRITER, Rewriter)
    assert REWRITER.ref.label() == "offline/rule-rewriter@v1"


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket"])
def test_short_keeps_the_ask_of_the_long(name: str) -> None:
    for key in sorted(SINGLE):
        if key.startswith("person_") and not _facts(name).has_person:
            continue
        for seed in range(4):
            text = long_instruction(name, key, seed)
            reply = REWRITER.rewrite(text, taxonomy.get(key), seed)
            assert parse_instruction(reply.text) == parse_instruction(text), (text, reply.text)
            assert json.loads(reply.raw)["method"] == "examples"
            assert len(reply.text.split()) <= MAX_WORDS
            assert not reply.text.endswith(".")


def test_human_written_long_instructions() -> None:
    cases = {
        "color_tone": "Please shift the whole picture toward a cooler palette, especially the highlights.",
        "weather": "Add a light drizzle over the street, with puddles forming near the curb.",
        "zoom_in": "Zoom in on the right side of the image where the boat is moored.",
        "outpainting": "Extend the canvas upward so more of the mountain peak and sky are visible.",
        "add_text": 'Add the title "SUMMER 1999" in yellow handwritten lettering along the bottom edge.',
        "global_lighting": "Relight the scene as if at golden hour, low sun from the left.",
    }
    for key, text in cases.items():
        want = parse_instruction(text)
        assert want is not None and want.edit_type == key
        for seed in range(5):
            assert parse_instruction(short(text, key, seed)) == want


def test_add_text_short_keeps_words_position_and_colour() -> None:
    text = 'Place a caption reading "OPEN 24 HOURS" in clean pink capital letters at the middle of the image.'
    want = Intent("add_text", {"text": "OPEN 24 HOURS", "position": "center", "color": "pink"})
    assert parse_instruction(text) == want
    for seed in range(10):
        s = short(text, "add_text", seed)
        assert '"OPEN 24 HOURS"' in s and "pink" in s and parse_instruction(s) == want


def test_zoom_on_a_face_says_face() -> None:
    text = long_instruction("astronaut", "zoom_in", 0)
    assert "face" in text
    assert all("face" in short(text, "zoom_in", seed) for seed in range(6))


def test_deterministic_and_varied() -> None:
    for key in ("color_tone", "weather", "add_text", "outpainting", "style_transfer", "person_sticker"):
        text = long_instruction("astronaut", key, 1)
        assert short(text, key, 3) == short(text, key, 3)
        assert len({short(text, key, seed) for seed in range(20)}) >= 3


def test_unreadable_long_instruction_is_cut_not_invented() -> None:
    text = "Make the cat wear a tiny red hat, tilted slightly to one side. Keep the background as it is."
    reply = REWRITER.rewrite(text, taxonomy.get("accessories"), 0)
    assert reply.text == "Make the cat wear a tiny red hat"
    raw = json.loads(reply.raw)
    assert raw["method"] == "first_clause" and raw["reason"] == "unreadable"


def test_long_instruction_of_another_type_is_cut_not_rewritten() -> None:
    text = long_instruction("coffee", "weather", 0)
    reply = REWRITER.rewrite(text, taxonomy.get("color_tone"), 0)
    assert json.loads(reply.raw)["method"] == "first_clause"
    assert text.startswith(reply.text) and len(reply.text.split()) <= MAX_WORDS


def test_every_example_reads_as_its_own_ask() -> None:
    slots = {"target": "the face", "above": "the sky", "text": "HELLO", "color": "red", "at": "at the top"}
    params = {"add_text": {"text": "HELLO", "position": "top", "color": "red"}}
    recolour = {"text": "HELLO", "position": "top", "color": "red"}  # text_font_color: by the params named
    for key, table in EXAMPLES.items():
        for value, pool in table.items():
            if key == "text_font_color":
                want = Intent(key, {name: recolour[name] for name in value.split("+")})
            else:
                want = Intent(key, params.get(key, {}) if value == "*" else {_param(key): value})
            for example in pool:
                assert parse_instruction(example.format(**slots)) == want, example
                assert len(example.format(**slots).split()) <= MAX_WORDS


def _param(key: str) -> str:
    long = long_instruction("astronaut", key, 0)
    intent = parse_instruction(long)
    assert intent is not None
    return next(iter(intent.params))


def test_short_words_overall() -> None:
    lengths = [
        len(short(long_instruction("astronaut", key, seed), key, seed).split())
        for key in sorted(SINGLE)
        for seed in range(3)
    ]
    assert max(lengths) <= MAX_WORDS and float(np.mean(lengths)) <= 8


def test_a_single_turn_short_instruction_never_starts_with_now() -> None:
    for key in sorted(SINGLE - {"person_lineart", "person_sticker"}):
        text = long_instruction("coffee", key, 2)
        shorts = [short(text, key, seed) for seed in range(40)]
        assert not [s for s in shorts if s.lower().startswith("now")], key
