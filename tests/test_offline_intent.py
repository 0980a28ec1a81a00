"""The offline reading of instructions: plain human phrasings map to the right type and params."""

from __future__ import annotations

import pytest

from editforge import taxonomy
from editforge.models.offline.core.intent import Intent, parse_instruction

CASES: list[tuple[str, str, dict[str, str]]] = [
    ("make it warmer", "color_tone", {"direction": "warm"}),
    ("make the colors warmer and cozier", "color_tone", {"direction": "warm"}),
    ("make it cooler", "color_tone", {"direction": "cool"}),
    ("give the photo a cool blue tint", "color_tone", {"direction": "cool"}),
    ("add some film grain", "film_grain_vintage", {"look": "grain"}),
    ("make it grainy", "film_grain_vintage", {"look": "grain"}),
    ("make it look vintage", "film_grain_vintage", {"look": "vintage"}),
    ("give it a sepia tone", "film_grain_vintage", {"look": "vintage"}),
    ("give it a golden hour glow", "global_lighting", {"mood": "golden_hour"}),
    ("give it sunset lighting", "global_lighting", {"mood": "golden_hour"}),
    ("give it a blue hour look", "global_lighting", {"mood": "blue_hour"}),
    ("make it look like it was lit by fluorescent lights", "global_lighting", {"mood": "fluorescent"}),
    ("make it brighter", "global_lighting", {"mood": "brighter"}),
    ("make it darker", "global_lighting", {"mood": "darker"}),
    ("make it snow", "weather", {"condition": "snow"}),
    ("add falling snow", "weather", {"condition": "snow"}),
    ("make it rain", "weather", {"condition": "rain"}),
    ("make it a rainy day", "weather", {"condition": "rain"}),
    ("cover it in fog", "weather", {"condition": "fog"}),
    ("make it sunny", "weather", {"condition": "sunny"}),
    ("turn it into winter", "seasonal", {"season": "winter"}),
    ("make the scene wintry", "seasonal", {"season": "winter"}),
    ("make it look like autumn", "seasonal", {"season": "autumn"}),
    ("turn it into fall", "seasonal", {"season": "autumn"}),
    ("make it look like spring", "seasonal", {"season": "spring"}),
    ("give it a summer feel", "seasonal", {"season": "summer"}),
    ("make it look like a van gogh painting", "style_transfer", {"style": "van_gogh"}),
    ("make it look like an oil painting", "style_transfer", {"style": "oil_painting"}),
    ("make it look like a watercolor", "style_transfer", {"style": "watercolor"}),
    ("paint it in the style of Monet", "style_transfer", {"style": "impressionist"}),
    ("turn it into a pencil sketch", "photo_to_cartoon", {"style": "pencil_sketch"}),
    ("make it look like a sketch", "photo_to_cartoon", {"style": "pencil_sketch"}),
    ("cartoonify it", "photo_to_cartoon", {"style": "cartoon"}),
    ("make it a comic", "photo_to_cartoon", {"style": "comic"}),
    ("make it look victorian", "modern_historical", {"era": "victorian"}),
    ("make it look like a 1920s photo", "modern_historical", {"era": "1920s"}),
    ("make it look like the fifties", "modern_historical", {"era": "1950s"}),
    ("make it look like the 1970s", "modern_historical", {"era": "1970s"}),
    ("zoom in on the centre", "zoom_in", {"region": "center"}),
    ("zoom into the middle", "zoom_in", {"region": "center"}),
    ("zoom in", "zoom_in", {"region": "center"}),
    ("zoom in on the face", "zoom_in", {"region": "subject"}),
    ("crop in on the left side", "zoom_in", {"region": "left"}),
    ("extend the canvas on the left", "outpainting", {"side": "left"}),
    ("outpaint the right side", "outpainting", {"side": "right"}),
    ("extend the image upwards", "outpainting", {"side": "top"}),
    ("extend the canvas upward and downward", "outpainting", {"side": "vertical"}),
    ("widen the frame on both sides", "outpainting", {"side": "horizontal"}),
    ("make the image wider", "outpainting", {"side": "horizontal"}),
    ("zoom out", "outpainting", {"side": "all"}),
    ('add the text "SALE" at the top', "add_text", {"text": "SALE", "position": "top"}),
    ("add the words 'HELLO' in red at the bottom", "add_text", {"text": "HELLO", "position": "bottom", "color": "red"}),  # noqa: E501
    ('write "Hi there" in yellow at the center', "add_text", {"text": "Hi there", "position": "center", "color": "yellow"}),  # noqa: E501
    ('add the text "Don\'t stop" at the top', "add_text", {"text": "Don't stop", "position": "top"}),
    ('add "TOP DEALS" as a caption at the bottom', "add_text", {"text": "TOP DEALS", "position": "bottom"}),
    ("now make the text you added red", "text_font_color", {"color": "red"}),
    ("change the font color to blue", "text_font_color", {"color": "blue"}),
    ("make the white words at the top red", "text_font_color", {"color": "red", "position": "top"}),
    ('recolor the "SALE" text yellow', "text_font_color", {"color": "yellow", "text": "SALE"}),
    ("turn the person into line art", "person_lineart", {}),
    ("draw the man in ink line art", "person_lineart", {}),
    ("turn the person into a sticker", "person_sticker", {}),
    ("make a sticker of the woman", "person_sticker", {}),
]  # fmt: skip


