"""How often the offline metric judge agrees with the right label, on edits made by code written apart from editforge.

A labelled set is built here from scikit-image's photos with foreign_looks.py / foreign_layout.py (which
import nothing from editforge): for each edit type, right edits (the plain instruction, a paraphrase, a
moderate strength) and wrong ones (no-op, a barely-there edit, the refused direction, the wrong value,
the wrong operation, a right edit then degraded, a destroyed output). Each is judged by the metric judge;
"passes at t" means scored, no hard failure, weighted score ≥ t.

    python bench/judge_fidelity.py              # 3 photos, about 6 min on 2 idle cores
    python bench/judge_fidelity.py --quick      # 1 photo
    python bench/judge_fidelity.py --json out.json
    python bench/judge_fidelity.py --photos rocket   # photos the thresholds were not tuned on

Reports balanced accuracy at the default threshold, by variant and by type; the share of right edits
that pass; whether any no-op, degraded or destroyed edit passes at a threshold ≥ 0.5; and how the
scores spread (how many right edits sit at exactly 1.000).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).parent))

from fidelity_cases import CASES, PASS_VARIANTS, Case  # noqa: E402
from foreign_layout import DEGRADE, destroy, jpeg  # noqa: E402

from editforge import taxonomy  # noqa: E402
from editforge.models.offline.provider import build  # noqa: E402
from editforge.records import DEFAULT_THRESHOLD  # noqa: E402

PHOTOS = ["chelsea", "coffee", "astronaut"]
DESTROY = ["blank", "noise", "other_photo", "shuffled"]
NEVER_PASS = ("noop", "degraded", "destroyed")
UNSCALED = ("add_text", "replace_text", "text_font_color")  # words are drawn or not: no strength to vary


def photo(name: str, side: int = 512) -> np.ndarray:
    img = getattr(data, name)()
    h, w = img.shape[:2]
    s = side / max(h, w)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def samples(case: Case, name: str, index: int) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(variant, instruction, source, output) for one case on one photo."""
    base = photo(name)
    src = case.prepare(base) if case.prepare else base
    right = case.right(src, 1.0)
    other = photo(next(p for p in [*PHOTOS, "rocket"] if p != name))
    rows = [
        ("right", case.instruction, src, right),
        ("paraphrase", case.paraphrase, src, right),
        ("noop", case.instruction, src, jpeg(src, 95)),
        ("wrong_value", case.instruction, src, case.wrong_value(src, 1.0)),
        ("wrong_operation", case.instruction, src, case.wrong_operation(src, 1.0)),
        ("degraded", case.instruction, src, list(DEGRADE.values())[index % len(DEGRADE)](right)),
        ("destroyed", case.instruction, src, destroy(DESTROY[index % len(DESTROY)], src, other)),
    ]
    if case.key not in UNSCALED:
        rows += [("moderate", case.instruction, src, case.right(src, 0.6)),
                 ("barely", case.instruction, src, case.right(src, 0.15))]  # fmt: skip
    if case.refused is not None:
        rows.append(("refused", case.refused[0], src, case.refused[1](src, 1.0)))
    rows += [(variant, case.instruction, src, edit(src, 1.0)) for variant, edit in case.extra_wrong]
    return rows


def balanced(rows: list[dict], t: float) -> float | None:
    pos = [r for r in rows if r["label"] == "pass"]
    neg = [r for r in rows if r["label"] == "fail"]
    parts = []
    if pos:
        parts.append(np.mean([passes(r, t) for r in pos]))
    if neg:
        parts.append(np.mean([not passes(r, t) for r in neg]))
    return float(np.mean(parts)) if parts else None


def passes(row: dict, t: float) -> bool:
    return row["score"] is not None and row["hard_fail"] is None and row["score"] >= t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one photo instead of three")
    ap.add_argument("--json", type=Path, help="also write every judged row here")
    ap.add_argument("--photos", nargs="+", help="scikit-image photos to use instead (held out)")
    args = ap.parse_args()
    names = args.photos or (PHOTOS[:1] if args.quick else PHOTOS)
    judge = build("judge", None, {})
    rows: list[dict] = []
    start = time.perf_counter()
    for case in CASES:
        for i, name in enumerate(names):
            for variant, instruction, src, out in samples(case, name, i + CASES.index(case)):
                reply = judge.judge(src, out, instruction, taxonomy.get(case.key))
                rows.append({
                    "case": case.name, "type": case.key, "photo": name, "variant": variant,
                    "label": "pass" if variant in PASS_VARIANTS else "fail", "instruction": instruction,
                    "score": None if reply.scores is None else round(reply.scores.weighted(), 4),
                    "hard_fail": reply.hard_fail, "rationale": reply.rationale,
                })  # fmt: skip
    elapsed = time.perf_counter() - start
    report(rows, elapsed)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")


def report(rows: list[dict], elapsed: float) -> None:
    t = DEFAULT_THRESHOLD
    print(f"{len(rows)} judged edits, {len({r['type'] for r in rows})} types, {elapsed:.0f} s\n")
    print(f"balanced accuracy at {t}: {balanced(rows, t):.3f}")
    for t2 in (0.5, 0.6, 0.8):
        print(f"  at {t2}: {balanced(rows, t2):.3f}")
    right = [r for r in rows if r["label"] == "pass"]
    print(f"right edits passing at {t}: {np.mean([passes(r, t) for r in right]):.3f}")
    leaks = [r for r in rows if r["variant"] in NEVER_PASS and passes(r, 0.5)]
    print(f"no-op / degraded / destroyed passing at a threshold >= 0.5: {len(leaks)}")
    for r in leaks:
        print(f"   {r['case']} {r['photo']} {r['variant']}: {r['score']} {r['rationale'][:160]}")
    perfect = [r for r in right if r["score"] == 1.0]
    scored = [r["score"] for r in right if r["score"] is not None]
    print(f"right edits at exactly 1.000: {len(perfect)} of {len(right)}; distinct scores {len(set(scored))}\n")
    by_variant: dict[str, list[dict]] = defaultdict(list)
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_variant[r["variant"]].append(r)
        by_type[r["case"]].append(r)
    print("| variant | label | n | agree at 0.7 | mean score |")
    print("|---|---|---|---|---|")
    for v, rs in by_variant.items():
        mean = np.mean([r["score"] for r in rs if r["score"] is not None] or [np.nan])
        print(f"| {v} | {rs[0]['label']} | {len(rs)} | {balanced(rs, t):.2f} | {mean:.2f} |")
    print("\n| case | n | balanced accuracy at 0.7 | right passing | wrong failing |")
    print("|---|---|---|---|---|")
    for c, rs in by_type.items():
        pos = [passes(r, t) for r in rs if r["label"] == "pass"]
        neg = [not passes(r, t) for r in rs if r["label"] == "fail"]
        print(f"| {c} | {len(rs)} | {balanced(rs, t):.2f} | {np.mean(pos):.2f} | {np.mean(neg):.2f} |")
    misses = [r for r in rows if passes(r, t) != (r["label"] == "pass")]
    print(f"\n{len(misses)} disagreements at {t}:")
    for r in misses:
        print(f"   {r['case']} {r['photo']} {r['variant']} ({r['label']}): {r['score']} {r['rationale'][:220]}")


if __name__ == "__main__":
    main()
