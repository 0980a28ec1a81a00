"""Coarse content labels for an example: what the photo and its edit are about.

Pico-Banana-400K's users asked for content labels it never released. Ours come from the words of the
instructions (which a writer model grounds in the photo) and from what photo analysis found (a face
means people; detected lettering means text). Coarse by design: they are for filtering and plots.
"""

from __future__ import annotations

import re

from editforge.records import PhotoFacts

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
_WORDS = {label: re.compile(r"\b(" + "|".join(words) + r")\b", re.I) for label, words in LABELS.items()}


def content_labels(texts: list[str], facts: PhotoFacts | None = None) -> list[str]:
    """Sorted labels found in the texts, plus those photo analysis is sure of."""
    found = {label for label, pattern in _WORDS.items() if any(pattern.search(t) for t in texts if t)}
    if facts is not None:
        if facts.has_person or facts.faces:
            found.add("people")
        if facts.has_text:
            found.add("text_signage")
        if facts.has_sky:
            found.add("sky")
    return sorted(found)
