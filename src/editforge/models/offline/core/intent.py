"""What an instruction asks for, read from its words: the offline editor's and judge's shared reading.

The classical editor must act on the instruction *text* (its own long and short instructions, and a
person's plain phrasing such as "make it warmer"), never on a hidden parameter. This module is that
reading: `parse_instruction(text)` → `Intent(edit_type, params)`, or None when nothing it knows is
asked. The parameter vocabulary per type is fixed here so writer, editor and judge agree:

| edit type          | params                                                                   |
|--------------------|--------------------------------------------------------------------------|
| color_tone         | direction: warm / cool                                                   |
| film_grain_vintage | look: grain / vintage                                                    |
| global_lighting    | mood: golden_hour / blue_hour / fluorescent / brighter / darker          |
| weather            | condition: rain / snow / fog / sunny                                     |
| seasonal           | season: winter / autumn / spring / summer                                |
| style_transfer     | style: van_gogh / oil_painting / watercolor / impressionist              |
| photo_to_cartoon   | style: cartoon / pencil_sketch / comic                                   |
| modern_historical  | era: victorian / 1920s / 1950s / 1970s                                   |
| zoom_in            | region: center / left / right / top / bottom / subject                   |
| outpainting        | side: all / left / right / horizontal / top / bottom / vertical          |
| add_text           | text: the quoted words; position: top / bottom / center; color: a name   |
| text_font_color    | color: the new colour; text: the quoted words; position (both optional)  |
| person_lineart     | (none)                                                                   |
| person_sticker     | (none)                                                                   |
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Params = dict[str, str]


@dataclass(frozen=True)
class Intent:
    edit_type: str
    params: Params = field(default_factory=dict)


def _any(text: str, *patterns: str) -> bool:
    return any(re.search(p, text) for p in patterns)


def _earliest(text: str, options: dict[str, tuple[str, ...]]) -> tuple[int, str] | None:
    """(position, option) of the option whose pattern occurs earliest: the main ask comes first."""
    best: tuple[int, str] | None = None
    for name, patterns in options.items():
        for p in patterns:
            m = re.search(p, text)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), name)
    return best


def _first(text: str, options: dict[str, tuple[str, ...]]) -> str | None:
    found = _earliest(text, options)
    return found[1] if found else None


# Double and curly quotes first; a single quote only when it is not an apostrophe ("don't").
_QUOTES = (
    re.compile(r"\"([^\"]{1,40})\""),
    re.compile(r"“([^”]{1,40})”"),
    re.compile(r"‘([^’]{1,40})’"),
    re.compile(r"(?<!\w)'([^']{1,40})'(?!\w)"),
)


def _quoted(raw: str) -> re.Match[str] | None:
    found = [m for q in _QUOTES if (m := q.search(raw))]
    return min(found, key=lambda m: m.start()) if found else None


# People type `write MEOW at the bottom` without quotes: after "write" (and an optional "the words"),
# the words run up to where a position, a colour or a style begins. At most 6 words: a longer run is
# more likely a description ("write something funny about the cat") than the words themselves.
_UNQUOTED = re.compile(
    r"\b(?:write|hand-?write|spell out)\s+(?:the\s+(?:words?|text)\s+|the\s+word\s+)?"
    r"(?P<words>\S+(?:\s+\S+){0,5}?)"
    r"(?=\s+(?:at|on|in|along|across|near|over|under|below|above|onto|into|to|with|using)\b|\s*[.,;!]?\s*$)",
    re.IGNORECASE,
)
_NOT_WORDS = re.compile(r"^(?:a|an|some|something|text|words?|the)\b", re.IGNORECASE)


def _unquoted_words(raw: str) -> re.Match[str] | None:
    found = _UNQUOTED.search(raw)
    if found is None or _NOT_WORDS.match(found.group("words")):
        return None
    return _WordsMatch(found)


class _WordsMatch:
    """The unquoted words, shaped like a quote match: group(1) the words, start/end their span."""

    def __init__(self, found: re.Match[str]) -> None:
        self._words = found.group("words").rstrip(".,;!?")  # the sentence's full stop is not lettering
        self._start = found.start("words")

    def group(self, _: int) -> str:
        return self._words

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._start + len(self._words)


_COLORS = ("white", "black", "red", "yellow", "blue", "green", "orange", "pink", "purple", "gold", "silver")


def _add_text(text: str, raw: str) -> Intent | None:
    # "write" with quoted words is a text ask on its own; "add", "put", "print" also need a word such
    # as "text" or "caption", since quotes can mark other things ("add a 'vintage print' look").
    writes = _any(text, r"\b(write|writes|written|spell(ed)? out|hand-?write)\b")
    if not writes and not _any(text, r"\b(add|put|place|overlay|insert|caption|stamp|print|label)\b"):
        return None
    if not writes and not _any(
        text, r"\b(text|words?|caption|title|label|lettering|sign|slogan|heading|says?|reading)\b"
    ):
        return None
    quoted = _quoted(raw) or (_unquoted_words(raw) if writes else None)
    if not quoted:
        return None
    # Position and colour are read outside the quotes: 'add "TOP DEALS" at the bottom' is bottom.
    text = (raw[: quoted.start()] + " " + raw[quoted.end() :]).lower()
    position = _first(
        text,
        {
            "top": (r"\b(top|upper|above|header|at the head)\b",),
            "bottom": (r"\b(bottom|lower|beneath|footer|along the base)\b",),
            "center": (r"\b(cent(er|re)|middle)\b",),
        },
    )
    params: Params = {"text": quoted.group(1).strip(), "position": position or "bottom"}
    color = _first(text, {c: (rf"\b{c}\b",) for c in _COLORS})
    if color:
        params["color"] = color
    return Intent("add_text", params)


# Recolouring lettering already in the picture: a recolour verb, then the lettering, then the new colour,
# all in one sentence ("make the text you added red", "change the colour of the lettering to yellow").
# A colour named before the lettering is the old one ("make the white words red"); quoted words are
# which lettering, not the colour. Adding words ('add the text "SALE" in red') is add_text.
_RECOLOUR = re.compile(r"\b(make|turn|change|recolou?r|colou?r|switch|paint|tint)\b")
_LETTERING = re.compile(r"\b(text|lettering|letters|words?|caption|title|headline|slogan|writing|font)\b")
_ADDS = re.compile(r"\b(add|put|place|overlay|insert|caption|stamp|print|label|write|writes|written|hand-?write)\b")
_POSITIONS = {
    "top": (r"\b(top|upper|header)\b",),
    "bottom": (r"\b(bottom|lower|footer)\b",),
    "center": (r"\b(cent(er|re)|middle)\b",),
}


def _text_colour(raw: str) -> tuple[int, Intent] | None:
    """(where the ask starts, the ask) for recolouring lettering, or None."""
    quoted = _quoted(raw)
    # Quoted words are blanked (same length) so their letters are read as neither colour nor position.
    plain = raw.lower()
    if quoted:
        plain = plain[: quoted.start()] + " " * (quoted.end() - quoted.start()) + plain[quoted.end() :]
    for sentence in re.finditer(r"[^.;!?]+", plain):
        clause = sentence.group(0)
        verb = _RECOLOUR.search(clause)
        noun = _LETTERING.search(clause, verb.end()) if verb else None
        if verb is None or noun is None:
            continue
        colour = _first(clause[noun.end() :], {c: (rf"\b{c}\b",) for c in _COLORS})
        if colour is None:
            continue
        params: Params = {"color": colour}
        position = _first(clause, _POSITIONS)
        if position:
            params["position"] = position
        if quoted and sentence.start() <= quoted.start() < sentence.end():
            params["text"] = quoted.group(1).strip()
        return sentence.start() + verb.start(), Intent("text_font_color", params)
    return None


def _person_style(text: str) -> Intent | None:
    person = _any(text, r"\b(person|man|woman|people|subject|portrait|figure|astronaut|him|her|them)\b")
    if _any(text, r"\bstick(er|erify|er-ify)\b") and (person or "sticker" in text):
        return Intent("person_sticker")
    if person and _any(text, r"\bline[- ]?art\b", r"\bink (sketch|drawing|line)", r"\bcontour drawing\b"):
        return Intent("person_lineart")
    return None


# Order matters: more specific asks are tried before the broad ones they contain words of.
def _zoom(text: str) -> Intent | None:
    if not _any(
        text,
        r"\bzoom(ed|ing)? in(to)?\b",
        r"\bclose[- ]?up\b",
        r"\bcrop (in|tighter|closer)\b",
        r"\bmagnif",
        r"\bpush in\b",
        r"\btighter (crop|framing)\b",
    ):
        return None
    region = _first(
        text,
        {
            "left": (r"\bleft\b",),
            "right": (r"\bright(-hand)?\b(?! (now|away))",),
            "top": (r"\b(top|upper)\b",),
            "bottom": (r"\b(bottom|lower)\b",),
            "subject": (r"\b(face|subject|person|main object)\b",),
            "center": (r"\b(cent(er|re)|middle)\b",),
        },
    )
    return Intent("zoom_in", {"region": region or "center"})


def _outpaint(text: str) -> Intent | None:
    if not _any(
        text,
        r"\bout-?paint",
        r"\bextend\b.*\b(canvas|frame|image|scene|picture|view|border)",
        r"\b(widen|expand|enlarge)\b.*\b(canvas|frame|view|scene|picture|image)",
        r"\b(zoom|pull) out\b",
        r"\bshow more of\b",
        r"\bbeyond (its|the) (edges|borders)",
        r"\bmake (it|the (image|photo|picture|frame|canvas)) (wider|taller)\b",
    ):
        return None
    side = _first(
        text,
        {
            "horizontal": (r"\b(both sides|left and right|sideways|horizontally|wider|widen)\b",),
            "vertical": (r"\b(top and bottom|vertically|taller)\b", r"\bup(wards?)? and down(wards?)?\b"),
            "left": (r"\bleft\b",),
            "right": (r"\bright\b",),
            "top": (r"\b(top|upwards?|above|the sky)\b",),
            "bottom": (r"\b(bottom|downwards?|below)\b",),
            "all": (r"\b(all (four )?sides|every side|all around|in every direction)\b",),
        },
    )
    return Intent("outpainting", {"side": side or "all"})


_SIMPLE: list[tuple[str, str, dict[str, tuple[str, ...]]]] = [
    (
        "photo_to_cartoon",
        "style",
        {
            "pencil_sketch": (r"\bpencil\b", r"\bsketch", r"\bcharcoal\b", r"\bgraphite\b", r"\bdrawing\b"),
            "comic": (r"\bcomic", r"\bgraphic novel\b", r"\bhalftone\b"),
            "cartoon": (r"\bcartoon", r"\btoon\b", r"\banimated\b"),
        },
    ),
    (
        "style_transfer",
        "style",
        {
            "van_gogh": (r"\bvan gogh\b", r"\bstarry night\b", r"\bswirl"),
            "watercolor": (r"\bwater-?colou?r", r"\bwash painting\b"),
            "impressionist": (r"\bimpressionis", r"\bmonet\b", r"\bpointill"),
            "oil_painting": (
                r"\boil[- ]paint",
                r"\boil on canvas\b",
                r"\bpainterly\b",
                r"\bimpasto\b",
                r"\bbrush ?strokes?\b",
                r"\bpainting\b",
            ),
        },
    ),
    (
        "modern_historical",
        "era",
        {
            "victorian": (
                r"\bvictorian\b",
                r"\b1800s\b",
                r"\b19th[- ]century\b",
                r"\bdaguerreotype\b",
                r"\btintype\b",
                r"\bantique\b",
            ),
            "1920s": (r"\b1920s\b", r"\broaring twenties\b", r"\bsilent[- ]film\b", r"\b1930s\b"),
            "1950s": (r"\b1950s\b", r"\bfifties\b", r"\bmid-century\b", r"\b1960s\b"),
            "1970s": (r"\b1970s\b", r"\bseventies\b", r"\bpolaroid\b", r"\bfaded (colou?r )?print\b"),
        },
    ),
    (
        "film_grain_vintage",
        "look",
        {
            "grain": (r"\bgrain", r"\bgrainy\b", r"\bfilm noise\b"),
            "vintage": (
                r"\bvintage\b",
                r"\bretro\b",
                r"\bold[- ]film\b",
                r"\bfaded\b",
                r"\bsepia\b",
                r"\bold photo",
                r"\bvignett",
            ),
        },
    ),
    (
        "weather",
        "condition",
        {
            "snow": (r"\bsnow(ing|fall|flakes|y|storm)?\b", r"\bblizzard\b"),
            "rain": (r"\brain(y|ing|fall|drops|storm)?\b", r"\bdrizzl", r"\bdownpour\b", r"\bstorm"),
            "fog": (r"\bfog(gy)?\b", r"\bmist(y)?\b", r"\bhaz(e|y)\b"),
            "sunny": (r"\bsunny\b", r"\bclear (blue )?sk(y|ies)\b", r"\bbright sunshine\b"),
        },
    ),
    (
        "seasonal",
        "season",
        {
            "winter": (r"\bwinter", r"\bwintry\b", r"\bfrost(y|ed)?\b", r"\bicy\b"),
            "autumn": (
                r"\bautumn",
                r"\bfall (colou?rs|foliage|season|leaves)\b",
                r"\bfoliage\b",
                r"\b(into|in|for|of) (the )?fall\b",
                r"\bfall\b(?= *(look|feel|vibe|scene|day)\b)",
            ),
            "spring": (
                r"\bspring(time)?\b",
                r"\bblossom",
            ),
            "summer": (r"\bsummer", r"\blush green\b"),
        },
    ),
    (
        "global_lighting",
        "mood",
        {
            "golden_hour": (
                r"\bgolden[- ]hour\b",
                r"\bsunset (light|glow|lighting)\b",
                r"\bsunset\b",
                r"\blate[- ]afternoon (sun|light)\b",
                r"\bwarm evening light\b",
            ),
            "blue_hour": (r"\bblue[- ]hour\b", r"\btwilight\b", r"\bdusk\b", r"\bmoonli"),
            "fluorescent": (r"\bfluorescent\b", r"\boffice light", r"\bneon\b"),
            "brighter": (
                r"\bbright(en|er)\b",
                r"\blighten\b",
                r"\bmore light\b",
                r"\bexpos(e|ure) up\b",
                r"\blift the shadows\b",
            ),
            "darker": (
                r"\bdark(en|er)\b",
                r"\bdimm?(er)?\b",
                r"\bmoodier\b",
                r"\bless light\b",
                r"\blow[- ]key\b",
            ),
        },
    ),
    (
        "color_tone",
        "direction",
        {
            "warm": (r"\bwarm(er|th|ing)?\b", r"\bamber\b", r"\borange tint\b", r"\bcozy\b"),
            "cool": (
                r"\bcool(er|ing)?\b",
                r"\bcold(er)?\b",
                r"\bblue (tint|cast)\b",
                r"\bteal\b",
                r"\bicier\b",
            ),
        },
    ),
]


def parse_instruction(instruction: str) -> Intent | None:
    """Read what the instruction asks. None means: no operation this reading knows."""
    raw = instruction.strip()
    text = raw.lower()
    if not text:
        return None
    recolour = _text_colour(raw)
    if recolour is not None:
        adds = _ADDS.search(text)
        if adds is None or recolour[0] < adds.start() or _add_text(text, raw) is None:
            return recolour[1]
    for reader in (_add_text, _person_style, _zoom, _outpaint):
        intent = reader(text, raw) if reader is _add_text else reader(text)  # type: ignore[call-arg]
        if intent:
            return intent
    # Among the simple looks, the one named first is the ask ("winter, with snow on the ground" is
    # seasonal; "add falling snow" is weather); ties go to the more specific type listed first.
    best: tuple[int, int, Intent] | None = None
    for rank, (edit_type, param, options) in enumerate(_SIMPLE):
        found = _earliest(text, options)
        if found and (best is None or (found[0], rank) < best[:2]):
            best = (found[0], rank, Intent(edit_type, {param: found[1]}))
    return best[2] if best else None
