"""The metric judge's own reading of an instruction: what value of the known edit type is asked, and what is refused.

The judge is told the edit type, so it only has to find the named value (which weather, style, era,
side, words) — but it must read it the way a person does: "less warm: cool it down" asks for cool;
"snow instead of rain" refuses rain; "don't zoom on the left, zoom on the right" asks for right. It is
written apart from the writer's and editor's grammar (core/intent.py) on purpose: a shared misreading
would confirm itself.

Each mention of a value is read with its polarity: negative when, earlier in its clause, a negator
stands ("not", "don't", "no", "without", "less", "instead of", "rather than", "remove", "reduce",
"avoid", "tone down"), positive otherwise; "X instead" is positive. The asked value is the first
positive mention; failing one, the opposite of a refused directional value ("less warm" → cool).
`read_request(instruction, key)` → `Request(params, avoid)`, or None when no value for the type is named
(types without a value — person line art, stickers — read as an empty request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Params = dict[str, str]

NEGATORS = re.compile(
    r"\b(not|no|never|nor|without|less|fewer|instead of|rather than|remove|removing|reduce|reducing|avoid|"
    r"tone down|take out|get rid of|drop|undo|stop|minus|lose|away from)\b|n't\b"
)
# A clause ends at punctuation or a contrast word; a negator's reach stops there.
CLAUSE_BREAK = re.compile(r"[.;:!?,\n—–]| - |\b(but|then|so that|while|and then|and make|and add|and turn)\b")
QUOTED = re.compile(r"\"([^\"]{1,60})\"|“([^”]{1,60})”|‘([^’]{1,60})’|(?<!\w)'([^']{1,60})'(?!\w)")

COLOURS = ("white", "black", "red", "yellow", "blue", "green", "orange", "pink", "purple", "gold", "silver")
SIDES = {
    "left": r"\bleft(-hand)?\b",
    "right": r"\bright(-hand)?\b",
    "top": r"\b(top|upper|above|upwards?|sky)\b",
    "bottom": r"\b(bottom|lower|below|downwards?|ground|foreground)\b",
}

# key -> (param, {value: pattern}); patterns are this module's own, one regex per value.
VALUES: dict[str, tuple[str, dict[str, str]]] = {
    "color_tone": ("direction", {
        "warm": r"\b(warm(er|th|ing|s)?|amber|orange[- ]?(tint|cast|tone)|golden tones?|cozier|cosier|cozy|cosy)\b",
        "cool": r"\b(cool(er|ing|s)?|cold(er)?|chill(y|ier)?|icier|icy|blue[- ]?(tint|cast|tone)s?|bluish|teal)\b",
    }),
    "global_lighting": ("mood", {
        "golden_hour": r"\b(golden[- ]hour|sunset|sundown|sun (is )?(setting|going down)|setting sun|late[- ]afternoon|"
        r"evening (sun|light)|warm evening|low (warm )?(sun|light))\b",
        "blue_hour": r"\b(blue[- ]hour|twilight|dusk|moonli(t|ght))\b",
        "fluorescent": r"\b(fluorescent|office light(s|ing)?|neon|strip light(s|ing)?)\b",
        "brighter": r"\b(bright(en|er|ness)|lighten|lighter|more light|expos(e|ure) up|lift the shadows|"
        r"well[- ]lit|sunnier)\b",
        "darker": r"\b(dark(en|er|ness)|dimm?(er|ed)?|moodier|less light|low[- ]key|gloomier|underexpos\w*)\b",
    }),
    "weather": ("condition", {
        "snow": r"\b(snow\w*|blizzard|flurr(y|ies))\b",
        "rain": r"\b(rain\w*|drizzl\w*|downpour|showers?|storm\w*)\b",
        "fog": r"\b(fog\w*|mist\w*|haz(e|y)|murk\w*)\b",
        "sunny": r"\b(sunny|sunshine|sunlit|clear (blue )?sk(y|ies)|cloudless|bright sun)\b",
    }),
    "seasonal": ("season", {
        "winter": r"\b(winter\w*|wintry|frost\w*|icy|snow\w*)\b",
        "autumn": r"\b(autumn\w*|fall(?! (asleep|apart|over|down))|foliage|harvest)\b",
        "spring": r"\b(spring(time)?|blossom\w*|bloom\w*)\b",
        "summer": r"\b(summer\w*|midsummer|lush)\b",
    }),
    "style_transfer": ("style", {
        "van_gogh": r"\b(van gogh|starry night|swirl\w*|post-impressionis\w*)\b",
        "watercolor": r"\b(water-?colou?rs?|aquarelle|wash painting)\b",
        "impressionist": r"\b((?<!post-)impressionis\w*|monet|renoir|pointill\w*)\b",
        "oil_painting": r"\b(oil[- ]?(paint\w*|on canvas)|impasto|painterly|brush ?strokes?|painting)\b",
    }),
    "photo_to_cartoon": ("style", {
        "pencil_sketch": r"\b(pencil|sketch\w*|charcoal|graphite|drawing)\b",
        "comic": r"\b(comic\w*|graphic novel|halftone|manga)\b",
        "cartoon": r"\b(cartoon\w*|toon|animated|animation|cel[- ]shad\w*)\b",
    }),
    "modern_historical": ("era", {
        "victorian": r"\b(victorian|1800s|19th[- ]century|daguerreotype|tintype|antique)\b",
        "1920s": r"\b(1920s|twenties|roaring twenties|silent[- ]film|1930s|thirties)\b",
        "1950s": r"\b(1950s|fifties|mid-century|1960s|sixties)\b",
        "1970s": r"\b(1970s|seventies|polaroid|faded (colou?r )?print)\b",
    }),
    "film_grain_vintage": ("look", {
        "grain": r"\b(grain\w*|film noise|noisy film)\b",
        "vintage": r"\b(vintage|retro|old[- ]film|faded|sepia|old photo\w*|vignett\w*|aged)\b",
    }),
    "zoom_in": ("region", {
        **{k: v for k, v in SIDES.items()},
        "subject": r"\b(face|subject|person|main object|cat|dog|animal)\b",
        "center": r"\b(cent(er|re)|middle)\b",
    }),
    "outpainting": ("side", {
        "horizontal": r"\b(both sides|left and right|sideways|horizontally|wider|widen)\b",
        "vertical": r"\b(top and bottom|vertically|taller|up(wards?)? and down(wards?)?)\b",
        "all": r"\b(all (four )?sides|every side|all around|every direction|zoom out|pull out|pull back)\b",
        **{k: v for k, v in SIDES.items()},
    }),
}
HEAVY_WORDS = r"\b(heav(y|ily)|thick(ly)?|dense(ly)?|blizzard|downpour|torrential|pouring|snowstorm|storm)\b"
OPPOSITES = {"warm": "cool", "cool": "warm", "brighter": "darker", "darker": "brighter"}
# Words that ask for the type itself: "zoom in" with no side named asks for a zoom, just not where.
TYPE_WORDS = {
    "zoom_in": r"\b(zoom\w*|close-?up|crop\w*|magnif\w*|push in|tighter|enlarge)\b",
    "outpainting": r"\b(extend\w*|out-?paint\w*|widen\w*|expand\w*|zoom out|pull (out|back)|wider|taller|more of)\b",
}


@dataclass(frozen=True)
class Mention:
    value: str
    start: int
    positive: bool


@dataclass
class Request:
    params: Params = field(default_factory=dict)
    avoid: set[str] = field(default_factory=set)  # values the instruction refuses ("not rain", "less warm")


def _clause_start(text: str, at: int) -> int:
    start = 0
    for brk in CLAUSE_BREAK.finditer(text, 0, at):
        start = brk.end()
    return start


def polarity(text: str, start: int, end: int) -> bool:
    """True when the mention at text[start:end] is asked, False when it is refused."""
    before = text[_clause_start(text, start) : start]
    after = text[end : end + 12]
    if re.match(r"\s*instead\b", after):
        return True  # "make it cooler instead"
    return NEGATORS.search(before) is None


def mentions(text: str, options: dict[str, str]) -> list[Mention]:
    found = [
        Mention(value, hit.start(), polarity(text, hit.start(), hit.end()))
        for value, pattern in options.items()
        for hit in re.finditer(pattern, text)
    ]
    return sorted(found, key=lambda m: m.start)


def blank_quotes(raw: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Lower-cased text with quoted words blanked (their letters are neither colour nor side), and the quotes."""
    quotes = [(next(g for g in q.groups() if g is not None).strip(), q.start(), q.end()) for q in QUOTED.finditer(raw)]
    text = raw.lower()
    for _, s, e in quotes:
        text = text[:s] + " " * (e - s) + text[e:]
    return text, quotes


