"""The offline instruction writer: one grounded long instruction per (photo, edit type), no model.

It plays the part of Pico-Banana's VLM writer for the types the classical editor can carry out. The
parameters (warm or cool, which side, which words) are chosen against what `analysis` found in the
photo, and the sentence is drawn from the phrase pools in `phrases`. The classical editor acts on the
instruction text through `intent.parse_instruction`, so every instruction is read back before it is
returned: one that the reader would take for something else is redrawn, never sent.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from editforge import taxonomy
from editforge.models.base import ModelCallError, TextReply, WriteRequest
from editforge.models.offline import phrases
from editforge.models.offline.analysis import Regions, analyze, describe_regions
from editforge.models.offline.intent import Intent, Params, parse_instruction
from editforge.records import ModelRef, PhotoFacts

SUPPORTED: frozenset[str] = frozenset(
    {
        "color_tone", "film_grain_vintage", "global_lighting", "weather", "seasonal", "style_transfer",
        "photo_to_cartoon", "modern_historical", "zoom_in", "outpainting", "add_text", "person_lineart",
        "person_sticker",
    }
)  # fmt: skip
MAX_WORDS = 80  # Pico-Banana's long instructions run to a few sentences, not a paragraph
ATTEMPTS = 12  # redraws before falling back to the plain form (no lead-in, no back-reference)


def candidate_types(facts: PhotoFacts, supported: frozenset[str]) -> list[str]:
    """The supported types this photo can take, in taxonomy order: person / text types need one."""
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
        "target": "the face of the person" if facts.faces else "the main subject",
        "poss": "their" if regions.subject == "the person" else "its",
        "text": params.get("text", ""),
        "color": params.get("color", ""),
        "pos": _POS.get(params.get("position", ""), ""),
    }
    slots["Subject"] = slots["subject"][:1].upper() + slots["subject"][1:]
    return slots


def _earlier_ref(earlier: Sequence[Intent | None]) -> str:
    """What the last one or two turns left in the picture, in words safe for any new type."""
    refs: list[str] = []
    for intent in reversed(earlier):
        if intent is None:
            ref = phrases.EARLIER_UNKNOWN
        else:
            table = phrases.EARLIER.get(intent.edit_type, {})
            ref = next((table[v] for v in intent.params.values() if v in table), table.get("*", ""))
            if intent.edit_type == "add_text" and intent.params.get("text"):
                # No quotes: quoted words next to "add" / "caption" would read as a new add_text ask.
                ref = f"the lettering reading {intent.params['text']}"
            ref = ref or phrases.EARLIER_UNKNOWN
        if ref not in refs:
            refs.append(ref)
        if len(refs) == 2:
            break
    return " and ".join(reversed(refs))


def _compose(
    key: str,
    params: Params,
    slots: dict[str, str],
    earlier: Sequence[Intent | None] | None,
    rng: np.random.Generator,
) -> str:
    def draw(pool: Sequence[str], **extra: str) -> str:
        return pool[int(rng.integers(len(pool)))].format(**slots, **extra)

    asks = phrases.ASK[key]
    ask = draw(asks[next(iter(params.values()))] if "*" not in asks else asks["*"])
    ground = draw(phrases.GROUND[key])
    keep = draw(phrases.KEEP[phrases.KEEP_FAMILY.get(key, "look")])
    if not earlier:
        return " ".join([ask, ground, keep])
    ref = _earlier_ref(earlier)
    back = draw(phrases.BACK_REFERENCE, ref=ref, Ref=ref[0].upper() + ref[1:], it="them" if " and " in ref else "it")
    parts = [draw(phrases.LEAD_IN) + ask[0].lower() + ask[1:], ground, keep, back]
    if len(" ".join(parts).split()) > MAX_WORDS:
        parts.remove(keep)  # the back-reference already says what to keep
    return " ".join(parts)


class TemplateWriter:
    """Writer role of the offline provider. Options are accepted for symmetry and ignored."""

    supported_types: frozenset[str] = SUPPORTED

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
        if edit_type.needs == "text" and not facts.has_text:
            raise ModelCallError(f"no text in photo for {key}")
        regions = describe_regions(request.image, facts)
        rng = np.random.default_rng([request.seed, zlib.crc32(key.encode())])
        earlier = [parse_instruction(h) for h in request.history]
        params = choose_params(key, facts, regions, earlier, rng)
        slots = _slots(facts, regions, params)
        want = Intent(key, params)
        text = ""
        for attempt in range(ATTEMPTS + 1):
            # Last try: the plain form without the session's words, which the tests show always reads back.
            text = _compose(key, params, slots, earlier if attempt < ATTEMPTS else None, rng)
            if parse_instruction(text) == want:
                raw = {"intent": {"edit_type": key, "params": params}, "attempts": attempt + 1,
                       "history_turns": len(request.history)}  # fmt: skip
                return TextReply(text=text, raw=json.dumps(raw))
        raise ModelCallError(f"template writer could not phrase {key} {params} so that it reads back", raw=text)
