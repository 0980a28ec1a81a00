"""Calibration metrics, checked against values computed another way (by hand, or by brute force)."""

from __future__ import annotations

import itertools
import random

import pytest

from editforge.calibrate.metrics import (
    Confusion,
    balanced_accuracy,
    best_threshold,
    confusion,
    criteria_correlation,
    per_type,
    rater_agreement,
    roc_auc,
)


def _pairwise_auc(scores: list[float], positives: list[bool]) -> float:
    """The definition itself: over every (pass, fail) pair, 1 if the pass scores higher, ½ on a tie."""
    pos = [s for s, p in zip(scores, positives, strict=True) if p]
    neg = [s for s, p in zip(scores, positives, strict=True) if not p]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_matches_the_pairwise_definition_with_ties() -> None:
    rng = random.Random(7)
    for _ in range(50):
        n = rng.randint(2, 30)
        scores = [round(rng.random(), 1) for _ in range(n)]  # rounding makes ties common
        positives = [rng.random() < 0.5 for _ in range(n)]
        if all(positives) or not any(positives):
            assert roc_auc(scores, positives) is None
            continue
        assert roc_auc(scores, positives) == pytest.approx(_pairwise_auc(scores, positives))


def test_confusion_and_balanced_accuracy_by_hand() -> None:
    scores = [0.9, 0.8, 0.4, 0.75, 0.2, 0.1]
    positives = [True, True, True, False, False, False]
    c = confusion(scores, positives, 0.7)
    assert c == Confusion(tp=2, fn=1, fp=1, tn=2)
    assert balanced_accuracy(c) == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert balanced_accuracy(Confusion(tp=3, fn=1)) == pytest.approx(0.75)  # one class: its recall
    assert balanced_accuracy(Confusion()) is None


def test_best_threshold_separates_when_it_can_and_prefers_the_nearest_tie() -> None:
    threshold, acc = best_threshold([0.2, 0.3, 0.55, 0.6], [False, False, True, True], prefer=0.7)
    assert acc == 1.0 and 0.3 < threshold < 0.55
    # 0.225 and 0.6 both reach 0.75 here; 0.6 is nearer the preferred 0.7
    assert best_threshold([0.1, 0.4, 0.35, 0.8], [False, False, True, True], prefer=0.7) == (0.6, 0.75)
    assert best_threshold([0.5, 0.6], [True, True]) == (None, None)


def test_per_type_counts_unscored_rows_without_guessing_them() -> None:
    results = per_type(
        ["color_tone", "color_tone", "weather", "weather"], [0.9, None, 0.2, 0.8], [True, False, False, True], 0.7
    )
    tone, weather = results
    assert (tone.rows, tone.judged, tone.confusion) == (2, 1, Confusion(tp=1))
    assert weather.balanced_accuracy == 1.0 and weather.best_threshold is not None


def test_rater_agreement_and_cohens_kappa_by_hand() -> None:
    items = {
        ("a", "b", "1"): {"ann": True, "bob": True},
        ("a", "b", "2"): {"ann": True, "bob": False},
        ("a", "b", "3"): {"ann": False, "bob": False},
        ("a", "b", "4"): {"ann": False, "bob": False},
        ("a", "b", "5"): {"ann": True},  # one rater only: not shared
    }
    r = rater_agreement(items)
    assert r is not None and r.raters == ["ann", "bob"] and r.items == 4
    assert r.agreement == pytest.approx(0.75)
    # p_ann = 0.5, p_bob = 0.25 → chance = 0.5*0.25 + 0.5*0.75 = 0.5 → κ = (0.75 - 0.5) / 0.5
    assert r.cohen_kappa == pytest.approx(0.5)
    assert rater_agreement({("a", "b", "1"): {"ann": True}}) is None


def test_criteria_correlation_needs_spread_and_three_rows() -> None:
    names = ("instruction_compliance", "seamlessness", "preservation", "technical_quality")
    people = [dict.fromkeys(names, v) for v in (0.1, 0.5, 0.9)]
    judge = [dict.fromkeys(names, v) for v in (0.2, 0.4, 0.95)]
    rho = criteria_correlation(people, judge)
    assert set(rho) == set(names) and all(v == pytest.approx(1.0) for v in rho.values())
    assert criteria_correlation(people[:2], judge[:2]) == {}
