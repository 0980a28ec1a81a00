"""What the template writer knows about sessions: which types make sense as a next turn, and the
parameters of a turn that refers back to an earlier one (recolouring the words an earlier turn added).

Offline, text_font_color can only recolour lettering a session's own add_text turn put in the picture:
the words, their place and their colour are then known from that turn's instruction, and the
classical editor can find the outlined letters again. So it is a session-only type, never a
single-turn one (`SESSION_ONLY_TYPES`), and it is refused once a later turn has repainted, re-framed
or fogged the words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from editforge import taxonomy
from editforge.models.base import ModelCallError
from editforge.models.offline.core.colours import COLOURS, outline_for
from editforge.models.offline.core.intent import Intent, Params
from editforge.records import PhotoFacts

SESSION_ONLY_TYPES: frozenset[str] = frozenset({"text_font_color"})
RESTYLES = frozenset({"style_transfer", "photo_to_cartoon", "modern_historical", "person_lineart", "person_sticker"})
REFRAMES = frozenset({"zoom_in", "outpainting"})
# After these the added words are repainted, cropped or moved: there is nothing left to recolour
# reliably. (A fog turn also hides them; that is a weather parameter, checked on the instruction.)
TEXT_BREAKERS = RESTYLES | REFRAMES
MAX_ADDED_TEXTS = 2

# New colours for lettering, by its outline: a light fill has a dark outline and the reverse, and
# the outline stays, so the new fill must stand out against it.
ON_DARK_OUTLINE = ("red", "yellow", "orange", "pink", "green", "blue")
ON_LIGHT_OUTLINE = ("red", "blue", "green", "purple", "orange", "black")
MIN_STEP = 110  # largest channel change (levels) from the old fill: a subtler recolour is hard to see


def session_types(facts: PhotoFacts, history_types: list[str], supported: frozenset[str]) -> list[str]:
    """The supported types that make sense as a session's next turn, in taxonomy order.

    text_font_color only after an add_text turn whose words are still there; no type twice in a row;
    one re-framing (zoom in or outpainting) and one restyle per session; at most two added texts.
    Person and photo-text types need what the original photo holds, as for single turns.
    """
    done = list(history_types)
    last = done[-1] if done else None
    out = []
    for kind in taxonomy.all_types():
        key = kind.key
        if key not in supported or key == last:
            continue
        if key in SESSION_ONLY_TYPES:
            if key == "text_font_color" and _words_to_recolour(done):
                out.append(key)
            continue
        if (kind.needs == "person" and not facts.has_person) or (kind.needs == "text" and not facts.has_text):
            continue
        if (key in RESTYLES and RESTYLES & set(done)) or (key in REFRAMES and REFRAMES & set(done)):
            continue
        if key == "add_text" and done.count("add_text") >= MAX_ADDED_TEXTS:
            continue
        out.append(key)
    return out


def _words_to_recolour(done: list[str]) -> bool:
    if "add_text" not in done:
        return False
    last_added = len(done) - 1 - done[::-1].index("add_text")
    return not TEXT_BREAKERS & set(done[last_added + 1 :])


def _breaks_text(intent: Intent | None) -> bool:
    if intent is None:
        return False
    fog = intent.edit_type == "weather" and intent.params.get("condition") == "fog"
    return intent.edit_type in TEXT_BREAKERS or fog


def lettering_turn(earlier: Sequence[Intent | None]) -> int:
    """Index of the add_text turn whose words a text_font_color turn recolours: the latest one.

    Raises ModelCallError when there is none, or when a later turn repainted, re-framed or fogged it.
    """
    added = [i for i, intent in enumerate(earlier) if intent is not None and intent.edit_type == "add_text"]
    if not added:
        raise ModelCallError(
            "text_font_color needs an earlier add_text turn in the session's history: offline, only "
            "lettering a turn added (known words, place and colour) can be recoloured, not a photo's own text"
        )
    index = added[-1]
    since = [intent for intent in earlier[index + 1 :] if _breaks_text(intent)]
    if since:
        raise ModelCallError(
            f"the lettering added in turn {index + 1} was since changed by a {since[0].edit_type} turn: "
            "nothing left to recolour reliably"
        )
    return index


def _step(a: str, b: str) -> int:
    return int(np.abs(np.subtract(COLOURS[a], COLOURS[b])).max())


def recolour_params(earlier: Sequence[Intent | None], rng: np.random.Generator) -> tuple[Params, str]:
    """(full parameters, present colour name or "") for recolouring the latest added words.

    The parameters hold the new colour, the words and their place; the instruction may name only some.
    """
    index = lettering_turn(earlier)
    added = earlier[index]
    assert added is not None
    was = added.params.get("color", "")
    used = {was}
    for intent in earlier[index + 1 :]:
        if intent is not None and intent.edit_type == "text_font_color" and intent.params.get("color") in COLOURS:
            was = intent.params["color"]
            used.add(was)
    if was in COLOURS:
        light = outline_for(COLOURS[was])[0] > 128
        pool = [c for c in (ON_LIGHT_OUTLINE if light else ON_DARK_OUTLINE) if _step(c, was) >= MIN_STEP]
    else:  # the add_text turn named no colour: the editor chose white or black, whichever stood out
        pool = ["red", "blue", "green", "orange"]
    fresh = [c for c in pool if c not in used] or pool
    colour = fresh[int(rng.integers(len(fresh)))]
    params = {"color": colour, "text": added.params.get("text", ""), "position": added.params.get("position", "")}
    return {k: v for k, v in params.items() if v}, was if was in COLOURS else ""
