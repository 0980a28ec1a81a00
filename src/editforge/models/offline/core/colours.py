"""The named colours instructions may ask for (text fill, recolouring), and the outline that stands out on each.

The writer names them, the editor draws them and the text finder looks for them: one table, so a colour
named in an instruction is the colour drawn.
"""

from __future__ import annotations

COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "black": (15, 15, 15),
    "red": (220, 30, 35),
    "yellow": (255, 220, 30),
    "blue": (35, 90, 220),
    "green": (40, 170, 60),
    "orange": (255, 140, 20),
    "pink": (255, 110, 180),
    "purple": (140, 60, 200),
    "gold": (235, 185, 50),
    "silver": (200, 200, 210),
}


def outline_for(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 110
    return (10, 10, 10) if light else (250, 250, 250)
