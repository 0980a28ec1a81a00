"""The offline rewriter: a long instruction in, the short thing a person would type out.

Pico-Banana made its short instructions with an LLM prompted with human-written examples; here the
examples are the rules. The long instruction is read with `intent.parse_instruction`, and a short
phrasing of the same ask is drawn from the examples below, keeping every parameter (direction, side,
region, quoted words, position, colour) so the short one reads back to the same Intent. A long
instruction the reader cannot make out is cut to its first clause instead: nothing is invented.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import numpy as np

from editforge.models.base import TextReply
from editforge.models.offline.core.intent import Intent, parse_instruction
from editforge.records import ModelRef
from editforge.taxonomy import EditType

MAX_WORDS = 12

# How people ask for these edits, by (type, parameter). "{...}" slots are filled from the long ask.
EXAMPLES: dict[str, dict[str, list[str]]] = {
    "color_tone": {
        "warm": [
            "make it warmer",
            "warm up the colors",
            "give it a warmer tone",
            "add a cozy amber tint",
            "warmer colors please",
        ],
        "cool": [
            "make it cooler",
            "cool the colors down",
            "give it a cold blue tint",
            "add a teal tint",
            "cooler tones please",
        ],
    },
    "film_grain_vintage": {
        "grain": [
            "add some film grain",
            "make it grainy",
            "give it a grainy film look",
            "add grain like old film stock",
        ],
        "vintage": [
            "make it look vintage",
            "give it a retro faded look",
            "add a vintage filter",
            "make it look like an old photo",
        ],
    },
    "global_lighting": {
        "golden_hour": [
            "make it golden hour",
            "give it golden hour light",
            "add a sunset glow",
            "light it like sunset",
        ],
        "blue_hour": ["make it look like dusk", "change the light to blue hour", "give it twilight lighting"],
        "fluorescent": [
            "give it harsh fluorescent light",
            "light it like a fluorescent office",
            "make the lighting fluorescent",
        ],
        "brighter": [
            "make it brighter",
            "brighten the whole photo",
            "brighten it up a bit",
            "lift the shadows",
        ],
        "darker": ["make it darker and moodier", "darken the scene", "make it darker", "darken it a bit"],
    },
    "weather": {
        "rain": ["make it rainy", "add rain", "add a downpour", "make it look like it's raining"],
        "snow": ["add falling snow", "make it snow", "add snowflakes", "make it snowing"],
        "fog": ["add fog", "make it foggy", "add morning mist", "make it misty"],
        "sunny": ["make it sunny", "give it clear blue skies", "make it a sunny day"],
    },
    "seasonal": {
        "winter": ["make it winter", "turn it into a wintry scene", "make it look like winter"],
        "autumn": ["make it autumn", "give it fall foliage", "make it look like autumn"],
        "spring": ["make it springtime", "add spring blossoms", "make it look like spring"],
        "summer": ["make it summer", "give it a summery feel", "make it look like summer"],
    },
    "style_transfer": {
        "van_gogh": ["make it look like a Van Gogh", "paint it like Starry Night", "Van Gogh style please"],
        "oil_painting": ["turn it into an oil painting", "make it an oil painting", "oil painting style"],
        "watercolor": [
            "make it a watercolor painting",
            "turn it into a watercolor",
            "watercolor style please",
        ],
        "impressionist": ["make it impressionist", "paint it like Monet", "impressionist painting style"],
    },
    "photo_to_cartoon": {
        "cartoon": ["make it a cartoon", "cartoonify this", "turn it into a cartoon"],
        "pencil_sketch": [
            "turn it into a pencil sketch",
            "make it a charcoal drawing",
            "make it a pencil drawing",
        ],
        "comic": ["make it look like a comic book", "comic style please", "turn it into a comic panel"],
    },
    "modern_historical": {
        "victorian": ["make it look victorian", "turn it into an 1800s photo", "make it look like a tintype"],
        "1920s": ["make it look like the 1920s", "roaring twenties style", "make it a 1920s photo"],
        "1950s": ["give it a 1950s look", "make it fifties style", "make it look like the 1950s"],
        "1970s": ["make it look like the 1970s", "seventies polaroid look", "give it a 1970s look"],
    },
    "zoom_in": {
        "subject": ["zoom in on {target}", "close-up of {target}", "zoom in closer on {target}"],
        "center": ["zoom in on the center", "zoom in on the middle", "crop in on the middle"],
        "left": ["zoom in on the left side", "zoom in on the left", "crop in on the left part"],
        "right": ["zoom in on the right side", "zoom in on the right", "crop in on the right part"],
        "top": ["zoom in on the top part", "zoom in on the upper part", "crop in on the top"],
        "bottom": ["zoom in on the bottom part", "zoom in on the lower part", "crop in on the bottom"],
    },
    "outpainting": {
        "all": [
            "zoom out a bit",
            "extend the image on all sides",
            "outpaint it all around",
            "show more of the scene all around",
        ],
        "left": [
            "extend the image to the left",
            "show more of the scene on the left",
            "outpaint the left side",
        ],
        "right": [
            "extend the image to the right",
            "show more of the scene on the right",
            "outpaint the right side",
        ],
        "top": ["extend the image upward", "show more of {above} above", "outpaint the top"],
        "bottom": ["extend the image downward", "show more of the ground below", "outpaint the bottom"],
        "horizontal": ["make it wider", "widen the frame", "extend the image on both sides"],
        "vertical": ["make it taller", "extend the image top and bottom", "outpaint it vertically"],
    },
    "add_text": {
        "*": [
            'add {color} text "{text}" {at}',
            'put the words "{text}" {at} in {color}',
            'write "{text}" {at} in {color} lettering',
            'add a {color} caption "{text}" {at}',
            'stamp "{text}" in {color} text {at}',
        ],
    },
    # Recolouring lettering an earlier turn added: by which parameters the long one names.
    "text_font_color": {
        "color": [
            "make the text you added {color}",
            "change the text color to {color}",
            "make the lettering {color}",
            "recolor the text you added {color}",
            "turn the text {color}",
        ],
        "color+position": [
            "make the text you added {at} {color}",
            "make the text {at} {color}",
            "change the lettering {at} to {color}",
        ],
        "color+text": [
            'make the words "{text}" {color}',
            'make the "{text}" text {color}',
            'change the "{text}" lettering to {color}',
        ],
        "color+position+text": [
            'make the words "{text}" {at} {color}',
            'make the "{text}" text {at} {color}',
        ],
    },
    "person_lineart": {
        "*": [
            "turn the person into line art",
            "make a line-art drawing of the person",
            "redraw the subject as line art",
            "line art of the person please",
        ],
    },
    "person_sticker": {
        "*": [
            "make the person a sticker",
            "sticker-ify the person",
            "turn them into a sticker with a white border",
        ],
    },
}

_AT = {"top": ["at the top", "across the top"], "bottom": ["at the bottom", "along the bottom"],
       "center": ["in the middle", "in the center"]}  # fmt: skip
# Mostly bare imperatives, as people type. No "now …": a single-turn ask has no before to follow on from.
_OPENERS = ["", "", "", "", "please ", "can you "]


def _slots(intent: Intent, long_instruction: str, rng: np.random.Generator) -> dict[str, str]:
    text = long_instruction.lower()
    at = _AT.get(intent.params.get("position", ""), [""])
    return {
        "target": "the face" if re.search(r"\bface\b", text) else "the subject",
        "above": "the sky" if re.search(r"\bsky\b", text) else "the scene",
        "text": intent.params.get("text", ""),
        "color": intent.params.get("color", ""),
        "at": at[int(rng.integers(len(at)))],
    }


def _pool(intent: Intent) -> list[str]:
    """The examples for this ask: by its parameter's value, or by which parameters it names."""
    table = EXAMPLES[intent.edit_type]
    if "*" in table:
        return table["*"]
    if intent.edit_type == "text_font_color":
        return table.get("+".join(sorted(intent.params)), [])
    return table.get(next(iter(intent.params.values()), ""), [])


