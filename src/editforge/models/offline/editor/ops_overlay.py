"""Add text: the quoted words, drawn big at the asked place and colour with a contrasting outline.

Pillow draws the text (its built-in scalable font, so nothing has to be installed); the text layer
is composited in float so its anti-aliased edges blend rather than band.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from editforge.models.base import ModelCallError
from editforge.models.offline.core.colours import COLOURS, outline_for
from editforge.models.offline.editor.ops_common import WEAK, Details, Draw, clip01, luminance, mix

# Pillow's built-in font is the same everywhere (reproducible bytes), but Latin-only and lacks
# accents; words it cannot set go to DejaVu Sans Bold where installed, else are ASCII-folded.
BUILTIN, FALLBACK = "builtin", "DejaVuSans-Bold.ttf"


@cache
def _font(size: int, name: str = BUILTIN) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if name != BUILTIN:
        return ImageFont.truetype(name, size)
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or built without FreeType
        return ImageFont.load_default()


@cache
def _missing_glyph(name: str) -> bytes:
    return bytes(_font(32, name).getmask("\U0010ffff"))


def _settable(text: str, name: str) -> bool:
    font, missing = _font(32, name), _missing_glyph(name)
    return all(c.isspace() or bytes(font.getmask(c)) != missing for c in text)


def choose_font(text: str) -> tuple[str, str]:
    """(text, font name): the built-in font when it has every glyph, else a fallback."""
    if _settable(text, BUILTIN):
        return text, BUILTIN
    try:
        if _settable(text, FALLBACK):
            return text, FALLBACK
    except OSError:
        pass  # no DejaVu on this machine
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().strip()
    if len(folded) < 0.8 * len(text.strip()):  # e.g. CJK: folding would write other words
        raise ModelCallError(f"cannot carry out instruction: no font here can set the text {text!r}")
    return folded, BUILTIN


def _tracking(size: int, stroke: int) -> int:
    """Extra space between letters: outlined letters set tight merge into one blob."""
    return 2 * stroke + max(1, size // 25)


def _measure(text: str, size: int, stroke: int, name: str) -> tuple[float, float, float, float]:
    """Box (x0, y0, x1, y1) of `text` set letter by letter with `_tracking`, outline included."""
    font = _font(size, name)
    _, y0, _, y1 = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font, stroke_width=stroke)
    advance = sum(font.getlength(c) for c in text) + _tracking(size, stroke) * (len(text) - 1)
    return 0.0, float(y0), advance + 2 * stroke, float(y1)


def _fit_size(text: str, name: str, width: int, height: int, width_share: float, height_share: float) -> int:
    """The font size whose rendering is about `width_share` of the width, capped by height."""
    size = max(8, int(height * height_share))
    for _ in range(3):  # text width is near-linear in size: a few corrections converge
        x0, y0, x1, y1 = _measure(text, size, 0, name)
        tw, th = max(1, x1 - x0), max(1, y1 - y0)
        size = max(6, int(size * min(width * width_share / tw, height * height_share / th)))
    return size


def add_text(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    h, w = img.shape[:2]
    text, font_name = choose_font(params.get("text", "").strip() or "TEXT")
    position = params.get("position", "bottom")
    weak = draw.is_flaw(WEAK)
    colour_name = params.get("color")
    if colour_name not in COLOURS:
        # No colour asked: whichever of white/black stands out from the background there.
        band = img[: h // 3] if position == "top" else img[-(h // 3) :] if position == "bottom" else img
        colour_name = "black" if float(luminance(band).mean()) > 0.6 else "white"
    fill = COLOURS[colour_name]
    share = draw.uniform(0.55, 0.8) if not weak else draw.uniform(0.12, 0.2)
    size = _fit_size(text, font_name, w, h, share, 0.2 if not weak else 0.05)
    stroke = 0 if weak else max(1, round(size / 18))  # thinner than the letters: the fill must dominate
    x0, y0, x1, y1 = _measure(text, size, stroke, font_name)
    tw, th = x1 - x0, y1 - y0
    margin = 0.06 * h
    x = (w - tw) / 2 + draw.uniform(-0.04, 0.04) * w
    y = {"top": margin, "center": (h - th) / 2, "bottom": h - th - margin}.get(position, h - th - margin)
    y += draw.uniform(-0.02, 0.02) * h
    if draw.is_flaw("offcanvas"):
        # Placed so a third to a half of the words runs off the frame.
        x = w - tw * draw.uniform(0.5, 0.67) if draw.rng.random() < 0.5 else -tw * draw.uniform(0.33, 0.5)
    else:
        x = float(np.clip(x, 2, max(2, w - tw - 2)))
        y = float(np.clip(y, 2, max(2, h - th - 2)))
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    pen = ImageDraw.Draw(layer)
    font, cursor, outline = _font(size, font_name), x + stroke, (*outline_for(fill), 255)
    for char in text:
        pen.text((cursor, y - y0), char, font=font, fill=(*fill, 255), stroke_width=stroke, stroke_fill=outline)
        cursor += font.getlength(char) + _tracking(size, stroke)
    rgba = np.asarray(layer, dtype=np.float32) / 255.0
    alpha = rgba[..., 3] * (0.45 if weak else 1.0)
    out = mix(img, rgba[..., :3], alpha)
    box = [round(x, 1), round(y, 1), round(x + tw, 1), round(y + th, 1)]
    details = {"font_px": size, "font": font_name, "text_box_xyxy": box, "colour": colour_name}
    return clip01(out), details
