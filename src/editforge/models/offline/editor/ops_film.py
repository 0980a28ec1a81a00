"""Film looks: grain, vintage fading, and the period looks of modern_historical (victorian ... 1970s).

Each look is built from parts (tone curve, cast, grain, vignette, softness) whose sizes follow the
draw's strength, then blended over the photo by min(strength, 1): a weak draw is a faint tint of the
look, an over-strong one blurs, darkens and speckles the photo past recognition.
"""

from __future__ import annotations

import numpy as np

from editforge.models.offline.editor.ops_common import (
    Details,
    Draw,
    amount_of,
    blur,
    clip01,
    contrast,
    film_grain,
    from_hsv,
    gains,
    gray3,
    hue_weight,
    luminance,
    mix,
    saturate,
    scale_of,
    smooth_noise,
    to_hsv,
    vignette,
)


def _grain(img: np.ndarray, draw: Draw, amount: float, size: float, chroma: float = 0.2) -> np.ndarray:
    """Film grain, strongest in the midtones as on real negative film."""
    lum = luminance(img)
    weight = (0.35 + 2.6 * lum * (1.0 - lum))[..., None]
    mono = film_grain(draw.rng, img.shape, amount, size)[..., None]
    colour = np.stack([film_grain(draw.rng, img.shape, amount * chroma, size) for _ in range(3)], axis=2)
    return clip01(img + (mono + colour) * weight)


def _fade(img: np.ndarray, lift: float, lower: float) -> np.ndarray:
    """Raise the blacks and lower the whites: the washed-out range of an aged print."""
    return clip01(lift + img * (1.0 - lift - lower))


def _sepia(img: np.ndarray) -> np.ndarray:
    lum = luminance(img)[..., None]
    tone = np.array([1.0, 0.84, 0.62], np.float32)
    return clip01(lum * tone + (1.0 - lum) * lum * np.array([0.12, 0.06, 0.0], np.float32))


def _scratches(draw: Draw, shape: tuple[int, ...], count: int) -> np.ndarray:
    """Thin vertical scratch lines of old projected film, as an additive (H, W) layer."""
    h, w = shape[:2]
    layer = np.zeros((h, w), np.float32)
    for _ in range(count):
        x = int(draw.rng.integers(0, w))
        y0 = int(draw.rng.integers(0, max(1, h // 2)))
        y1 = int(min(h, y0 + draw.rng.integers(max(2, h // 4), h + 1)))
        layer[y0:y1, x] = draw.uniform(-0.25, 0.3)
    return blur(layer, 0.6)


def film_grain_vintage(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    sc = scale_of(img)
    if params.get("look") == "vintage":
        sepia = draw.rng.random() < 0.3
        look = saturate(img, max(0.0, 1.0 - 0.35 * s))
        look = _sepia(look) if sepia else gains(look, 1.0 + 0.07 * s, 1.0 + 0.02 * s, 1.0 - 0.15 * s)
        look = _fade(look, 0.07 * s, 0.08 * s)
        look = clip01(look * vignette(img.shape, min(0.9, 0.35 * s))[..., None])
        look = _grain(look, draw, 0.025 * s, 1.4 * sc)
        return mix(img, look, amount_of(s)), {"variant": "sepia" if sepia else "faded_colour"}
    size = draw.uniform(1.0, 2.2) * max(sc, 0.3)
    out = _grain(img, draw, 0.055 * s, size)
    return contrast(out, 1.0 - 0.05 * min(s, 2.0)), {"grain_size_px": round(size, 2)}


def _victorian(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    sc = scale_of(img)
    look = blur(img, 1.1 * sc * s)
    look = contrast(_sepia(look), 1.0 - 0.15 * min(s, 1.5), pivot=0.55)
    look = _fade(look, 0.06 * s, 0.05 * s)
    look = clip01(look * vignette(img.shape, min(0.95, 0.55 * s), roundness=1.6)[..., None])
    look = _grain(look, draw, 0.03 * s, 1.6 * sc, chroma=0.0)
    # Uneven silvering / developing: gentle blotches over the plate.
    blotch = smooth_noise(draw.rng, img.shape[:2], min(img.shape[:2]) / 3.0) - 0.5
    look = clip01(look * (1.0 + 0.12 * s * blotch)[..., None])
    return look, {"toning": "sepia"}


def _twenties(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    sc = scale_of(img)
    look = gray3(luminance(blur(img, 0.8 * sc * s)))
    look = contrast(look, 1.0 + 0.25 * min(s, 1.5))
    look = clip01(look * vignette(img.shape, min(0.95, 0.45 * s))[..., None])
    flicker = smooth_noise(draw.rng, img.shape[:2], min(img.shape[:2]) / 2.0) - 0.5
    look = clip01(look * (1.0 + 0.1 * s * flicker)[..., None])
    look = _grain(look, draw, 0.045 * s, 1.8 * sc, chroma=0.0)
    look = clip01(look + _scratches(draw, img.shape, int(draw.rng.integers(2, 6)))[..., None] * min(s, 2.0))
    return look, {"toning": "black_and_white"}


def _fifties(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    sc = scale_of(img)
    look = blur(img, 0.8 * sc * s)
    # Early colour stock: blues drift to teal, reds run deep, pastel-creamy highlights.
    hsv = to_hsv(look)
    blue = hue_weight(hsv[..., 0], 220.0, 45.0)
    hsv[..., 0] -= 25.0 * blue * min(s, 1.5)
    red = hue_weight(hsv[..., 0], 5.0, 30.0)
    hsv[..., 1] *= 1.0 + 0.3 * s * red
    look = saturate(from_hsv(hsv), 1.0 + 0.1 * s)
    look = gains(look, 1.0 + 0.08 * s, 1.0 + 0.02 * s, 1.0 - 0.14 * s)
    shadow = (1.0 - luminance(look))[..., None] * np.array([-0.04, 0.03, 0.06], np.float32) * s
    look = contrast(_fade(clip01(look + shadow), 0.08 * s, 0.05 * s), 1.0 - 0.08 * min(s, 1.5))
    look = clip01(look * vignette(img.shape, min(0.9, 0.35 * s))[..., None])
    look = _grain(look, draw, 0.03 * s, 1.4 * sc)
    return look, {"print": "early_colour"}


def _seventies(img: np.ndarray, draw: Draw, s: float) -> tuple[np.ndarray, Details]:
    sc = scale_of(img)
    look = blur(img, 0.7 * sc * s)
    look = saturate(look, max(0.0, 1.0 - 0.3 * s))
    look = gains(look, 1.0 + 0.1 * s, 1.0 + 0.04 * s, 1.0 - 0.2 * s)
    # Aged colour print: magenta-brown shadows, yellowed highlights, a flat tone range.
    lum = luminance(look)[..., None]
    look = clip01(look + (1.0 - lum) * np.array([0.06, 0.0, 0.03], np.float32) * s)
    look = contrast(_fade(look, 0.1 * s, 0.06 * s), 1.0 - 0.12 * min(s, 1.5))
    look = clip01(look * vignette(img.shape, min(0.9, 0.3 * s))[..., None])
    look = _grain(look, draw, 0.025 * s, 1.5 * sc)
    return look, {"print": "faded_colour"}


_ERAS = {"victorian": _victorian, "1920s": _twenties, "1950s": _fifties, "1970s": _seventies}


def modern_historical(img: np.ndarray, params: dict[str, str], draw: Draw) -> tuple[np.ndarray, Details]:
    s = draw.strength
    look, details = _ERAS.get(params.get("era", "victorian"), _victorian)(img, draw, s)
    return mix(img, look, amount_of(s)), details
