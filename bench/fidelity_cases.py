"""The labelled cases of bench/judge_fidelity.py: per edit type, the instruction, a paraphrase, the right
edit and the wrong ones, all made with foreign_looks.py / foreign_layout.py (no editforge code)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import foreign_layout as fl
import foreign_looks as fe
import numpy as np

Edit = Callable[[np.ndarray, float], np.ndarray]
PASS_VARIANTS = ("right", "paraphrase", "moderate")
YELLOW, RED, WHITE, BLUE = (255, 215, 0), (215, 25, 30), (255, 255, 255), (30, 80, 220)


@dataclass(frozen=True)
class Case:
    name: str
    key: str
    instruction: str
    paraphrase: str
    right: Edit
    wrong_value: Edit
    wrong_operation: Edit
    refused: tuple[str, Edit] | None = None  # an instruction that refuses something, answered with it
    prepare: Callable[[np.ndarray], np.ndarray] | None = None  # the source (a sign, earlier words)
    extra_wrong: list[tuple[str, Edit]] = field(default_factory=list)


def with_hello(img: np.ndarray) -> np.ndarray:
    return fl.draw_words(img, "HELLO", WHITE, "top")


def erase_top_words(img: np.ndarray, s: float) -> np.ndarray:
    """The words at the top painted out (OpenCV inpainting over their white fill and dark outline)."""
    h = img.shape[0]
    ink = (img.min(axis=2) > 235) | (img.max(axis=2) < 30)
    ink[h // 3 :] = False
    mask = cv2.dilate(ink.astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
    return cv2.inpaint(img, mask, 5, cv2.INPAINT_TELEA)


def with_sign(img: np.ndarray) -> np.ndarray:
    return fl.sign(img, "OPEN")


CASES: list[Case] = [
    Case("color_tone", "color_tone", "Make the photo warmer, with a golden amber tone.",
         "Could you give this picture a cosier, sun-warmed feel?", fe.warm,
         lambda img, s: fe.lab_shift(img, da=-16 * s), fe.sharpen,
         ("Make the photo less warm: cool it down.", fe.warm)),
    Case("global_lighting", "global_lighting", "Relight the scene with warm golden-hour sunlight.",
         "Make it look like the sun is setting, with low warm light pouring in.", fe.golden_hour,
         lambda img, s: fe.darken(fe.cool(img, s), 0.6 * s), fe.sharpen,
         ("Don't brighten it - make it darker and moodier.", fe.brighten)),
    Case("weather/snow", "weather", "Make it snow heavily in this scene.",
         "Let a thick snowfall come down over everything.", fe.snow, fe.rain, fe.winter,
         ("Add snow instead of rain.", fe.rain), extra_wrong=[("wrong_value_fog", fe.fog)]),
    Case("weather/fog", "weather", "Cover the scene in thick fog.", "Let a dense mist roll in over the whole view.",
         fe.fog, fe.snow, fe.brighten),
    Case("seasonal", "seasonal", "Turn the scene into autumn, with orange and red foliage.",
         "Make it look like fall has arrived.", fe.autumn, fe.winter, fe.sharpen,
         ("Make it look like autumn, not winter.", fe.winter)),
    Case("style_transfer/van_gogh", "style_transfer", "Repaint the photo in the style of Van Gogh.",
         "Make this look like one of Van Gogh's swirling paintings.", fe.van_gogh, fe.generic_oil, fe.sharpen),
    Case("style_transfer/watercolor", "style_transfer", "Turn the photo into a soft watercolour painting.",
         "Make it look painted in watercolours on paper.", fe.watercolour, fe.pencil, fe.warm,
         ("Paint it as a watercolour, not an oil painting.", fe.generic_oil)),
    Case("photo_to_cartoon/pencil", "photo_to_cartoon", "Turn the photo into a pencil sketch.",
         "Redraw this as a graphite drawing on paper.", fe.pencil, fe.cartoon, fe.winter,
         ("Make it a pencil sketch, not a cartoon.", fe.cartoon)),
    Case("photo_to_cartoon/cartoon", "photo_to_cartoon", "Turn the photo into a cartoon.",
         "Make it look like a frame from an animated film.", fe.cartoon, fe.pencil, fe.sharpen),
    Case("modern_historical/1920s", "modern_historical", "Make it look like a photograph from the 1920s.",
         "Give it the look of a roaring-twenties print.", fe.twenties, fe.seventies, fe.cool),
    Case("modern_historical/1970s", "modern_historical", "Make it look like a 1970s photo.",
         "Give it that faded seventies snapshot look.", fe.seventies, fe.twenties, fe.sharpen),
    Case("film_grain_vintage", "film_grain_vintage", "Add heavy film grain to the photo.",
         "Give it a grainy, analogue film texture.", fe.film_grain, fe.seventies, fe.sharpen,
         ("Add film grain, but no sepia or vintage colour.", lambda img, s: fe.twenties(img, s))),
    Case("zoom_in", "zoom_in", "Zoom in on the left side of the frame.",
         "Crop in tighter on the left part of the picture.", fl.zoom("left"), fl.zoom("right"),
         fl.extend("right"), ("Zoom in on the right, not the left.", fl.zoom("left"))),
    Case("outpainting", "outpainting", "Extend the canvas to the right.",
         "Show more of the scene beyond the right edge.", fl.extend("right"), fl.extend("left"),
         fl.zoom("center"), ("Extend the left side, not the right.", fl.extend("right")),
         extra_wrong=[("lazy_fill", fl.mirror_blur_extend("right"))]),
    Case("add_text", "add_text", 'Add the text "OPEN DAILY" in yellow at the top.',
         'Write "OPEN DAILY" across the top in yellow letters.', fl.add_words("OPEN DAILY", YELLOW),
         fl.add_words("OPEN NIGHTLY", YELLOW), fl.box_only,
         ('Add "OPEN DAILY" at the top, not "CLOSED".', fl.add_words("CLOSED", YELLOW))),
    Case("add_text/red_on_box", "add_text", 'Add the words "FRESH COFFEE" in red at the bottom.',
         'Put "FRESH COFFEE" along the bottom in red.', fl.add_words("FRESH COFFEE", RED, "bottom", WHITE),
         fl.add_words("HOT TEA", RED, "bottom", WHITE), fe.warm),
    Case("replace_text", "replace_text", 'Replace the word "OPEN" on the sign with "CLOSED".',
         'Make the sign say "CLOSED" instead of "OPEN".', lambda img, s: fl.sign(img, "CLOSED"),
         lambda img, s: fl.sign(img, "SOLD"), fl.box_only,
         ('Replace "OPEN" with "CLOSED".', fl.add_words("CLOSED", (25, 25, 25), "top")), with_sign),
    Case("text_font_color", "text_font_color", "Make the text at the top red.",
         "Change the colour of the HELLO lettering to red.", fl.add_words("HELLO", RED),
         fl.add_words("HELLO", BLUE), fe.warm, None, with_hello,
         extra_wrong=[("words_removed", erase_top_words), ("words_rewritten", fl.add_words("HELIO", RED))]),
]  # fmt: skip
