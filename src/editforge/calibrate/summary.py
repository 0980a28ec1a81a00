"""One calibration's result: the numbers `editforge calibrate` prints, writes as JSON and plots."""

from __future__ import annotations

from collections import Counter, defaultdict

from pydantic import BaseModel, Field

from editforge.calibrate import metrics
from editforge.calibrate.judging import Judged


class RowResult(BaseModel):
    line: int
    edit_type: str
    label: str
    status: str
    score: float | None
    rationale: str
    rater: str | None = None


class Calibration(BaseModel):
    judge: str
    threshold: float
    rows: int
    judged: int
    not_judged: dict[str, int] = Field(default_factory=dict)  # abstained / failed → count
    agreement: float | None  # accuracy at `threshold` over judged rows
    balanced_accuracy: float | None
    roc_auc: float | None
    best_threshold: float | None
    best_balanced_accuracy: float | None
    confusion: metrics.Confusion
    per_type: list[metrics.TypeResult]
    raters: metrics.RaterAgreement | None = None
    criteria_spearman: dict[str, float] = Field(default_factory=dict)
    cost_usd: float = 0.0
    cached_rows: int = 0
    skipped_rows: list[str] = Field(default_factory=list)  # bad label rows, named by line
    results: list[RowResult] = Field(default_factory=list)


def summarize(judge: str, judged: list[Judged], threshold: float, skipped: list[str]) -> Calibration:
    scored = [j for j in judged if j.score is not None]
    scores = [float(j.score) for j in scored]  # type: ignore[arg-type]
    positives = [j.row.label == "pass" for j in scored]
    c = metrics.confusion(scores, positives, threshold)
    best, best_acc = metrics.best_threshold(scores, positives, threshold)
    by_item: dict[tuple[str, str, str], dict[str, bool]] = defaultdict(dict)
    for j in judged:
        if j.row.rater:
            by_item[j.row.item][j.row.rater] = j.row.label == "pass"
    with_people_scores = [j for j in scored if j.row.scores is not None]
    return Calibration(
        judge=judge,
        threshold=threshold,
        rows=len(judged),
        judged=len(scored),
        not_judged=dict(Counter(j.status for j in judged if j.score is None)),
        agreement=(c.tp + c.tn) / len(scored) if scored else None,
        balanced_accuracy=metrics.balanced_accuracy(c),
        roc_auc=metrics.roc_auc(scores, positives),
        best_threshold=best,
        best_balanced_accuracy=best_acc,
        confusion=c,
        per_type=metrics.per_type(
            [j.row.edit_type for j in judged], [j.score for j in judged], [j.row.label == "pass" for j in judged],
            threshold,
        ),  # fmt: skip
        raters=metrics.rater_agreement(by_item),
        criteria_spearman=metrics.criteria_correlation(
            [j.row.scores.model_dump() for j in with_people_scores],  # type: ignore[union-attr]
            [j.scores.model_dump() for j in with_people_scores],  # type: ignore[union-attr]
        ),
        cost_usd=sum(j.cost_usd for j in judged),
        cached_rows=sum(j.cached for j in judged),
        skipped_rows=skipped,
        results=[
            RowResult(
                line=j.row.line, edit_type=j.row.edit_type, label=j.row.label, status=j.status, score=j.score,
                rationale=j.rationale, rater=j.row.rater,
            )
            for j in judged
        ],  # fmt: skip
    )
