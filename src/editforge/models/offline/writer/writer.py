"""The offline instruction writer: one grounded long instruction per (photo, edit type), no model.

It plays the part of Pico-Banana's VLM writer for the types the classical editor can carry out. The
parameters (warm or cool, which side, which words) are chosen against what `analysis` found in the
photo, and the sentence is drawn from the phrase pools in `phrases`. The classical editor acts on the
instruction text through `intent.parse_instruction`, so every instruction is read back before it is
returned: one that the reader would take for something else is redrawn, never sent.

In a session (a history of earlier instructions) it avoids an earlier turn's parameter, names what
earlier turns left ("Keeping the falling flakes you added before, now ..."), and can refer back:
text_font_color recolours the words an add_text turn added, known from that turn's instruction
(`writer_session`; session-only, refused without such a turn).
"""

from __future__ import annotations

import json
import string
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from editforge import taxonomy
from editforge.models.base import ModelCallError, TextReply, WriteRequest
from editforge.models.offline.core.analysis import Regions, analyze, describe_regions
from editforge.models.offline.core.colours import COLOURS, outline_for
from editforge.models.offline.core.intent import Intent, Params, parse_instruction
from editforge.models.offline.writer import phrases, phrases_session
from editforge.models.offline.writer.writer_session import SESSION_ONLY_TYPES, recolour_params, session_types
from editforge.records import ModelRef, PhotoFacts

__all__ = ["SESSION_ONLY_TYPES", "SUPPORTED", "TemplateWriter", "candidate_types", "choose_params", "session_types"]

SUPPORTED: frozenset[str] = frozenset(
    {
        "color_tone", "film_grain_vintage", "global_lighting", "weather", "seasonal", "style_transfer",
        "photo_to_cartoon", "modern_historical", "zoom_in", "outpainting", "add_text", "person_lineart",
        "person_sticker", "text_font_color",
    }
)  # fmt: skip
# text_font_color (SESSION_ONLY_TYPES) is written only in a session, after an add_text turn: a
# single-turn planner must leave it out even though writer, editor and judge all claim it.
MAX_WORDS = 80  # Pico-Banana's long instructions run to a few sentences, not a paragraph
ATTEMPTS = 12  # redraws before falling back to the plain form (no lead-in, no back-reference)


ASK = {**phrases.ASK, **phrases_session.ASK}
GROUND = {**phrases.GROUND, **phrases_session.GROUND}
KEEP = {**phrases.KEEP, **phrases_session.KEEP}
KEEP_FAMILY = {**phrases.KEEP_FAMILY, **phrases_session.KEEP_FAMILY}
EARLIER = {**phrases.EARLIER, **phrases_session.EARLIER}


def candidate_types(facts: PhotoFacts, supported: frozenset[str]) -> list[str]:
    """The supported types this photo can take, in taxonomy order: person / text types need one.

    Session-only types (SESSION_ONLY_TYPES) are listed where the photo has text; single-turn planning
    leaves them out, and `session_types` says when a session's next turn can take them."""
    has = {"person": facts.has_person, "text": facts.has_text}
    return [t.key for t in taxonomy.all_types() if t.key in supported and (t.needs is None or has[t.needs])]


def _pick(rng: np.random.Generator, options: Sequence[str], avoid: set[str] | None = None) -> str:
    """One of `options`, preferring those not in `avoid` (what earlier turns already did)."""
    fresh = [o for o in options if o not in (avoid or set())]
    pool = fresh or list(options)
    return pool[int(rng.integers(len(pool)))]


# --- choosing the parameters ------------------------------------------------------------------------


