from __future__ import annotations

from typing import Protocol

import numpy as np


class ImageIO(Protocol):
    """Where a stage reads and writes pixels: `put` returns the store path, `get` takes one."""

    def put(self, image: np.ndarray) -> str: ...

    def get(self, rel: str) -> np.ndarray: ...
