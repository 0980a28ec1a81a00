"""Recolour text: the lettering an earlier turn added takes the asked colour; its outline stays.

The lettering is found with `textfind.find_text` (in the named band, with as many letters as the
quoted words have, when the instruction says so). Each fill pixel moves by the difference between the
asked colour and the fill's present colour, scaled by how much of the pixel is fill: the anti-aliased
rim blends into the untouched outline as before, and whatever a later turn laid over the letters
(snowflakes, a tint) keeps its relative shading.
"""

from __future__ import annotations

import numpy as np

from editforge.models.base import ModelCallError
from editforge.models.offline.core.colours import COLOURS
from editforge.models.offline.core.textfind import find_text, letter_count
from editforge.models.offline.editor.ops_common import WEAK, Details, Draw, amount_of, clip01

HALF_LETTERS = "half_letters"  # the op's own miss: only the letters on one side of the word change


def recolor_text(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    name = params.get("color")
    if name not in COLOURS:
        raise ModelCallError(f"cannot carry out instruction: no known colour asked for the text ({name})")
    position, letters = params.get("position"), letter_count(params.get("text"))
    found = find_text(img, position, letters)
    if found is None and position:
        found = find_text(img, None, letters)  # the words may have moved (a later crop or extension)
    if found is None:
        raise ModelCallError("no text found to recolour")
    target = np.array(COLOURS[name], np.float32) / 255.0
    alpha = found.alpha.copy()
    if draw.is_flaw(WEAK):
        alpha *= amount_of(draw.strength)  # only slightly tinted
    details: Details = {
        "text_box_xyxy": list(found.box),
        "letters_found": found.letters,
        "from_rgb": [round(float(c) * 255) for c in found.fill],
        "colour": name,
    }
    if draw.is_flaw(HALF_LETTERS) and len(found.centres) >= 2:
        # Stop between two letters near the middle of the word: one side keeps its old colour.
        middle = len(found.centres) // 2
        cut = int(round((found.centres[middle - 1] + found.centres[middle]) / 2))
        if draw.rng.random() < 0.5:
            alpha[:, cut:] = 0.0
        else:
            alpha[:, :cut] = 0.0
        details["cut_x"] = cut
    out = img + alpha[..., None] * (target - found.fill)
    return clip01(out), details
