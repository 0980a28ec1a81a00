"""Commands that look at a run: status, taxonomy, export, report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.table import Table

from editforge import taxonomy
from editforge.cli.app import _user_errors, app, console, out_console
from editforge.config import ConfigError


@app.command()
def status(out: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Counts per stage and per edit type of a run (running, killed or finished).

    [bold]Example[/]:  editforge status demo-out
    """
    from editforge.dataset import FINISHED_SESSIONS
    from editforge.engine.run_state import read_state
    from editforge.store.ledger import Ledger

    with _user_errors():
        path = out / "ledger.sqlite"
        if not path.exists():
            raise ConfigError(f"{out}: no ledger.sqlite here; is this a run directory?")
        with Ledger(path) as ledger:
            state = read_state(out, ledger)
            _, by_type = status_counts(ledger)
            single, turns = ledger.count_tasks(single_turn=True), ledger.count_tasks(single_turn=False)
            sessions = ledger.count_sessions()
            stages = Table(title=f"{out}: {state.line()}")
            stages.add_column("stage")
            stages.add_column("count", justify="right")
            stages.add_row("photos ingested", str(ledger.count("photos")))
            stages.add_row("photos skipped", str(ledger.count("source_failures")))
            stages.add_row("single-turn tasks", _by_status(single))
            judged = single.get("passed", 0) + single.get("failed", 0)
            rate = f"{single.get('passed', 0) / judged:.2f}" if judged else "–"
            stages.add_row("  pass rate (passed / judged)", rate)
            examples = sum(sessions.get(s, 0) for s in FINISHED_SESSIONS)
            session_order = ("complete", "ended", "failed", "planned")
            stages.add_row("sessions", f"{_by_status(sessions, session_order)} → {examples} multi-turn examples")
            stages.add_row("  later turns", _by_status(turns))
            stages.add_row("instructions written", str(ledger.count("instructions")))
            stages.add_row("edit attempts", str(ledger.count("attempts")))
            stages.add_row("verdicts", str(ledger.count("verdicts")))
            stages.add_row("spent so far (USD)", f"{ledger.spent_usd():.4f}")
            failed_calls, failed_usd = ledger.failed_spend()
            stages.add_row("  of which failed calls (refused, unusable)", f"{failed_usd:.4f} ({failed_calls} calls)")
            timeouts, timeout_usd = ledger.possibly_billed()
            stages.add_row("  of which timed out, possibly billed", f"{timeout_usd:.4f} ({timeouts} calls)")
            out_console.print(stages)
            out_console.print(_rerun(state.state, single.get("planned", 0), sessions.get("planned", 0)))
            types = Table(title="by edit type")
            for column in ("edit type", "planned", "passed", "failed", "error"):
                types.add_column(column, justify="left" if column == "edit type" else "right")
            for key in sorted(by_type):
                c = by_type[key]
                types.add_row(key, *(str(c.get(s, 0)) for s in ("planned", "passed", "failed", "error")))
            out_console.print(types)


def _by_status(counts: dict[str, int], order: tuple[str, ...] = ("passed", "failed", "error", "planned")) -> str:
    """'12 (9 passed, 2 failed, 1 not run yet)': a total, then its parts in a fixed order."""
    names = {"planned": "not run yet", "error": "errors"}
    parts = [f"{counts[s]} {names.get(s, s)}" for s in order if counts.get(s)]
    return f"{sum(counts.values())}" + (f" ({', '.join(parts)})" if parts else "")


def _rerun(state: str, tasks_left: int, sessions_left: int) -> str:
    """What running the same command again would do."""
    if state == "running":
        return "a rerun now is refused: this run still holds the directory"
    if tasks_left or sessions_left:
        return (
            f"a rerun resumes: {tasks_left} tasks and {sessions_left} sessions still to run; "
            "nothing finished is redone or paid again"
        )
    return "a rerun finds nothing left to run (a larger multi-turn target plans more sessions); it rewrites the exports"