def choose(found: list[Mention]) -> tuple[str | None, set[str]]:
    avoid = {m.value for m in found if not m.positive}
    asked = next((m.value for m in found if m.positive and m.value not in avoid), None)
    asked = asked or next((m.value for m in found if m.positive), None)
    if asked is None:
        opposite = {OPPOSITES[v] for v in avoid if v in OPPOSITES}
        asked = opposite.pop() if len(opposite) == 1 else None
    return asked, avoid - ({asked} if asked else set())


def _colour_of(text: str) -> tuple[str | None, set[str]]:
    return choose(mentions(text, {c: rf"\b{c}\b" for c in COLOURS}))


def _position(text: str) -> str | None:
    found = mentions(text, {"top": r"\b(top|upper|header|above)\b", "bottom": r"\b(bottom|lower|footer|beneath)\b",
                            "center": r"\b(cent(er|re)|middle)\b"})  # fmt: skip
    return choose(found)[0]


def _text_request(key: str, raw: str) -> Request | None:
    text, quotes = blank_quotes(raw)
    params: Params = {}
    position = _position(text)
    if position:
        params["position"] = position
    if key == "add_text":
        asked = [q for q in quotes if polarity(text, q[1], q[2])]
        if not asked:
            return None
        params["text"] = asked[0][0]
        colour, _ = _colour_of(text)
        if colour:
            params["color"] = colour
        return Request(params, {q[0] for q in quotes if q not in asked})
    if key == "replace_text":
        return _replace_request(text, quotes, params)
    # text_font_color: the new colour follows "to"/"into", else a recolour verb in its clause; a colour
    # right before the lettering ("the white words"), after "from", or stated ("are white") is the old one.
    names = "|".join(COLOURS)
    old = {m.group(2) for m in re.finditer(rf"\b(from|are|is|was|were|currently|now)\s+({names})\b", text)}
    old |= {m.group(1) for m in re.finditer(rf"\b({names})\s+(text|words?|letter\w*|caption|title|font)\b", text)}
    new = [m for m in re.finditer(rf"\b(to|into)\s+(a\s+)?(solid\s+|bright\s+|deep\s+)?({names})\b", text)]
    colour = new[0].group(4) if new else None
    if colour is None:
        for verb in re.finditer(r"\b(make|turn|paint|colou?r|recolou?r|change|switch|tint)\b", text):
            clause = text[verb.end() : verb.end() + _clause_end(text, verb.end())]
            hits = [m for m in mentions(clause, {c: rf"\b{c}\b" for c in COLOURS}) if m.positive and m.value not in old]
            if hits:
                colour = hits[0].value
                break
    if colour is None:
        return None
    params["color"] = colour
    if quotes:
        params["text"] = quotes[0][0]
    return Request(params, old - {colour})