@pytest.mark.parametrize(("text", "edit_type", "params"), CASES, ids=[c[0] for c in CASES])
def test_plain_phrasings_map_to_type_and_params(text: str, edit_type: str, params: dict[str, str]) -> None:
    assert parse_instruction(text) == Intent(edit_type, params)


@pytest.mark.parametrize("text", ["", "   ", "asdfgh qwerty", "hello there", "lorem ipsum dolor sit amet"])
def test_gibberish_reads_as_nothing(text: str) -> None:
    assert parse_instruction(text) is None


def test_quoted_words_are_not_read_as_position_or_colour() -> None:
    intent = parse_instruction('add the text "RED TOP" at the bottom')
    assert intent == Intent("add_text", {"text": "RED TOP", "position": "bottom"})


def test_quotes_alone_do_not_make_a_text_edit() -> None:
    intent = parse_instruction('give it a "vintage print" look')
    assert intent is not None and intent.edit_type == "film_grain_vintage"


def test_the_first_named_look_wins() -> None:
    assert parse_instruction("turn it into winter, with snow on the ground").edit_type == "seasonal"  # type: ignore[union-attr]
    assert parse_instruction("add falling snow to the winter scene").edit_type == "weather"  # type: ignore[union-attr]


def test_every_type_read_is_a_taxonomy_key() -> None:
    keys = set(taxonomy.keys())
    for text, _, _ in CASES:
        intent = parse_instruction(text)
        assert intent is not None and intent.edit_type in keys


def test_recolouring_words_is_not_adding_them() -> None:
    assert parse_instruction('Add the words "SALE" at the top in red lettering.').edit_type == "add_text"  # type: ignore[union-attr]
    assert parse_instruction('add the words "HELLO" and make the text red').edit_type == "add_text"  # type: ignore[union-attr]
    assert parse_instruction("Keep the lettering reading SALE from the earlier steps unchanged.") is None
    assert parse_instruction("Make the photo warmer, keeping the red text as it is.") == Intent(
        "color_tone", {"direction": "warm"}
    )
    # The colour named before the lettering is the old one; the quoted words are which lettering.
    recolour = parse_instruction('Change the white "RED SALE" lettering from the previous step to blue.')
    assert recolour == Intent("text_font_color", {"color": "blue", "text": "RED SALE"})


def test_words_to_write_need_no_quotes() -> None:
    from editforge.models.offline.core.intent import parse_instruction

    cases = {
        "write MEOW at the bottom": ("MEOW", "bottom", None),
        "Write SALE.": ("SALE", "bottom", None),
        "write the words HELLO WORLD in red at the top": ("HELLO WORLD", "top", "red"),
    }
    for instruction, (words, position, color) in cases.items():
        intent = parse_instruction(instruction)
        assert intent is not None and intent.edit_type == "add_text", instruction
        assert intent.params["text"] == words and intent.params["position"] == position
        assert intent.params.get("color") == color
    for description in ("write something funny about the cat", "write a poem"):
        intent = parse_instruction(description)
        assert intent is None or intent.edit_type != "add_text", description
