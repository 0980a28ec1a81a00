"""Coarse content labels for an example: what its photo shows (taxonomy.CONTENT_LABELS).

Pico-Banana-400K's users asked for content labels it never released. Ours describe the photo, never
the instruction: a VLM writer (hosted or local) names them in the same call as the instruction
(prompt writer.v2); without one, only what photo analysis detects counts (a face means people, read
lettering means text). Words of an instruction are not evidence: "an old plate" on a cameraman's photo
is no food. Coarse by design: they are for filtering and plots.

`labels_from_words` is only for imported Pico-Banana manifests, where the instructions are all there
is to go by; a report says so.
"""

from __future__ import annotations

import re

from editforge.records import PhotoFacts
from editforge.taxonomy import CONTENT_LABELS

LABELS: dict[str, tuple[str, ...]] = {
    "people": ("person", "people", "man", "woman", "men", "women", "child", "children", "boy", "girl", "face",
               "portrait", "astronaut", "crowd", "her", "his", "he", "she", "player", "worker"),
    "animals": ("cat", "dog", "bird", "horse", "cow", "animal", "kitten", "puppy", "fish", "sheep", "pet",
                "wildlife", "fur"),
    "text_signage": ("text", "sign", "signage", "words", "lettering", "caption", "poster", "billboard", "label",
                     "title", "slogan", "banner"),
    "buildings": ("building", "house", "tower", "church", "bridge", "street", "city", "skyline", "wall",
                  "window", "roof", "architecture"),
    "vehicles": ("car", "bus", "truck", "bike", "bicycle", "motorcycle", "train", "boat", "ship", "plane",
                 "rocket", "vehicle"),
    "food": ("food", "coffee", "cup", "mug", "plate", "cake", "fruit", "bread", "drink", "meal", "saucer"),
    "nature": ("tree", "trees", "forest", "mountain", "mountains", "river", "lake", "sea", "ocean", "beach",
               "flower", "flowers", "grass", "field", "leaves", "foliage", "garden", "snow"),
    "sky": ("sky", "clouds", "cloud", "sunset", "horizon", "stars", "space"),
}  # fmt: skip
assert tuple(LABELS) == CONTENT_LABELS  # one vocabulary
_WORDS = {label: re.compile(r"\b(" + "|".join(words) + r")\b", re.I) for label, words in LABELS.items()}


def content_labels(writer_labels: list[str] | None, facts: PhotoFacts | None = None) -> list[str]:
    """Sorted labels of a photo: what the writer model saw (when it said), and what analysis detected."""
    found = {label for label in writer_labels or () if label in LABELS}
    if facts is not None:
        if facts.has_person or facts.faces:
            found.add("people")
        if facts.has_text:
            found.add("text_signage")
    return sorted(found)


def labels_from_words(texts: list[str]) -> list[str]:
    """Labels named by instruction words: for imported manifests only (no photo analysis, no writer)."""
    return sorted({label for label, pattern in _WORDS.items() if any(pattern.search(t) for t in texts if t)})
