"""`editforge calibrate`: measure a judge against people's pass / fail labels."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from editforge.cli.app import _user_errors, app, console, out_console
from editforge.config import ConfigError, load_yaml


@app.command()
def calibrate(
    labels: Path = typer.Argument(..., help="JSONL of labelled edits (source, edited, instruction, edit_type, label)."),
    provider: str = typer.Option("offline", help="Provider playing the judge: offline, gemini, openai, local."),
    model: str | None = typer.Option(None, help="The judge model (default: the provider's)."),
    config: Path | None = typer.Option(None, "--config", help="Take the judge from this run config's roles.judge."),
    threshold: float = typer.Option(0.7, min=0.0, max=1.0, help="Pass threshold whose agreement is reported."),
    root: Path | None = typer.Option(None, "--root", help="Resolve image paths against this folder instead."),
    out: Path | None = typer.Option(None, "--out", "-o", help="HTML page folder (default: beside LABELS)."),
    cache: Path | None = typer.Option(None, "--cache", help="Verdict cache (default: beside LABELS)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (no table)."),
) -> None:
    """How often a judge agrees with people, and the threshold it should use — overall and per edit type.

    Every verdict is cached, so a rerun (another threshold, more labels) pays only for new rows. With two
    raters on the same edits, their own agreement is shown as the ceiling.

    [bold]Examples[/]:
      editforge calibrate labels.jsonl
      editforge calibrate labels.jsonl --provider gemini --json
      editforge calibrate labels.jsonl --config run.yaml --out calib/
    """
    from editforge.calibrate.judging import VerdictCache, judge_rows
    from editforge.calibrate.labels import read_labels
    from editforge.calibrate.page import write_page
    from editforge.calibrate.summary import summarize
    from editforge.models.registry import build_role

    with _user_errors():
        if not labels.is_file():
            raise ConfigError(f"{labels}: no such labels file")
        options: dict = {}
        if config is not None:
            spec = load_yaml(config).get("roles", {}).get("judge", {})
            provider, model, options = spec.get("provider", provider), spec.get("model", model), spec.get("options", {})
        rows, problems = read_labels(labels, root)
        for problem in problems:
            console.print(f"[yellow]skipped[/] {problem}", markup=True, highlight=False)
        if not rows:
            raise ConfigError(f"{labels}: no usable label rows ({len(problems)} skipped)")
        judge = build_role("judge", provider, model, options)
        store = VerdictCache(cache or labels.parent / ".editforge-calibrate.sqlite")
        try:
            judged = judge_rows(judge, rows, store)
        finally:
            store.close()
        result = summarize(judge.ref.label(), judged, threshold, problems)
        page = write_page(result, out or labels.parent / "calibration", labels)
        if as_json:
            out_console.print_json(json.dumps(result.model_dump(mode="json")))
            return
        _print(result)
        out_console.print(f"page: {page.resolve().as_uri()}")


def _print(c) -> None:  # noqa: ANN001 - a calibrate.summary.Calibration
    def fmt(v: float | None) -> str:
        return f"{v:.3f}" if v is not None else "–"

    table = Table(title=f"calibration of {c.judge}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("label rows", f"{c.rows} ({len(c.skipped_rows)} skipped, {c.cached_rows} from cache)")
    table.add_row("scored by the judge", str(c.judged))
    for status, n in sorted(c.not_judged.items()):
        table.add_row(f"  {status}", str(n))
    table.add_row(f"agreement at {c.threshold:.2f}", fmt(c.agreement))
    table.add_row(f"balanced accuracy at {c.threshold:.2f}", fmt(c.balanced_accuracy))
    table.add_row("ROC-AUC", fmt(c.roc_auc))
    table.add_row("best threshold", f"{fmt(c.best_threshold)} (balanced accuracy {fmt(c.best_balanced_accuracy)})")
    if c.raters is not None:
        kappa = fmt(c.raters.cohen_kappa)
        names = " vs ".join(c.raters.raters)
        agreement = f"{fmt(c.raters.agreement)} (κ {kappa}, {names}, {c.raters.items} items)"
        table.add_row("raters' own agreement", agreement)
    if c.cost_usd:
        table.add_row("judge cost", f"${c.cost_usd:.4f}")
    out_console.print(table)
    types = Table(title="by edit type")
    for name in ("edit type", "rows", "TP", "FN", "FP", "TN", "bal. acc.", "best threshold"):
        types.add_column(name, justify="left" if name == "edit type" else "right")
    for t in c.per_type:
        cm = t.confusion
        types.add_row(
            t.edit_type, str(t.rows), str(cm.tp), str(cm.fn), str(cm.fp), str(cm.tn), fmt(t.balanced_accuracy),
            fmt(t.best_threshold),
        )  # fmt: skip
    out_console.print(types)