@app.command(name="taxonomy")
def show_taxonomy() -> None:
    """The 35 edit types: key, which providers can do it, category (and, when wide, the release's strings).

    [bold]offline[/] marks the types the keyless offline models (writer, editor and judge) can all do; hosted
    models (gemini, openai-compatible) are asked for any of the 35; local ones for what their models can do.
    """
    from editforge.models.registry import build_role

    offline = frozenset.intersection(
        *(frozenset(build_role(role, "offline").supported_types) for role in ("writer", "editor", "judge"))
    )
    wide = out_console.width >= 140  # the release's long edit_type strings only where they fit whole
    table = Table(title="Pico-Banana-400K edit types")
    table.add_column("key", no_wrap=True, min_width=max(len(k) for k in taxonomy.keys()))
    table.add_column("offline", justify="center", no_wrap=True)
    table.add_column("hosted", justify="center", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column("category")
    if wide:
        table.add_column("needs", no_wrap=True)
        table.add_column("release edit_type")
    for t in taxonomy.all_types():
        rate = f"{t.paper_success_rate:.2f}" if t.paper_success_rate else ""
        cells = [t.key, "✓" if t.key in offline else "", "✓", rate, t.category]
        table.add_row(*cells, *([t.needs or "", t.release_name] if wide else []))
    out_console.print(table)
    out_console.print(
        f"offline: {len(offline)} of {len(taxonomy.keys())} types, without a key or GPU; hosted (gemini, openai): all; "
        "rate: the paper's success rate" + ("" if wide else "; a wider terminal shows the release's edit_type strings")
    )


@app.command()
def export(
    out: Path = typer.Argument(..., help="A run directory."),
    fmt: str = typer.Option(
        "all", "--format", "-f", help="picobanana (OUT/), hf (OUT/hf/), webdataset (OUT/webdataset/) or all."
    ),
    align: str = typer.Option(
        "none", "--align", help="Put edits on their source's size in hf/webdataset: none, resize, pad, crop."
    ),
    url_prefix: str | None = typer.Option(
        None,
        "--url-prefix",
        help="Where the photos will be published (https://host/photos): a local photo's open_image_input_url "
        "becomes this plus its path in the images folder (default: that relative path alone). Remembered.",
    ),
) -> None:
    """(Re)write a run's dataset files from its ledger: Pico-Banana JSONL, a Hugging Face folder, WebDataset tars.

    [bold]Examples[/]:
      editforge export demo-out
      editforge export demo-out --format hf --align pad
    """
    from rich.markup import escape

    from editforge.dataset import URL_PREFIX_META
    from editforge.export import FORMATS, export_all, resolve_formats
    from editforge.export.common import INSTALL_HINT, ExportDependencyError, missing_dependencies
    from editforge.store.ledger import Ledger
    from editforge.store.lock import RunLock

    with _user_errors():
        if not (out / "ledger.sqlite").exists():
            raise ConfigError(f"{out}: no ledger.sqlite here; is this a run directory?")
        formats = resolve_formats(fmt)
        skipped = [f for f in formats if missing_dependencies(f)] if fmt.strip() == "all" else []
        try:
            # The run's lock: an export racing a live run would read a ledger mid-change and write files
            # the run is about to replace.
            with RunLock(out), Ledger(out / "ledger.sqlite") as ledger:
                if url_prefix is not None:
                    ledger.set_meta(URL_PREFIX_META, url_prefix)
                results = export_all(ledger, out, [f for f in formats if f not in skipped], align)
        except ExportDependencyError as exc:  # its message has brackets rich would read as markup
            console.print(f"[red]error:[/] {escape(exc.args[0])}")
            raise typer.Exit(2) from None
        for name, counts in results.items():
            where = out if FORMATS[name] == "." else out / FORMATS[name]
            console.print(
                f"{name}: wrote {counts.get('sft', 0)} SFT, {counts.get('preference', 0)} preference and "
                f"{counts.get('multi_turn', 0)} multi-turn rows to {where}"
            )
        if skipped:
            console.print(f"[yellow]skipped {', '.join(skipped)}:[/] needs extra packages: {escape(INSTALL_HINT)}")


@app.command()
def report(
    out: Path | None = typer.Argument(None, metavar="[OUT]", help="A run directory; the report goes to OUT/report/."),
    picobanana: list[Path] | None = typer.Option(
        None, "--picobanana", help="A Pico-Banana-400K manifest (sft / preference / multi-turn JSONL); repeatable."
    ),
    images: Path | None = typer.Option(
        None, "--images", "-i", help="With --picobanana: the folder the manifest's image paths are relative to."
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="With --picobanana and no --images: the URL relative image paths are joined to."
    ),
    report_out: Path | None = typer.Option(
        None, "--out", "-o", help="Report folder (default: OUT/report, or report/ beside the first manifest)."
    ),
    page_size: int = typer.Option(200, "--page-size", min=1, help="Rows per index file; a page shows up to 50."),
    thumb_size: int = typer.Option(256, "--thumb-size", min=32, help="Longest side of the thumbnails (px)."),
) -> None:
    """Plots and a gallery of a run (or of Pico-Banana-400K's files) as static HTML: open index.html, no server.

    [bold]Examples[/]:
      editforge report demo-out                  (writes demo-out/report/index.html)
      editforge report --picobanana sft.jsonl --images pico-banana/ --out pico-report
    """
    from rich.markup import escape

    from editforge.report import build_report

    with _user_errors():
        if (out is None) == (not picobanana):
            raise ConfigError("give a run directory OUT, or --picobanana FILE.jsonl (not both)")
        if out is not None and not (out / "ledger.sqlite").exists():
            raise ConfigError(f"{out}: no ledger.sqlite here; is this a run directory?")
        for path in picobanana or []:
            if not path.is_file():
                raise ConfigError(f"--picobanana {path}: no such file")
        if images is not None and not images.is_dir():
            raise ConfigError(f"--images {images}: not a directory")
        try:
            result = build_report(
                run_dir=out,
                manifests=picobanana,
                out=report_out,
                images=images,
                base_url=base_url,
                page_size=page_size,
                thumb_size=thumb_size,
            )
        except RuntimeError as exc:  # matplotlib missing
            raise ConfigError(str(exc)) from None
        stats, gallery = result.stats, result.gallery
        table = Table(title=f"report: {stats.title}", show_header=False)
        table.add_column("what")
        table.add_column("value", justify="right")
        pages = f"{gallery.pages} page" + ("s" if gallery.pages != 1 else "")
        table.add_row("gallery rows", f"{gallery.rows:,} ({pages} of {gallery.page_size})")
        for name in ("sft", "preference", "multi_turn", "failed"):
            if gallery.facets["subset"].get(name):
                table.add_row(f"  {name.replace('_', '-')}", f"{gallery.facets['subset'][name]:,}")
        if stats.mode == "run":
            judged = sum(c["passed"] + c["failed"] for c in stats.type_status.values())
            table.add_row("pass rate", f"{stats.kept() / judged:.2f}" if judged else "–")
            table.add_row("scored attempts", f"{stats.scored:,}")
            if stats.cost_per_kept() is not None:
                table.add_row("cost per kept example", f"${stats.cost_per_kept():.4f}")
        if stats.mode == "picobanana":
            table.add_row("rows skipped (unreadable)", f"{len(stats.bad_rows):,}")
            table.add_row("images not found", f"{stats.images_missing:,}")
        table.add_row("plots", str(len(result.plots)))
        failed = f", [red]{result.thumbs_failed} unreadable[/]" if result.thumbs_failed else ""
        table.add_row("thumbnails", f"{result.thumbs_made} made, {result.thumbs_kept} kept{failed}")
        table.add_row("time", f"{result.elapsed_s:.1f} s")
        out_console.print(table)
        for problem in stats.bad_rows[:20]:
            console.print(f"[yellow]skipped row[/] {escape(problem)}")
        if len(stats.bad_rows) > 20:
            console.print(f"[yellow]… and {len(stats.bad_rows) - 20} more skipped rows[/] (in the report's notes)")
        out_console.print(f"open {result.index_html.as_uri()}")


def status_counts(ledger) -> tuple[dict[str, int], dict[str, Counter[str]]]:  # noqa: ANN001 - a Ledger
    """Tasks by status, overall and per edit type."""
    by_type: dict[str, Counter[str]] = {}
    for edit_type, status, n in ledger.counts_by_type():
        by_type.setdefault(edit_type, Counter())[status] += n
    return ledger.count_tasks(), by_type
