"""Find outlined lettering in a picture: the classical editor's and the metric judge's shared look.

The lettering that add_text draws (and most captions put on photos) is a solid fill colour inside a
thin outline of the opposite lightness. For each fill colour of the palette (with its outline), every
pixel is placed on the line from outline colour to fill colour: past halfway it is fill-like, short of
it outline-like, far off the line it is neither. A letter's fill is then a small region of fill-like
pixels that outline-like pixels close off from the rest of the picture; the letters are such regions
that share one colour, one height and one top and baseline (closed-off blobs of a photo rarely do),
side by side in one row, less the holes of O, A, D. Later global edits (a warmer grade, snow, rain)
shift the colours a little: the halfway split tolerates that, a contrast-stretched copy undoes a
dimming, and the letters are traced once more on the line between the colours as found. A heavy fog
defeats it (the writer does not ask for a recolouring after one).

`find_text(img, position, letters)` → `Lettering` (the fill as a soft mask, its colour, the outline's
colour, the box), or None. Images are float RGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from editforge.models.offline.core.colours import COLOURS, outline_for

BANDS = {"top": (0.0, 0.4), "bottom": (0.6, 1.0), "center": (0.25, 0.75)}  # the row's centre, in heights
MARGIN = 0.15  # rows looked at beyond the band: a letter centred at its edge reaches this far
SEARCH_SIDE = 1024  # larger pictures are searched on a smaller copy, then traced at full size
MAX_OFF_LINE = 0.3  # RGB distance from the outline→fill line beyond which a pixel is neither
MIN_AREA_SHARE, MAX_AREA_SHARE = 0.00004, 0.03  # one letter's fill, as a share of the frame
MIN_HEIGHT, MAX_HEIGHT = 0.025, 0.25  # one letter's height, as a share of the frame's
MIN_ENCLOSED = 0.75  # share of a letter's border that is outline
SAME_FILL = 0.2  # RGB distance within which two letters have the same fill colour
MIN_LETTERS = 3  # letters of even height in a row (fewer only when the words have fewer)
MAX_ALIGN = 0.2  # spread of their tops and baselines, in letter heights
MAX_SPREAD = 0.25  # spread of their heights, relative
ROW_SLACK = 0.6  # a letter's centre within this many letter heights of the row's
GAP_LIMIT = 2.5  # letters further apart (in letter heights) are not one line of text
WEAK_FILL = 0.5  # t below this is outline, above it fill
FULL_FILL = 0.85  # t from which a pixel counts as all fill (texture over the letters spreads t)
CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def letter_count(text: str | None) -> int | None:
    count = sum(ch.isalnum() for ch in text or "")
    return count or None


@dataclass
class Lettering:
    alpha: np.ndarray  # (H, W) float32: 1 on the fill, fractions on its anti-aliased edge, 0 elsewhere
    fill: np.ndarray  # (3,) RGB of the fill as found
    outline: np.ndarray  # (3,) RGB of the outline as found
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) of the letters found
    letters: int  # closed letter parts found
    centres: list[float]  # x centre of each letter part, left to right
    score: float


@dataclass
class _Parts:
    ids: np.ndarray  # component labels of the candidate letters
    colour: np.ndarray  # (n, 3) mean colour of each (its most fill-like pixels)
    cx: np.ndarray
    cy: np.ndarray
    height: np.ndarray
    area: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    y0: np.ndarray
    y1: np.ndarray


def _along(img: np.ndarray, outline: np.ndarray, fill: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's place t on the outline→fill line (0 outline, 1 fill) and its distance off it."""
    axis = fill - outline
    t = ((img - outline) @ axis) / max(float(axis @ axis), 1e-6)
    off = np.linalg.norm(img - (outline + np.clip(t, 0, 1)[..., None] * axis), axis=2)
    return t.astype(np.float32), off.astype(np.float32)


