"""The real photos that scikit-image ships: the offline demo's source, no download needed."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from editforge.sources import SourceItem

# file in skimage/data → the skimage.data function documenting it. Real photographs only (no test
# patterns); a person first so human-centric types appear, a text scene for text types.
SAMPLE_PHOTOS = {
    "astronaut.png": "astronaut",
    "coffee.png": "coffee",
    "chelsea.png": "chelsea",
    "rocket.jpg": "rocket",
    "motorcycle_left.png": "stereo_motorcycle",
    "camera.png": "camera",
    "hubble_deep_field.jpg": "hubble_deep_field",
    "coins.png": "coins",
    "moon.png": "moon",
    "text.png": "text",
    "page.png": "page",
}


def sample_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


def _provenance(function: str) -> tuple[str | None, str | None]:
    """Attribution and licence from scikit-image's own docstring for the photo."""
    import skimage.data

    doc = inspect.getdoc(getattr(skimage.data, function, None)) or ""
    paragraphs = [re.sub(r"^Notes\s*-+\s*", "", p.replace("\n", " ").strip()) for p in doc.split("\n\n")]
    paragraphs = [p for p in paragraphs if p]
    attribution = " ".join(paragraphs[:2])[:300] or None
    licence = next(
        (p for p in paragraphs if any(w in p.lower() for w in ("copyright", "cc0", "licen", "public domain"))),
        None,
    )
    return attribution, licence


def sample_items(limit: int | None = None) -> list[SourceItem]:
    root = sample_dir()
    items: list[SourceItem] = []
    for name, function in SAMPLE_PHOTOS.items():
        if (root / name).exists():
            attribution, licence = _provenance(function)
            items.append(SourceItem(uri=str(root / name), path=root / name, attribution=attribution, license=licence))
    return items[:limit] if limit else items