def _clause_end(text: str, at: int) -> int:
    brk = re.compile(r"[.;!?\n]").search(text, at)
    return (brk.start() if brk else len(text)) - at


def _replace_request(text: str, quotes: list[tuple[str, int, int]], params: Params) -> Request | None:
    """Old and new words: 'replace "A" with "B"', 'change "A" to "B"', 'make it say "B" instead of "A"'."""
    if not quotes:
        return None
    new = old = None
    for word, start, _ in quotes:
        lead = text[max(0, start - 24) : start]
        if re.search(r"\b(instead of|rather than|replac\w*|change|swap|remove|not|from)\s*(the\s+)?(\w+\s+)?$", lead):
            old = old or word
        elif re.search(r"\b(with|to|into|read|reads|say|says|for|by)\s*(the\s+)?(\w+\s+)?$", lead):
            new = new or word
    if len(quotes) >= 2 and (new is None or old is None):
        old, new = old or quotes[0][0], new or next(q[0] for q in quotes if q[0] != (old or quotes[0][0]))
    if new is None:
        return None
    params["text"] = new
    if old:
        params["old_text"] = old
    return Request(params, {old} if old else set())


def read_request(instruction: str, key: str) -> Request | None:
    raw = (instruction or "").strip()
    if key in ("add_text", "replace_text", "text_font_color"):
        return _text_request(key, raw)
    if key not in VALUES:
        return Request()
    text, _ = blank_quotes(raw)
    param, options = VALUES[key]
    asked, avoid = choose(mentions(text, options))
    if asked is None:
        return Request() if key in TYPE_WORDS and re.search(TYPE_WORDS[key], text) else None
    params: Params = {param: asked}
    if key == "weather" and asked in ("rain", "snow") and re.search(HEAVY_WORDS, text):
        params["intensity"] = "heavy"
    if avoid:
        params["avoid"] = ",".join(sorted(avoid))
    return Request(params, avoid)
