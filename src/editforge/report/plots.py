"""The report's plots, as PNG files (matplotlib, Agg backend: no display needed).

Each function draws one figure from `Stats` (and the gallery's facets) and returns a `Plot`, or None
when it does not apply (no sessions, no cost, no scores in a Pico-Banana manifest).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from editforge import taxonomy
from editforge.records import CRITERIA
from editforge.report.data import BINS, Stats, paper_category_rate
from editforge.report.gallery import GalleryIndex

OURS, PAPER, FAIL = "#3b6fb6", "#f0a030", "#c8504a"


@dataclass
class Plot:
    file: str  # relative to the report directory
    title: str
    caption: str


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("the report's plots need matplotlib: pip install 'editforge[report]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, name: str) -> str:  # noqa: ANN001 - a matplotlib Figure
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / name, dpi=100)
    _pyplot().close(fig)
    return f"plots/{name}"


def _legend(ax) -> None:  # noqa: ANN001 - a matplotlib Axes
    """The legend beside the plot, never over it: inside, it covered the bars' value labels."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def _rate_bars(ax, labels: list[str], ours: list[float | None], paper: list[float | None], n: list[int]) -> None:  # noqa: ANN001
    y = np.arange(len(labels))
    ax.barh(y - 0.2, [v or 0 for v in ours], height=0.4, color=OURS, label="this dataset")
    ax.barh(y + 0.2, [v or 0 for v in paper], height=0.4, color=PAPER, label="paper (Pico-Banana-400K)")
    for i, (value, count) in enumerate(zip(ours, n, strict=True)):
        text = f"{value:.2f} (n={count})" if value is not None else f"– (n={count})"
        ax.text(min(value or 0, 1.0) + 0.01, i - 0.2, text, va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.18)
    ax.set_xlabel("pass rate (passed / judged tasks)")
    _legend(ax)


def pass_rate_by_type(stats: Stats, out: Path) -> Plot | None:
    keys = [k for k in taxonomy.keys() if k in stats.type_status]
    if not keys or stats.mode != "run":
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.32 * len(keys)))
    n = [stats.type_status[k]["passed"] + stats.type_status[k]["failed"] for k in keys]
    paper = [taxonomy.get(k).paper_success_rate for k in keys]
    _rate_bars(ax, keys, [stats.pass_rate(k) for k in keys], paper, n)
    ax.set_title("Pass rate per edit type (paper's rate where it reports one)")
    caption = "Missing orange bars: the paper gives no rate for that type."
    return Plot(_save(fig, out, "pass_rate_by_type.png"), "Pass rate per edit type", caption)


def pass_rate_by_category(stats: Stats, out: Path) -> Plot | None:
    cats = list(stats.category_status())
    if not cats or stats.mode != "run":
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.45 * len(cats)))
    status = stats.category_status()
    n = [status[c]["passed"] + status[c]["failed"] for c in cats]
    _rate_bars(ax, cats, [stats.category_pass_rate(c) for c in cats], [paper_category_rate(c) for c in cats], n)
    ax.set_title("Pass rate per category")
    caption = "The paper's category rate is the count-weighted mean of its types' reported rates."
    return Plot(_save(fig, out, "pass_rate_by_category.png"), "Pass rate per category", caption)


def score_distributions(stats: Stats, out: Path) -> Plot | None:
    if not stats.scored:
        return None
    plt = _pyplot()
    names = [*CRITERIA, "score"]
    fig, axes = plt.subplots(1, len(names), figsize=(15, 3), sharey=False)
    edges = np.linspace(0, 1, BINS + 1)
    for ax, name in zip(axes, names, strict=True):
        counts = stats.histograms[name]
        threshold = stats.threshold if name == "score" else None
        color = ["#7a7a7a"] * BINS
        if threshold is not None:
            color = [OURS if edges[i] >= threshold - 1e-9 else FAIL for i in range(BINS)]
        ax.bar(edges[:-1], counts, width=1 / BINS, align="edge", color=color)
        if threshold is not None:
            ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2)
            ax.text(threshold, ax.get_ylim()[1] * 0.97, f" threshold {threshold:g}", fontsize=8, va="top")
        mean = stats.score_sums[name] / stats.scored
        title = f"weighted score (mean {mean:.2f})" if name == "score" else f"{name} ({CRITERIA[name]:.2f})"
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("attempts")
    fig.suptitle(f"Judge scores of all {stats.scored} scored attempts (kept and rejected)", fontsize=10)
    abstained = stats.verdict_status["abstained"] + stats.verdict_status["failed"]
    caption = f"Weights in brackets. {abstained} verdicts had no score (judge abstained or failed)."
    return Plot(_save(fig, out, "scores.png"), "Score distributions", caption)


def _count_bars(ax, counts: dict[str, Counter[int]], colors: dict[str, str], xlabel: str) -> None:  # noqa: ANN001
    values = sorted({v for c in counts.values() for v in c})
    bottom = np.zeros(len(values))
    for name, counter in counts.items():
        heights = np.array([counter.get(v, 0) for v in values], dtype=float)
        ax.bar([str(v) for v in values], heights, bottom=bottom, color=colors.get(name, "#888"), label=name)
        bottom += heights
    ax.set_xlabel(xlabel)
    if len(counts) > 1:
        _legend(ax)


