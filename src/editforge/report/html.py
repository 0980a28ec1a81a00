"""`index.html`: the summary, the plots and the gallery's controls (jinja2, autoescaped).

The page opens from disk with no server and no network: its styles and script are copied beside it
(`static/`), its data are the `.js` files the gallery wrote. Every text a model or a user wrote is
escaped here by jinja2's autoescape, and by `textContent` in `static/gallery.js`.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from jinja2 import Environment, FunctionLoader, select_autoescape

from editforge import taxonomy
from editforge.report.data import Stats, paper_category_rate
from editforge.report.gallery import GalleryIndex
from editforge.report.plots import Plot

_PACKAGE = resources.files("editforge") / "report"


def _template(name: str) -> str:
    return (_PACKAGE / "templates" / name).read_text(encoding="utf-8")


def environment() -> Environment:
    return Environment(
        loader=FunctionLoader(_template),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _rate(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "–"


def tiles(stats: Stats, index: GalleryIndex) -> list[tuple[str, str]]:
    """The headline numbers: (value, label)."""
    subsets = index.facets.get("subset", {})
    if stats.mode == "picobanana":
        return [(f"{index.rows:,}", "rows"), *((f"{n:,}", kind) for kind, n in subsets.items())]
    counts = {s: sum(c[s] for c in stats.type_status.values()) for s in ("passed", "failed", "error")}
    judged = counts["passed"] + counts["failed"]
    out = [
        (f"{sum(counts.values()):,}", "tasks"),
        (f"{counts['passed']:,}", "passed"),
        (f"{counts['failed']:,}", "failed"),
        (f"{counts['error']:,}", "errors"),
        (_rate(counts["passed"] / judged if judged else None), "pass rate"),
    ]
    out += [(f"{subsets.get(k, 0):,}", k.replace("_", "-")) for k in ("sft", "preference", "multi_turn")]
    if stats.spent_usd:
        out += [(f"${stats.spent_usd:,.2f}", "spent"), (f"${stats.cost_per_kept() or 0:.4f}", "per kept example")]
    return out


def category_rows(stats: Stats) -> list[dict]:
    rows = []
    for category, c in stats.category_status().items():
        rows.append(
            {
                "name": category,
                "passed": c["passed"],
                "failed": c["failed"],
                "error": c["error"],
                "rate": _rate(stats.category_pass_rate(category)),
                "paper": _rate(paper_category_rate(category)),
            }
        )
    return rows


def facet_options(summary: dict) -> dict[str, list[dict]]:
    """Each control's options: value (an index into the key columns), label, count; only non-empty ones."""
    counts = summary["counts"]
    names = {t.key: t.release_name for t in taxonomy.all_types()}

    def options(facet: str, values: list[str], label=lambda v: v) -> list[dict]:  # noqa: ANN001
        return [
            {"value": i, "label": label(v), "count": counts[facet][v], "title": names.get(v, v)}
            for i, v in enumerate(values)
            if counts[facet].get(v)
        ]

    return {
        "category": options("category", summary["categories"]),
        "type": options("type", [t["key"] for t in summary["types"]]),
        "status": options("status", summary["statuses"]),
        "subset": options("subset", summary["subsets"], lambda v: v.replace("_", "-")),
        "label": options("label", summary["labels"]),
    }


def write_html(report_dir: Path, stats: Stats, index: GalleryIndex, plots: list[Plot], summary: dict) -> Path:
    static = report_dir / "static"
    static.mkdir(parents=True, exist_ok=True)
    for name in ("gallery.js", "labels.js", "style.css"):
        with resources.as_file(_PACKAGE / "static" / name) as src:
            shutil.copyfile(src, static / name)
    html = (
        environment()
        .get_template("index.html.j2")
        .render(
            title=stats.title,
            mode=stats.mode,
            tiles=tiles(stats, index),
            notes=stats.notes,
            categories=category_rows(stats) if stats.mode == "run" else [],
            plots=plots,
            facets=facet_options(summary),
            rows=index.rows,
            page_size=summary.get("view_size", index.page_size),
            report_dir=str(report_dir),
        )
    )
    path = report_dir / "index.html"
    tmp = path.with_name(".index.html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