def _text_params(
    facts: PhotoFacts, regions: Regions, rng: np.random.Generator, used: set[str], used_positions: set[str]
) -> Params:
    cues = [c for c, on in (("sky", facts.has_sky), ("person", facts.has_person),
                            ("warm", facts.warmth > 0.1), ("cool", facts.warmth < -0.03)) if on]  # fmt: skip
    pool = phrases.TEXTS[cues[int(rng.integers(len(cues)))]] if cues and rng.random() < 0.75 else phrases.TEXTS["any"]
    text = _pick(rng, pool, used)
    # The calm band reads best; a person's face sits mid-frame more often than not, so keep words off
    # the middle then; and never stack new words on the words an earlier turn put somewhere.
    other = "bottom" if regions.calm_band == "top" else "top"
    order = [regions.calm_band, other] if facts.has_person or rng.random() < 0.75 else ["center", regions.calm_band]
    free = [p for p in [*order, other, "center"] if p not in used_positions]
    position = free[0] if free else order[0]
    light = regions.calm_band_brightness if position != "center" else facts.mean_brightness
    if light > 0.55:
        colors = ["black", "red", "blue", "purple"]
    elif light < 0.4:
        colors = ["white", "yellow", "gold", "pink"]
    else:
        colors = ["white", "black", "yellow"]
    color = _pick(rng, colors, {regions.background_color, *facts.dominant_colors[:1]})
    return {"text": text, "position": position, "color": color}


def choose_params(
    key: str, facts: PhotoFacts, regions: Regions, earlier: Sequence[Intent | None], rng: np.random.Generator
) -> Params:
    """The parameter the instruction will ask for, chosen against the photo and the session so far."""
    used = {v for i in earlier if i is not None and i.edit_type == key for v in i.params.values()}
    b = facts.mean_brightness
    if key == "color_tone":
        if abs(facts.warmth) < 0.04:
            return {"direction": _pick(rng, ["warm", "cool"], used)}
        return {"direction": "cool" if facts.warmth > 0 else "warm"}
    if key == "film_grain_vintage":
        return {"look": _pick(rng, ["grain", "vintage"], used)}
    if key == "global_lighting":
        if b < 0.33:
            moods = ["brighter", "golden_hour"]
        elif b > 0.6:
            moods = ["darker", "blue_hour", "golden_hour"]
        else:
            moods = ["golden_hour", "blue_hour", "brighter", "darker"] + ([] if facts.has_sky else ["fluorescent"])
        return {"mood": _pick(rng, moods, used)}
    if key == "weather":
        conditions = ["rain", "snow", "fog"] + (["sunny"] if facts.has_sky and b < 0.5 else [])
        return {"condition": _pick(rng, conditions, used)}
    if key == "seasonal":
        if "green" in facts.dominant_colors:
            seasons = ["autumn", "winter"]
        elif "white" in facts.dominant_colors[:2]:
            seasons = ["spring", "summer"]
        else:
            seasons = ["winter", "autumn", "spring", "summer"]
        return {"season": _pick(rng, seasons, used)}
    if key == "style_transfer":
        return {"style": _pick(rng, ["van_gogh", "oil_painting", "watercolor", "impressionist"], used)}
    if key == "photo_to_cartoon":
        styles = ["pencil_sketch", "comic"] if facts.is_grayscale else ["cartoon", "pencil_sketch", "comic"]
        return {"style": _pick(rng, styles, used)}
    if key == "modern_historical":
        # A monochrome photo is already "1920s film"; only the sepia plate of a victorian look shows on it.
        eras = ["victorian"] if facts.is_grayscale else ["victorian", "1920s", "1950s", "1970s"]
        return {"era": _pick(rng, eras, used)}
    if key == "zoom_in":
        if facts.faces:
            return {"region": "subject"}
        if regions.subject_side != "center":
            return {"region": regions.subject_side}
        if regions.subject_level != "middle" and rng.random() < 0.5:
            return {"region": regions.subject_level}
        return {"region": _pick(rng, ["center", "subject"])}
    if key == "outpainting":
        if regions.subject_side in ("left", "right"):  # give the off-centre subject room to breathe
            sides = ["right" if regions.subject_side == "left" else "left", "horizontal"]
        else:
            sides = ["all", "horizontal", "vertical", "bottom"]
        if facts.has_sky:
            sides.append("top")
        return {"side": _pick(rng, sides, used)}
    if key == "add_text":
        texts = [i.params for i in earlier if i is not None and i.edit_type == "add_text"]
        return _text_params(facts, regions, rng, {p["text"] for p in texts}, {p["position"] for p in texts})
    return {}


# --- filling the templates ---------------------------------------------------------------------------

_SIDE = {"left": "on the left", "center": "in the centre", "right": "on the right"}
_POS = {"top": "top", "bottom": "bottom", "center": "middle"}