def _closed_parts(img: np.ndarray, t: np.ndarray, off: np.ndarray, frame_h: int) -> tuple[np.ndarray, _Parts] | None:
    """Fill-like regions of a letter's size (against the whole frame's height) that outline-like pixels
    close off. A region cut by the crop's edge is not closed off."""
    h, w = t.shape
    on_line = off <= MAX_OFF_LINE
    fill_like = on_line & (t >= WEAK_FILL)
    outline_like = on_line & (t < WEAK_FILL)
    n, labels, stats, cents = cv2.connectedComponentsWithStats(fill_like.astype(np.uint8), connectivity=4)
    if n <= 1:
        return None
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    keep = (
        (area >= max(4, MIN_AREA_SHARE * frame_h * w))
        & (area <= MAX_AREA_SHARE * frame_h * w)
        & (bh >= MIN_HEIGHT * frame_h)
        & (bh <= MAX_HEIGHT * frame_h)
        & (x > 0)
        & (y > 0)
        & (x + bw < w)
        & (y + bh < h)
    )
    keep[0] = False
    if not keep.any():
        return None
    # A letter's border: the pixels just outside it (the max label around a non-member pixel).
    around = cv2.dilate(labels.astype(np.float32), CROSS).astype(np.int32)
    border = ~fill_like & (around > 0)
    flat = around[border]
    ring = np.bincount(flat, minlength=n).astype(np.float64)
    ring_outline = np.bincount(flat, weights=outline_like[border].astype(np.float64), minlength=n)
    enclosed = ring_outline / np.maximum(ring, 1)
    keep &= enclosed >= MIN_ENCLOSED
    ids = np.nonzero(keep)[0]
    if len(ids) == 0:
        return None
    colour = _mean_colours(img, labels, (labels > 0) & (t >= 0.75), n)
    loose = _mean_colours(img, labels, labels > 0, n)
    colour = np.where(np.isnan(colour), loose, colour)  # thin strokes may have no pixel deep in the fill
    parts = _Parts(ids, colour[ids], cents[ids, 0], cents[ids, 1], bh[ids].astype(float), area[ids].astype(float),
                   x[ids], x[ids] + bw[ids], y[ids], y[ids] + bh[ids])  # fmt: skip
    return labels, parts


