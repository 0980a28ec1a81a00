"""Agreement between a judge and people: balanced accuracy, ROC-AUC, the best threshold, confusion.

"pass" is the positive class; the judge predicts pass when its weighted score ≥ the threshold. Rows the
judge abstained on or failed to judge have no score: they are counted, never guessed into a class.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel
from scipy.stats import rankdata, spearmanr

from editforge.records import CRITERIA


class Confusion(BaseModel):
    tp: int = 0  # people: pass, judge: pass
    fn: int = 0  # people: pass, judge: fail
    fp: int = 0  # people: fail, judge: pass
    tn: int = 0  # people: fail, judge: fail


class TypeResult(BaseModel):
    edit_type: str
    rows: int
    judged: int
    balanced_accuracy: float | None
    best_threshold: float | None
    best_balanced_accuracy: float | None
    confusion: Confusion


class RaterAgreement(BaseModel):
    """Two people on the same items: how far any judge can be expected to agree with either."""

    raters: list[str]
    items: int
    agreement: float
    cohen_kappa: float | None


def confusion(scores: Sequence[float], positives: Sequence[bool], threshold: float) -> Confusion:
    c = Confusion()
    for score, positive in zip(scores, positives, strict=True):
        predicted = score >= threshold
        if positive:
            c.tp += predicted
            c.fn += not predicted
        else:
            c.fp += predicted
            c.tn += not predicted
    return c


def balanced_accuracy(c: Confusion) -> float | None:
    """The mean of the recalls of the classes present (a class with no rows has no recall)."""
    recalls = [hit / (hit + miss) for hit, miss in ((c.tp, c.fn), (c.tn, c.fp)) if hit + miss]
    return float(np.mean(recalls)) if recalls else None


def roc_auc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """P(a random pass scores above a random fail), ties counting half (Mann–Whitney U / n⁺n⁻)."""
    pos = int(sum(positives))
    neg = len(positives) - pos
    if not pos or not neg:
        return None
    ranks = rankdata(np.asarray(scores, dtype=float))
    rank_sum = float(ranks[np.asarray(positives, dtype=bool)].sum())
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def best_threshold(
    scores: Sequence[float], positives: Sequence[bool], prefer: float = 0.7
) -> tuple[float | None, float | None]:
    """The threshold with the highest balanced accuracy, and that accuracy.

    Candidates are the midpoints between neighbouring distinct scores (and just outside both ends); of
    equally good thresholds the one nearest `prefer` wins, so a tie does not move the threshold far.
    """
    if not scores or all(positives) or not any(positives):
        return None, None
    distinct = sorted(set(float(s) for s in scores))
    middles = [(a + b) / 2 for a, b in zip(distinct, distinct[1:], strict=False)]
    candidates = [distinct[0] - 1e-6, *middles, distinct[-1] + 1e-6]
    scored = [(balanced_accuracy(confusion(scores, positives, t)) or 0.0, t) for t in candidates]
    best = max(value for value, _ in scored)
    threshold = min((t for value, t in scored if value >= best - 1e-12), key=lambda t: abs(t - prefer))
    return round(threshold, 4), best


def per_type(
    types: Sequence[str], scores: Sequence[float | None], positives: Sequence[bool], threshold: float
) -> list[TypeResult]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, edit_type in enumerate(types):
        groups[edit_type].append(i)
    results = []
    for edit_type, indices in sorted(groups.items()):
        judged = [i for i in indices if scores[i] is not None]
        s = [float(scores[i]) for i in judged]  # type: ignore[arg-type]
        p = [positives[i] for i in judged]
        c = confusion(s, p, threshold)
        t, t_acc = best_threshold(s, p, threshold)
        results.append(
            TypeResult(
                edit_type=edit_type,
                rows=len(indices),
                judged=len(judged),
                balanced_accuracy=balanced_accuracy(c),
                best_threshold=t,
                best_balanced_accuracy=t_acc,
                confusion=c,
            )
        )
    return results


def rater_agreement(labels: dict[tuple[str, str, str], dict[str, bool]]) -> RaterAgreement | None:
    """Agreement between the two raters who labelled the most items in common (None without two)."""
    pairs: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    for by_rater in labels.values():
        names = sorted(by_rater)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                pairs[(a, b)].append((by_rater[a], by_rater[b]))
    if not pairs:
        return None
    (a, b), shared = max(pairs.items(), key=lambda kv: (len(kv[1]), kv[0]))
    agree = sum(x == y for x, y in shared) / len(shared)
    p_a = sum(x for x, _ in shared) / len(shared)
    p_b = sum(y for _, y in shared) / len(shared)
    chance = p_a * p_b + (1 - p_a) * (1 - p_b)
    kappa = (agree - chance) / (1 - chance) if chance < 1 else None
    return RaterAgreement(raters=[a, b], items=len(shared), agreement=agree, cohen_kappa=kappa)


def criteria_correlation(people: Sequence[dict[str, float]], judge: Sequence[dict[str, float]]) -> dict[str, float]:
    """Spearman's rho per criterion, over rows where a person gave the four scores too."""
    out: dict[str, float] = {}
    if len(people) < 3:
        return out
    for name in CRITERIA:
        x = [p[name] for p in people]
        y = [j[name] for j in judge]
        if len(set(x)) > 1 and len(set(y)) > 1:
            out[name] = float(spearmanr(x, y).statistic)
    return out