def _join(names: Sequence[str]) -> str:
    names = list(names) or ["mixed"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _scale(value: float, low: float, high: float, words: tuple[str, str, str]) -> str:
    """words[0] below `low`, words[2] above `high`, words[1] between."""
    return words[0] if value < low else words[2] if value > high else words[1]


def _slots(facts: PhotoFacts, regions: Regions, params: Params) -> dict[str, str]:
    person = facts.has_person
    slots = {
        "subject": regions.subject,
        "side": _SIDE[regions.subject_side],
        "colors": _join(facts.dominant_colors[:3]),
        "main_color": (facts.dominant_colors or ["mid-tone"])[0],
        "subject_color": regions.subject_color,
        "bg_color": regions.background_color,
        "tone_desc": _scale(
            facts.warmth, -0.04, 0.08, ("bluish cast", "fairly neutral balance", "reddish-orange cast")
        ),
        "light_desc": _scale(facts.mean_brightness, 0.33, 0.62, ("rather dim", "evenly exposed", "bright and airy")),
        "bright_half": regions.bright_area,
        "sky": "the sky" if facts.has_sky else "the upper part of the frame",
        "calm": regions.calm_band,
        "band_desc": _scale(
            regions.calm_band_brightness, 0.35, 0.6, ("dark and plain", "fairly plain", "light and plain")
        ),
        "person_keep": ", and leave the face and expression of the person unchanged" if person else "",
        # What must stay natural under a colour shift: only what this photo has (no "skin" on a coffee cup).
        "believable": _join(
            [w for w, on in (("skin", person), ("foliage", "green" in facts.dominant_colors)) if on]
            + ["the neutral tones"]
        ),
        "target": "the face of the person" if facts.faces else "the main subject",
        "poss": "their" if regions.subject == "the person" else "its",
        "text": params.get("text", ""),
        "color": params.get("color", ""),
        "pos": _POS.get(params.get("position", ""), ""),
    }
    slots["Subject"] = slots["subject"][:1].upper() + slots["subject"][1:]
    return slots


def _ref_of(intent: Intent | None, table: dict[str, dict[str, str]]) -> str:
    """What one earlier turn left in the picture, by its reading."""
    if intent is None:
        return phrases.EARLIER_UNKNOWN
    if intent.edit_type == "add_text" and intent.params.get("text"):
        # No quotes: quoted words next to "add" / "caption" would read as a new add_text ask.
        return f"the lettering reading {intent.params['text']}"
    names = table.get(intent.edit_type, {})
    ref = next((names[v] for v in intent.params.values() if v in names), names.get("*", ""))
    return ref or phrases.EARLIER_UNKNOWN


def _earlier_ref(earlier: Sequence[Intent | None]) -> str:
    """What the last one or two turns left in the picture, in words safe for any new type."""
    refs: list[str] = []
    for intent in reversed(earlier):
        ref = _ref_of(intent, EARLIER)
        if ref not in refs:
            refs.append(ref)
        if len(refs) == 2:
            break
    return " and ".join(reversed(refs))


def _lead_ref(last: Intent | None) -> str | None:
    """A name for what the last turn left that can stand BEFORE the new ask: free of cue words."""
    if last is None:
        return None
    ref = _ref_of(last, {**EARLIER, **phrases_session.LEAD_EARLIER})
    return ref if ref != phrases.EARLIER_UNKNOWN and parse_instruction(ref) is None else None


def _usable(pool: Sequence[str], slots: dict[str, str]) -> list[str]:
    """The templates whose slots all have something to say (no "{was}" when the old colour is unknown)."""
    fine = [t for t in pool if all(slots.get(name) for _, name, _, _ in string.Formatter().parse(t) if name)]
    return fine or list(pool)


def _compose(
    key: str,
    params: Params,
    slots: dict[str, str],
    earlier: Sequence[Intent | None] | None,
    rng: np.random.Generator,
) -> str:
    def draw(pool: Sequence[str], **extra: str) -> str:
        return pool[int(rng.integers(len(pool)))].format(**slots, **extra)

    asks = ASK[key]
    ask = draw(_usable(asks["*"] if "*" in asks else asks[next(iter(params.values()))], slots))
    follow = ask[4].lower() + ask[5:] if ask.startswith("Now ") else ask[0].lower() + ask[1:]  # after a lead-in
    ground = draw(_usable(GROUND[key], slots))
    keep = draw(KEEP[KEEP_FAMILY.get(key, "look")])
    if not earlier:
        return " ".join([ask, ground, keep])
    refs = list(earlier)
    if key in SESSION_ONLY_TYPES:  # the words being recoloured are the ask, not something to keep
        refs = [i for i in refs if i is None or i.edit_type not in ("add_text", "text_font_color")]
    lead = _lead_ref(refs[-1]) if refs else None
    if lead and rng.random() < 0.5:
        # Name the last edit first ("Keeping the falling flakes you added before, now ...").
        additive = refs[-1] is not None and refs[-1].edit_type in phrases_session.ADDITIVE
        pool = phrases_session.LEAD_REF_ADDED if additive else phrases_session.LEAD_REF
        parts = [draw(pool, ref=lead) + follow, ground, keep]
    else:
        parts = [draw(phrases.LEAD_IN) + follow, ground, keep]
        if refs:
            ref = _earlier_ref(refs)
            it = "them" if " and " in ref else "it"
            parts.append(draw(phrases.BACK_REFERENCE, ref=ref, Ref=ref[0].upper() + ref[1:], it=it))
    if len(" ".join(parts).split()) > MAX_WORDS:
        parts.remove(keep)  # the reference to the earlier edits already says what to keep
    return " ".join(parts)


def _reads_back(intent: Intent | None, key: str, params: Params) -> Params | None:
    """The parameters the reader finds when it reads the intended ask, else None.

    A recolouring names its colour and may or may not name the words and their place; whatever it
    names must be right."""
    if intent is None or intent.edit_type != key:
        return None
    if key in SESSION_ONLY_TYPES:
        named = intent.params
        right = named.get("color") == params["color"] and all(params.get(k) == v for k, v in named.items())
        return dict(named) if right else None
    return dict(intent.params) if intent.params == params else None


def _outline_word(colour: str) -> str:
    if colour not in COLOURS:
        return "contrasting"
    return "dark" if sum(outline_for(COLOURS[colour])) < 384 else "light"


class TemplateWriter:
    """Writer role of the offline provider. Options are accepted for symmetry and ignored."""

    supported_types: frozenset[str] = SUPPORTED
    # Types it writes only as a later turn of a session (recolour the text *you added*): never single turns.
    session_only_types: frozenset[str] = SESSION_ONLY_TYPES

    def __init__(self, **options: Any) -> None:
        self.ref = ModelRef(provider="offline", model="template-writer", prompt_version="v1")

    def write(self, request: WriteRequest) -> TextReply:
        edit_type = request.edit_type
        key = edit_type.key
        if key not in self.supported_types:
            raise ModelCallError(f"template writer does not write {key} instructions")
        # An empty PhotoFacts means nobody looked at the photo yet: look now rather than guess.
        facts = request.facts if request.facts != PhotoFacts() else analyze(request.image)
        if edit_type.needs == "person" and not facts.has_person:
            raise ModelCallError(f"no person in photo for {key}")
        session_only = key in SESSION_ONLY_TYPES  # its text is an earlier turn's, not the photo's
        if edit_type.needs == "text" and not facts.has_text and not session_only:
            raise ModelCallError(f"no text in photo for {key}")
        rng = np.random.default_rng([request.seed, zlib.crc32(key.encode())])
        earlier = [parse_instruction(h) for h in request.history]
        regions = describe_regions(request.image, facts)
        was = ""
        if session_only:
            params, was = recolour_params(earlier, rng)
        else:
            params = choose_params(key, facts, regions, earlier, rng)
        slots = _slots(facts, regions, params) | {"was": was, "outline": _outline_word(was)}
        text = ""
        for attempt in range(ATTEMPTS + 1):
            # Last try: the plain form without the session's words, which the tests show always reads back.
            text = _compose(key, params, slots, earlier if attempt < ATTEMPTS else None, rng)
            read = _reads_back(parse_instruction(text), key, params)
            if read is not None:
                raw = {"intent": {"edit_type": key, "params": read}, "attempts": attempt + 1,
                       "history_turns": len(request.history)}  # fmt: skip
                return TextReply(text=text, raw=json.dumps(raw))
        raise ModelCallError(f"template writer could not phrase {key} {params} so that it reads back", raw=text)