def _first_clause(text: str) -> str:
    """The opening clause, cut to MAX_WORDS: what is left to say when the ask cannot be read."""
    clause = re.split(r"[.;:!?\n]|,\s|\s[-–—]\s", text.strip(), maxsplit=1)[0]
    words = clause.split()[:MAX_WORDS]
    return " ".join(words).rstrip(",")


class RuleRewriter:
    """Rewriter role of the offline provider. Options are accepted for symmetry and ignored."""

    def __init__(self, **options: Any) -> None:
        self.ref = ModelRef(provider="offline", model="rule-rewriter", prompt_version="v1")

    def rewrite(self, long_instruction: str, edit_type: EditType, seed: int) -> TextReply:
        intent = parse_instruction(long_instruction)
        rng = np.random.default_rng([seed, zlib.crc32(long_instruction.encode())])
        if intent is None or intent.edit_type != edit_type.key or intent.edit_type not in EXAMPLES:
            reason = "unreadable" if intent is None else f"reads as {intent.edit_type}, not {edit_type.key}"
            return self._fallback(long_instruction, reason)
        pool = _pool(intent)
        slots = _slots(intent, long_instruction, rng)
        opener = _OPENERS[int(rng.integers(len(_OPENERS)))]
        for index in rng.permutation(len(pool)):
            short = opener + pool[int(index)].format(**slots)
            if len(short.split()) > MAX_WORDS:
                short = pool[int(index)].format(**slots)
            if parse_instruction(short) == intent:
                read = {"edit_type": intent.edit_type, "params": intent.params}
                raw = {"method": "examples", "intent": read, "example": int(index)}
                return TextReply(text=short, raw=json.dumps(raw))
        return self._fallback(long_instruction, "no example reads back to the same ask")

    @staticmethod
    def _fallback(long_instruction: str, reason: str) -> TextReply:
        raw = {"method": "first_clause", "reason": reason}
        return TextReply(text=_first_clause(long_instruction), raw=json.dumps(raw))
