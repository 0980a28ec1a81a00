"""The metric judge's own instruction reading: the named value, with negation and contrast read as a person would."""

from __future__ import annotations

import pytest

from editforge.models.offline.judge.instruction import read_request

ASKED: list[tuple[str, str, dict[str, str]]] = [
    ("Make the photo less warm: cool it down.", "color_tone", {"direction": "cool", "avoid": "warm"}),
    ("Don't make it warmer, make it cooler instead.", "color_tone", {"direction": "cool", "avoid": "warm"}),
    ("Make it cooler instead of warmer.", "color_tone", {"direction": "cool", "avoid": "warm"}),
    ("Tone down the warmth.", "color_tone", {"direction": "cool", "avoid": "warm"}),
    ("Give it a cozy amber glow.", "color_tone", {"direction": "warm"}),
    ("Reduce the brightness a little.", "global_lighting", {"mood": "darker", "avoid": "brighter"}),
    ("Not darker: lift it so it feels well lit.", "global_lighting", {"mood": "brighter", "avoid": "darker"}),
    ("Relight it like dusk, not sunset.", "global_lighting", {"mood": "blue_hour", "avoid": "golden_hour"}),
    ("Add snow instead of rain.", "weather", {"condition": "snow", "avoid": "rain"}),
    ("Instead of rain, let a light snowfall cover the scene.", "weather", {"condition": "snow", "avoid": "rain"}),
    ("Remove the fog and make it sunny.", "weather", {"condition": "sunny", "avoid": "fog"}),
    ("Let it pour with a heavy downpour.", "weather", {"condition": "rain", "intensity": "heavy"}),
    ("Add a light dusting of snow.", "weather", {"condition": "snow"}),
    ("Make it look like autumn, without any snow.", "seasonal", {"season": "autumn", "avoid": "winter"}),
    ("Turn this into a fall scene.", "seasonal", {"season": "autumn"}),
    ("Paint it as a watercolour, not an oil painting.", "style_transfer", {"style": "watercolor", "avoid": "oil_painting"}),  # noqa: E501
    ("Render it with the swirling skies of Van Gogh's Starry Night.", "style_transfer", {"style": "van_gogh"}),
    ("Make it a charcoal drawing rather than a cartoon.", "photo_to_cartoon", {"style": "pencil_sketch", "avoid": "cartoon"}),  # noqa: E501
    ("Make it look like a photo from the roaring twenties.", "modern_historical", {"era": "1920s"}),
    ("Give it a 1970s look — not Victorian.", "modern_historical", {"era": "1970s", "avoid": "victorian"}),
    ("Add grain, but no sepia.", "film_grain_vintage", {"look": "grain", "avoid": "vintage"}),
    ("Zoom in on the right side, not the left.", "zoom_in", {"region": "right", "avoid": "left"}),
    ("Extend the canvas to the left.", "outpainting", {"side": "left"}),
    ('Add the text "OPEN" in red at the top.', "add_text", {"text": "OPEN", "position": "top", "color": "red"}),
    ('Write “Bonjour” across the bottom, not “Hello”.', "add_text", {"text": "Bonjour", "position": "bottom"}),
    ('Replace "SALE" with "SOLD".', "replace_text", {"text": "SOLD", "old_text": "SALE"}),
    ('Make the sign say "CLOSED" instead of "OPEN".', "replace_text", {"text": "CLOSED", "old_text": "OPEN"}),
    ('Change the text from "CAT" to "DOG".', "replace_text", {"text": "DOG", "old_text": "CAT"}),
    ("Now make the text you added red.", "text_font_color", {"color": "red"}),
    ("The letters are white at the moment; change them to yellow.", "text_font_color", {"color": "yellow"}),
    ("Make the white words at the top blue.", "text_font_color", {"color": "blue", "position": "top"}),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key", "params"), ASKED, ids=[c[0] for c in ASKED])
def test_reads_the_asked_value_and_what_is_refused(text: str, key: str, params: dict[str, str]) -> None:
    request = read_request(text, key)
    assert request is not None
    assert request.params == params


@pytest.mark.parametrize(
    ("text", "key"),
    [("Make it better.", "color_tone"), ("Make it better.", "zoom_in"), ("Add some text.", "add_text"),
     ("Change the words.", "replace_text"), ("Make it look older.", "modern_historical")],
)  # fmt: skip
def test_no_value_named_is_not_guessed(text: str, key: str) -> None:
    assert read_request(text, key) is None


def test_types_without_a_value_read_as_an_empty_request() -> None:
    request = read_request("Turn the person into a sticker.", "person_sticker")
    assert request is not None and request.params == {} and request.avoid == set()


def test_a_plain_zoom_asks_for_a_zoom_anywhere() -> None:
    request = read_request("Zoom in.", "zoom_in")
    assert request is not None and request.params == {}


def test_negation_stops_at_the_clause() -> None:
    request = read_request("Don't touch the people; make it warmer.", "color_tone")
    assert request is not None and request.params == {"direction": "warm"}
