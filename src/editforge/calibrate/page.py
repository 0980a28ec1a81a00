"""The calibration as a static HTML page with plots, in the report's style (opens from disk)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from jinja2 import Environment, FunctionLoader, select_autoescape

from editforge.calibrate.summary import Calibration
from editforge.report.plots import FAIL, OURS, Plot, _pyplot, _save

_PACKAGE = resources.files("editforge")


def _fmt(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "–"


def write_page(c: Calibration, out: Path, labels: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    static = out / "static"
    static.mkdir(exist_ok=True)
    with resources.as_file(_PACKAGE / "report" / "static" / "style.css") as css:
        shutil.copyfile(css, static / "style.css")
    plots = [p for p in (_roc(c, out), _histogram(c, out), _type_bars(c, out)) if p is not None]
    env = Environment(
        loader=FunctionLoader(lambda name: (_PACKAGE / "calibrate" / "templates" / name).read_text(encoding="utf-8")),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("calibration.html.j2").render(
        c=c, labels=str(labels), tiles=_tiles(c), notes=_notes(c), plots=plots, rows=_rows(c), fmt=_fmt
    )
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def _tiles(c: Calibration) -> list[tuple[str, str]]:
    tiles = [
        (f"{c.rows:,}", "labelled rows"),
        (f"{c.judged:,}", "scored by the judge"),
        (_fmt(c.balanced_accuracy), f"balanced accuracy at {c.threshold:.2f}"),
        (_fmt(c.roc_auc), "ROC-AUC"),
        (_fmt(c.best_threshold), f"best threshold (bal. acc. {_fmt(c.best_balanced_accuracy)})"),
    ]
    if c.raters is not None:
        tiles.append((_fmt(c.raters.agreement), f"agreement of {' and '.join(c.raters.raters)} (ceiling)"))
    return tiles


def _notes(c: Calibration) -> list[str]:
    notes = []
    if c.not_judged:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(c.not_judged.items()))
        notes.append(f"Not scored by the judge (left out of every metric): {parts}.")
    if c.skipped_rows:
        notes.append(f"{len(c.skipped_rows)} label rows could not be used: " + "; ".join(c.skipped_rows[:10]))
    if c.criteria_spearman:
        parts = ", ".join(f"{k.replace('_', ' ')} {v:+.2f}" for k, v in c.criteria_spearman.items())
        notes.append(f"Spearman correlation with the people's own criterion scores: {parts}.")
    return notes


def _rows(c: Calibration) -> list[dict]:
    def verdict(r) -> str:  # noqa: ANN001 - a RowResult
        if r.score is None:
            return r.status
        return "pass" if r.score >= c.threshold else "fail"

    rows = [{**r.model_dump(), "verdict": verdict(r)} for r in c.results]
    return sorted(rows, key=lambda r: (r["verdict"] == r["label"], r["line"]))


def _scored(c: Calibration) -> tuple[list[float], list[bool]]:
    scored = [r for r in c.results if r.score is not None]
    return [float(r.score) for r in scored], [r.label == "pass" for r in scored]  # type: ignore[arg-type]


def _roc(c: Calibration, out: Path) -> Plot | None:
    scores, positives = _scored(c)
    if c.roc_auc is None:
        return None
    plt = _pyplot()
    points = sorted(set(scores), reverse=True)
    pos, neg = sum(positives), len(positives) - sum(positives)
    tpr = [0.0] + [sum(s >= t and p for s, p in zip(scores, positives, strict=True)) / pos for t in points]
    fpr = [0.0] + [sum(s >= t and not p for s, p in zip(scores, positives, strict=True)) / neg for t in points]
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.plot(fpr, tpr, color=OURS, marker=".", label=f"judge (AUC {c.roc_auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="chance")
    ax.set_xlabel("false pass rate (fails the judge passed)")
    ax.set_ylabel("true pass rate (passes the judge passed)")
    ax.legend(loc="lower right", fontsize=8)
    return Plot(_save(fig, out / "plots", "roc.png"), "ROC curve", "Every threshold at once; the diagonal is chance.")


def _histogram(c: Calibration, out: Path) -> Plot | None:
    scores, positives = _scored(c)
    if not scores:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bins = [i / 20 for i in range(21)]
    for wanted, color, label in ((True, OURS, "people: pass"), (False, FAIL, "people: fail")):
        chosen = [s for s, p in zip(scores, positives, strict=True) if p == wanted]
        ax.hist(chosen, bins=bins, alpha=0.7, color=color, label=label)
    ax.axvline(c.threshold, color="#333", linewidth=1.2, label=f"threshold {c.threshold:.2f}")
    if c.best_threshold is not None:
        ax.axvline(c.best_threshold, color="#333", linestyle=":", label=f"best {c.best_threshold:.2f}")
    ax.set_xlabel("judge's weighted score")
    ax.set_ylabel("rows")
    ax.legend(loc="upper left", fontsize=8, frameon=True)
    caption = "Scores the judge gave, split by what people said; good judges separate the two colours."
    return Plot(_save(fig, out / "plots", "scores.png"), "Scores by label", caption)


def _type_bars(c: Calibration, out: Path) -> Plot | None:
    types = [t for t in c.per_type if t.balanced_accuracy is not None]
    if not types:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(types) + 1.2))
    y = range(len(types))
    ax.barh(list(y), [t.balanced_accuracy for t in types], color=OURS)
    for i, t in enumerate(types):
        label = f"{t.balanced_accuracy:.2f} (n={t.judged})"
        ax.text(min(t.balanced_accuracy, 1.0) + 0.01, i, label, va="center", fontsize=7)
    ax.set_yticks(list(y), [t.edit_type for t in types], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.25)
    ax.set_xlabel(f"balanced accuracy at threshold {c.threshold:.2f}")
    caption = "Where the judge agrees with people, type by type."
    return Plot(_save(fig, out / "plots", "types.png"), "By edit type", caption)
