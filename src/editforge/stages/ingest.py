"""Photos in: decode, normalise, look at what the photo contains."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from editforge.images import decode_photo
from editforge.records import Photo, PhotoFacts
from editforge.stages.io import ImageIO
from editforge.store.images import pixel_hash


def ingest_photo(
    uri: str,
    data: bytes,
    images: ImageIO,
    analyze: Callable[[np.ndarray], PhotoFacts],
    max_side: int | None = None,
    attribution: str | None = None,
    license: str | None = None,
) -> Photo:
    """Decode a photo's bytes (raises PhotoError naming `uri`), store it, and record what it shows."""
    image = decode_photo(data, uri, max_side)
    height, width = image.shape[:2]
    return Photo(
        photo_id=pixel_hash(image)[:16],
        uri=uri,
        image=images.put(image),
        width=width,
        height=height,
        attribution=attribution,
        license=license,
        facts=analyze(image),
    )