def _mean_colours(img: np.ndarray, labels: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    lab = labels[mask]
    count = np.bincount(lab, minlength=n).astype(np.float64)
    sums = np.stack([np.bincount(lab, weights=img[..., c][mask], minlength=n) for c in range(3)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / count[:, None]


def stretched(img: np.ndarray) -> np.ndarray:
    """Each channel spread over 0–1 between its 0.5 and 99.5 percentiles: undoes a haze or a dimming,
    which lift or squeeze the outline and the fill together."""
    lo = np.percentile(img.reshape(-1, 3), 0.5, axis=0)
    hi = np.percentile(img.reshape(-1, 3), 99.5, axis=0)
    return np.clip((img - lo) / np.maximum(hi - lo, 0.05), 0, 1).astype(np.float32)


def _row_score(parts: _Parts, row: np.ndarray, h: int, band: tuple[float, float] | None, letters: int | None) -> float:
    """How much the parts look like one line of lettering: many parts of one height (letters), then size."""
    heights = parts.height[row]
    even = heights >= 0.6 * heights.max()  # capitals and digits; dots and commas are smaller
    n = int(even.sum())
    spread = float(heights[even].std() / heights[even].mean())
    # Capitals and digits share a top and a baseline; blobs of a photo that happen to be closed off do not.
    align = float(max(parts.y0[row][even].std(), parts.y1[row][even].std()) / heights[even].mean())
    if n < min(MIN_LETTERS, letters or MIN_LETTERS) or align > MAX_ALIGN or spread > MAX_SPREAD:
        return 0.0
    score = n**1.5 * float(np.sqrt(parts.area[row][even].mean()))
    score *= 1.0 - 0.8 * float(np.clip((spread - 0.15) / 0.25, 0, 1))
    score *= 1.0 - 0.8 * float(np.clip((align - 0.05) / 0.15, 0, 1))
    if letters:
        score *= 1.0 - 0.5 * min(1.0, abs(n - letters) / letters)
    if band is not None and not band[0] <= float(np.median(parts.cy[row])) / h <= band[1]:
        score *= 0.05
    return score


def _letter_row(parts: _Parts, h: int, band: tuple[float, float] | None, letters: int | None) -> np.ndarray | None:
    """Indices of the parts that form the lettering: one fill colour, one row, close together."""
    best, best_score = None, 0.0
    for i in range(len(parts.ids)):
        same = np.linalg.norm(parts.colour - parts.colour[i], axis=1) <= SAME_FILL
        tall = parts.height[same].max()
        row_y = np.median(parts.cy[same & (parts.height >= 0.5 * tall)])
        idx = np.nonzero(same & (np.abs(parts.cy - row_y) <= ROW_SLACK * tall) & (parts.height >= 0.25 * tall))[0]
        if len(idx) == 0:
            continue
        idx = idx[np.argsort(parts.cx[idx])]  # split where letters stand far apart; keep the biggest run
        runs, run = [], [idx[0]]
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            if parts.x0[b] - parts.x1[a] > GAP_LIMIT * tall:
                runs.append(run)
                run = []
            run.append(b)
        runs.append(run)
        chosen = _without_holes(parts, np.array(max(runs, key=lambda r: parts.area[r].sum())))
        score = _row_score(parts, chosen, h, band, letters)
        if score > best_score:  # a row failing the gates scores 0 and is never chosen
            best, best_score = chosen, score
    return best


@dataclass
class _Try:
    score: float
    seen: np.ndarray
    t: np.ndarray
    off: np.ndarray
    labels: np.ndarray
    parts: _Parts
    row: np.ndarray


def _attempt(
    seen: np.ndarray,
    edge: np.ndarray,
    fill: np.ndarray,
    band: tuple[float, float] | None,
    letters: int | None,
    frame_h: int,
) -> _Try | None:
    t, off = _along(seen, edge, fill)
    closed = _closed_parts(seen, t, off, frame_h)
    if closed is None:
        return None
    labels, parts = closed
    h = seen.shape[0]
    row = _letter_row(parts, h, band, letters)
    if row is None:
        return None
    return _Try(_row_score(parts, row, h, band, letters), seen, t, off, labels, parts, row)


def _without_holes(parts: _Parts, row: np.ndarray) -> np.ndarray:
    """The row without the insides of O, A, D... that show the background in the fill's colour: a
    part lying within another part's box is a hole in that letter, not a letter."""
    inside = [
        any(
            j != i and parts.x0[j] <= parts.x0[i] and parts.x1[i] <= parts.x1[j]
            and parts.y0[j] <= parts.y0[i] and parts.y1[i] <= parts.y1[j]
            for j in row
        )
        for i in row
    ]  # fmt: skip
    return row[~np.array(inside, bool)]


def find_text(img: np.ndarray, position: str | None = None, letters: int | None = None) -> Lettering | None:
    """The outlined lettering in `img` (float RGB, 0–1), preferring `position`'s band and `letters` parts.

    A large picture is searched on a copy at most SEARCH_SIDE across; the letters are then traced again
    at full size around what was found, with the colours found."""
    img = np.asarray(img, dtype=np.float32)
    h, w = img.shape[:2]
    scale = SEARCH_SIDE / max(h, w)
    if scale >= 1.0:
        return _find(img, position, letters)
    small = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    rough = _find(small, position, letters)
    if rough is None:
        return None
    x0, y0, x1, y1 = (v / scale for v in rough.box)
    pad = 0.5 * (y1 - y0)
    top, bottom = max(0, int(y0 - pad)), min(h, int(y1 + pad) + 1)
    left, right = max(0, int(x0 - 2 * pad)), min(w, int(x1 + 2 * pad) + 1)
    crop = img[top:bottom, left:right]
    traced = _attempt(crop, rough.outline, rough.fill, None, letters, h)
    if traced is None:  # keep the rough trace, scaled up
        alpha = cv2.resize(rough.alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        return replace(rough, alpha=alpha, box=(int(x0), int(y0), int(x1), int(y1)))
    found = _lettering(crop, traced)
    alpha = np.zeros((h, w), np.float32)
    alpha[top:bottom, left:right] = found.alpha
    fx0, fy0, fx1, fy1 = found.box
    centres = [c + left for c in found.centres]
    return replace(found, alpha=alpha, box=(fx0 + left, fy0 + top, fx1 + left, fy1 + top), centres=centres)


def _find(img: np.ndarray, position: str | None, letters: int | None) -> Lettering | None:
    h = img.shape[0]
    band = BANDS.get(position or "")
    # Only the rows that can hold a line of text centred in the band are looked at.
    top, bottom = 0, h
    if band is not None:
        top, bottom = max(0, int((band[0] - MARGIN) * h)), min(h, int((band[1] + MARGIN) * h) + 1)
    found = _search(img[top:bottom], h, top, band, letters)
    if found is None:
        return None
    alpha = np.zeros(img.shape[:2], np.float32)
    alpha[top:bottom] = found.alpha
    x0, y0, x1, y1 = found.box
    return replace(found, alpha=alpha, box=(x0, y0 + top, x1, y1 + top))


def _search(
    img: np.ndarray, h: int, top: int, band: tuple[float, float] | None, letters: int | None
) -> Lettering | None:
    # `band` is in fractions of the whole frame (h rows), of which `img` starts at row `top`.
    if band is not None:
        band = ((band[0] * h - top) / img.shape[0], (band[1] * h - top) / img.shape[0])
    best: _Try | None = None
    for seen in (img, stretched(img)):
        for rgb in COLOURS.values():
            fill = np.array(rgb, np.float32) / 255
            found = _attempt(seen, np.array(outline_for(rgb), np.float32) / 255, fill, band, letters, h)
            if found is not None and (best is None or found.score > best.score):
                best = found
    if best is None:
        return None
    # Once more with the colours as found rather than the palette's: a later edit that lit one end of
    # the row more than the other leaves some letters off the palette's line but on this one.
    fill, edge = _colours(best.seen, best.t, np.isin(best.labels, best.parts.ids[best.row]))
    rows = best.parts.cy[best.row] / img.shape[0]
    tall = float(best.parts.height[best.row].max()) / img.shape[0]
    near = (float(rows.min()) - tall, float(rows.max()) + tall)
    again = _attempt(best.seen, edge, fill, near, letters, h)
    if again is not None and again.score > best.score:
        best = again
    return _lettering(img, best)


def _colours(seen: np.ndarray, t: np.ndarray, letters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fill's colour (deep in the letters) and the outline's (just outside them)."""
    core = letters & (t >= 0.75)
    fill = np.median(seen[core] if core.any() else seen[letters], axis=0)  # streaks or flakes over a
    rim = cv2.dilate(letters.astype(np.uint8), CROSS).astype(bool) & ~letters & (t < WEAK_FILL)  # few
    edge = np.median(seen[rim], axis=0) if rim.any() else np.zeros(3, np.float32)  # letters: the median
    return fill.astype(np.float32), edge.astype(np.float32)


def _lettering(img: np.ndarray, found: _Try) -> Lettering:
    parts, row = found.parts, found.row
    letters = np.isin(found.labels, parts.ids[row])
    # How much of each pixel is fill, measured on the line between the colours as found (a later
    # edit may have dimmed or tinted both), not the palette's: 1 deep in the letters, fractions on the
    # anti-aliased rim between fill and outline, which lies just outside the fill-like region.
    seen_fill, seen_edge = _colours(found.seen, found.t, letters)
    t, off = _along(found.seen, seen_edge, seen_fill)
    rim = cv2.dilate(letters.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    alpha = np.where(rim & (off <= MAX_OFF_LINE), np.clip(t / FULL_FILL, 0, 1), 0.0).astype(np.float32)
    alpha[letters] = np.maximum(alpha[letters], 0.5)
    fill, edge = _colours(img, found.t, letters)
    x0, x1 = int(parts.x0[row].min()), int(parts.x1[row].max())
    y0, y1 = int(parts.y0[row].min()), int(parts.y1[row].max())
    centres = sorted(float(c) for c in parts.cx[row])
    return Lettering(alpha, fill, edge, (x0, y0, x1, y1), len(row), centres, found.score)
