"""Checks that read the words (OCR): add_text needs the asked words, replace_text the new words and not the old.

Counting letter-like blobs cannot tell "SALE" from "SOLD"; these checks read the output. add_text keeps
the layout check (checks_spatial: where, how big, what colour) and adds the reading: words other than
the asked ones are a wrong edit however well drawn. replace_text asks that the new words are read, that
the old ones are gone, and that the rest of the photo is untouched.
"""

from __future__ import annotations

import hashlib

import numpy as np

from editforge.models.offline.judge import metrics as m
from editforge.models.offline.judge import ocr
from editforge.models.offline.judge.checks import Outcome, Params, Spec, Views, fraction_between
from editforge.models.offline.judge.checks_lettering import check_add_text
from editforge.models.offline.judge.checks_text import check_text_font_color

MISREAD_CAP = 0.1  # compliance when other words than the asked ones were written
OLD_LEFT_CAP = 0.1  # replace_text: the new words are there but the old ones too
READ_SIDE = 1280  # OCR input: larger pictures are read downsized (letters stay tens of pixels high)


_read_cache: dict[bytes, list[ocr.Read]] = {}  # a source is read once for all its attempts
CACHE_SIZE = 64


def _reads(img: np.ndarray) -> list[ocr.Read]:
    small = m.fit(img, READ_SIDE)
    key = hashlib.blake2b(np.ascontiguousarray(small, np.float32).tobytes(), digest_size=16).digest()
    key += repr(small.shape).encode()
    if key not in _read_cache:
        if len(_read_cache) >= CACHE_SIZE:
            _read_cache.pop(next(iter(_read_cache)))
        _read_cache[key] = ocr.read_words(small)
    return _read_cache[key]


def _shown(reads: list[ocr.Read]) -> str:
    return " / ".join(f'"{r.text}"' for r in reads[:4]) or "nothing"


def check_add_text_words(v: Views, params: Params | None) -> Outcome:
    out = check_add_text(v, params)
    asked = (params or {}).get("text")
    if not asked:
        return out
    reads = _reads(v.out_full)
    score, _ = ocr.similarity(asked, reads)
    before, _ = ocr.similarity(asked, _reads(v.src_full))
    out.measures |= {"words_read": score, "words_read_before": before}
    if score < ocr.READ_AS or before >= ocr.READ_AS:
        out.compliance = min(out.compliance, MISREAD_CAP)
        why = "were already there" if before >= ocr.READ_AS else f"are not read (read {_shown(reads)})"
        out.evidence += f'; the asked words "{asked}" {why}'
    else:
        out.evidence += f'; read "{asked}" (similarity {score:.2f})'
    return out


def check_text_font_color_words(v: Views, params: Params | None) -> Outcome:
    """A recolour keeps the words: lettering read in the source must still be read in the output."""
    out = check_text_font_color(v, params)
    if out.compliance <= 0 or not ocr.available():
        return out
    src_reads = _reads(v.src_full)
    asked = (params or {}).get("text") or " ".join(r.text for r in src_reads)
    if not src_reads or ocr.similarity(asked, src_reads)[0] < ocr.READ_AS:
        return out  # no words read in the source: nothing to hold the output to
    kept, _ = ocr.similarity(asked, _reads(v.out_full))
    out.measures["words_kept"] = kept
    if kept < ocr.READ_AS:
        out.compliance = min(out.compliance, MISREAD_CAP)
        out.evidence += f'; the words "{asked}" are no longer read (similarity {kept:.2f})'
    return out


def _boxes_mask(shape: tuple[int, int], reads: list[ocr.Read], pad: float = 0.02) -> np.ndarray:
    h, w = shape
    mask = np.zeros((h, w), bool)
    for r in reads:
        x0, y0, x1, y1 = r.box
        mask[
            max(0, int((y0 - pad) * h)) : int((y1 + pad) * h) + 1, max(0, int((x0 - pad) * w)) : int((x1 + pad) * w) + 1
        ] = True
    return mask


def check_replace_text(v: Views, params: Params | None) -> Outcome:
    params = params or {}
    new, old = params.get("text"), params.get("old_text")
    if not new:
        return Outcome(0.0, "instruction not understood (could not tell which new words were asked)")
    src_reads, out_reads = _reads(v.src_full), _reads(v.out_full)
    got, _ = ocr.similarity(new, out_reads)
    had, _ = ocr.similarity(new, src_reads)
    left = ocr.similarity(old, out_reads)[0] if old else 0.0
    was = ocr.similarity(old, src_reads)[0] if old else 0.0
    measures = {"new_read": got, "new_read_before": had, "old_read": left, "old_read_before": was}
    evidence = f'read {_shown(out_reads)} (asked "{new}"' + (f' instead of "{old}")' if old else ")")
    if got < ocr.READ_AS or had >= ocr.READ_AS:
        compliance = 0.0
        evidence += "; the new words were already there" if had >= ocr.READ_AS else "; the new words are not there"
    elif left >= ocr.GONE_BELOW:
        compliance = OLD_LEFT_CAP
        evidence += "; the old words are still there"
    else:
        compliance = 1.0
    # Preservation: outside the words (old and new), the photo stays as it was.
    out = m.resize(v.out_full, v.src_full.shape[:2])
    words = _boxes_mask(v.src_full.shape[:2], src_reads + out_reads)
    rest = np.abs(out - v.src_full).max(axis=2)[~words] if (~words).any() else np.zeros(1)
    untouched = float(np.mean(rest <= 12))
    measures["rest_untouched"] = untouched
    return Outcome(
        compliance,
        evidence,
        measures,
        fraction_between(untouched, 0.85, 0.98),
        f"{untouched:.1%} of the rest untouched",
    )


SPECS: dict[str, Spec] = {
    "add_text": Spec(check_add_text_words, flat_ok=True, diff_seams=False),
    "replace_text": Spec(check_replace_text, flat_ok=True, diff_seams=False, local=True),
    "text_font_color": Spec(check_text_font_color_words, flat_ok=True, diff_seams=False, local=True),
}
NEEDS_WORDS = frozenset(("add_text", "replace_text"))  # text_font_color is judged without OCR too