def attempts_per_task(stats: Stats, out: Path) -> Plot | None:
    if stats.mode == "picobanana":
        if not stats.rejected_per_row:
            return None
        data = {"preference rows": stats.rejected_per_row}
        xlabel, title = "rejected images per preference row", "Rejected images per preference row"
    else:
        if not stats.attempts_per_task:
            return None
        data = {s: stats.attempts_per_task[s] for s in ("passed", "failed", "error") if s in stats.attempts_per_task}
        xlabel, title = "edit attempts", "Attempts per task"
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    _count_bars(ax, data, {"passed": OURS, "failed": FAIL, "error": "#999", "preference rows": OURS}, xlabel)
    ax.set_ylabel("tasks" if stats.mode == "run" else "rows")
    ax.set_title(title)
    return Plot(_save(fig, out, "attempts.png"), title, "Stacked by the task's final status.")


def turns_per_session(stats: Stats, out: Path) -> Plot | None:
    if not stats.turns_per_session:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    _count_bars(ax, {"sessions": stats.turns_per_session}, {"sessions": OURS}, "turns")
    ax.set_ylabel("sessions")
    ax.set_title("Turns per multi-turn session")
    caption = "Accepted turns (turn 1 included)." if stats.mode == "run" else "Prompts per multi-turn row."
    return Plot(_save(fig, out, "turns.png"), "Turns per session", caption)


def cost_per_kept(stats: Stats, out: Path) -> Plot | None:
    if not stats.spent_usd or not stats.kept():
        return None
    keys = [k for k in taxonomy.keys() if stats.cost_by_type.get(k)]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.3 * max(1, len(keys))))
    values = [stats.cost_by_type[k] / max(1, stats.type_status.get(k, Counter())["passed"]) for k in keys]
    ax.barh(keys, values, color=OURS)
    ax.axvline(stats.cost_per_kept() or 0, color="black", linestyle="--", linewidth=1)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("USD per kept example (all calls of the type, failed attempts included)")
    ax.set_title(f"Cost per kept example: ${stats.cost_per_kept():.4f} overall (dashed), ${stats.spent_usd:.2f} spent")
    return Plot(_save(fig, out, "cost.png"), "Cost per kept example", "A type with no kept example counts as 1.")


def label_counts(stats: Stats, index: GalleryIndex, out: Path) -> Plot | None:
    by_status = index.labels_by_status
    labels = sorted({lab for c in by_status.values() for lab in c})
    if not labels:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    y = np.arange(len(labels))
    left = np.zeros(len(labels))
    for status, color in (("passed", OURS), ("failed", FAIL), ("error", "#999")):
        if status not in by_status:
            continue
        widths = np.array([by_status[status].get(lab, 0) for lab in labels], dtype=float)
        name = "kept examples" if status == "passed" else f"{status} tasks"
        ax.barh(y, widths, left=left, color=color, label=name)
        left += widths
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("gallery rows")
    _legend(ax)
    ax.set_title("Content labels")
    caption = "What the photos show: a VLM writer's labels and photo analysis (faces, lettering)."
    return Plot(_save(fig, out, "labels.png"), "Content labels", caption)


def type_counts(stats: Stats, out: Path) -> Plot | None:
    """Pico-Banana manifests: rows per edit type, per file."""
    files = {k: c for k, c in stats.files.items() if k != "multi_turn"}
    keys = [k for k in taxonomy.keys() if any(k in c for c in files.values())]
    if not keys:
        return None
    plt = _pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 1.4 + 0.3 * len(keys)), width_ratios=[3, 2])
    left = np.zeros(len(keys))
    for (kind, counts), color in zip(files.items(), (OURS, PAPER, FAIL), strict=False):
        widths = np.array([counts.get(k, 0) for k in keys], dtype=float)
        ax.barh(keys, widths, left=left, color=color, label=kind)
        left += widths
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    _legend(ax)
    ax.set_title("Rows per edit type")
    per_cat: Counter[str] = Counter()
    for counts in files.values():
        for k, n in counts.items():
            if k in taxonomy.keys():
                per_cat[taxonomy.get(k).category] += n
    cats = [c for c in taxonomy.categories() if c in per_cat]
    ax2.barh(cats, [per_cat[c] for c in cats], color=OURS)
    ax2.invert_yaxis()
    ax2.tick_params(axis="y", labelsize=8)
    ax2.set_title("Rows per category")
    return Plot(_save(fig, out, "type_counts.png"), "Rows per edit type and category", "No scores in the release.")


def make_plots(stats: Stats, index: GalleryIndex, report_dir: Path) -> list[Plot]:
    out = report_dir / "plots"
    for old in out.glob("*.png"):  # a plot that no longer applies must not linger from a rerun
        old.unlink()
    made = [
        pass_rate_by_type(stats, out),
        pass_rate_by_category(stats, out),
        type_counts(stats, out) if stats.mode == "picobanana" else None,
        score_distributions(stats, out),
        attempts_per_task(stats, out),
        turns_per_session(stats, out),
        cost_per_kept(stats, out),
        label_counts(stats, index, out),
    ]
    return [p for p in made if p is not None]
