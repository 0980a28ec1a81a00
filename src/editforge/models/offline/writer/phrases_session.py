"""Phrase pools for the later turns of a session: recolouring the lettering an earlier turn added, and
lead-ins that name what an earlier turn left in the picture.

text_font_color's ASK names the new colour AFTER the lettering ("make the text you added red"),
because `intent` reads a colour named before the lettering as the old one ("the white words"). A
template with "{text}" quotes the words, one with "{pos}" names where they are: the instruction then
carries those parameters too: every template names one of them, so the editor knows which lettering.
"{was}" (the present colour) is only used when the history says it.

LEAD_REF lead-ins put the earlier edit BEFORE the new ask, so the phrase naming it must hold none of
the reader's cue words (the writer checks `parse_instruction(ref) is None` before using one).
"""

from __future__ import annotations

ASK: dict[str, dict[str, list[str]]] = {
    "text_font_color": {
        "*": [
            "Now make the text you added at the {pos} {color}, changing only the fill of the letters.",
            'Change the colour of the lettering from the previous step to {color}, keeping the words "{text}" '
            "exactly as they are.",
            'Recolour the {was} lettering you added earlier so that "{text}" now reads in {color}.',
            "Make the {was} words you added at the {pos} {color} instead, as if they had been set that way.",
            "Now turn the lettering from before {color}: the words at the {pos} should go from {was} to {color}.",
        ],
    },
}

GROUND: dict[str, list[str]] = {
    "text_font_color": [
        "Only the fill of the letters changes: the {outline} outline, the typeface, the size and the spacing "
        "stay exactly as they are.",
        "The letters are {was} at the moment; make the new colour solid and even across every letter, with "
        "none of it spilling onto the photo behind.",
        "Make the new colour solid and even across every letter, with none of it spilling onto the photo "
        "behind, and keep the {outline} outline around each letter.",
    ],
}

KEEP: dict[str, list[str]] = {
    "recolour": [
        "Leave everything else in the picture exactly as it is, and keep the spelling unchanged.",
        "Nothing outside the letters should move or shift in colour, and the spelling stays the same.",
    ],
}

KEEP_FAMILY: dict[str, str] = {"text_font_color": "recolour"}

# What an earlier recolouring left (for turns after it), in words free of the reader's cue words.
EARLIER: dict[str, dict[str, str]] = {"text_font_color": {"*": "the recoloured lettering"}}

# Lead-ins naming the last edit before the new ask. "{ref}" must be free of cue words (checked).
LEAD_REF_ADDED: list[str] = [  # for edits that put something into the picture (words, snow)
    "Keeping {ref} you added before, now ",
    "With {ref} from the previous step still in place, ",
]
LEAD_REF: list[str] = [
    "Leaving {ref} from before as it is, ",
    "With {ref} from the previous step in place, ",
]
ADDITIVE = frozenset({"add_text", "weather"})

# Cue-free names for the earlier edits whose usual names ("the snowflakes", "the warmer tones") hold
# cue words: these can stand before the new ask.
LEAD_EARLIER: dict[str, dict[str, str]] = {
    "weather": {
        "snow": "the falling flakes",
        "rain": "the falling streaks",
        "fog": "the soft veil over the scene",
        "sunny": "the clearer sky",
    },
    "color_tone": {"*": "the new colour balance"},
}
