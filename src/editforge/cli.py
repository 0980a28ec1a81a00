"""`editforge`: the command line. Thin: it parses flags into a RunConfig and hands over to the engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from editforge import __version__, taxonomy
from editforge.config import ConfigError, build_config, load_yaml
from editforge.images import PhotoError, read_photo
from editforge.models.base import ModelCallError
from editforge.models.registry import ProviderError, build_role
from editforge.store.lock import RunLockedError

app = typer.Typer(
    name="editforge",
    help="Build instruction-based image-editing datasets (Pico-Banana-400K style) with any models.\n\n"
    "Quick start (offline, no key, no GPU):  editforge demo --out demo-out",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
out_console = Console()


@contextmanager
def _user_errors() -> Iterator[None]:
    """Errors a user can fix become one clear line and exit code 2, not a traceback."""
    try:
        yield
    except (ConfigError, RunLockedError, ProviderError, PhotoError, KeyError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        console.print(f"[red]error:[/] {message}")
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        out_console.print(f"editforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    pass


def _split(values: str | None) -> list[str] | None:
    return [v.strip() for v in values.split(",") if v.strip()] if values else None


def _run(file_values: dict, overrides: dict, origin: str, quiet: bool) -> None:
    from editforge.engine.runner import LocalRunner

    config = build_config(file_values, overrides, origin)
    summary = LocalRunner(config, console=console, quiet=quiet).run()
    counts = summary.counts
    console.print(
        f"[bold]{config.out}[/]: {summary.photos} photos ({summary.source_failures} skipped), "
        f"{summary.tasks} tasks: {counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
        f"{counts.get('error', 0)} errors → {summary.exported.get('sft', 0)} SFT rows, "
        f"{summary.exported.get('preference', 0)} preference rows, "
        f"{summary.exported.get('multi_turn', 0)} multi-turn rows"
        + (f", ${summary.spent_usd:.4f} spent" if summary.spent_usd else "")
    )
    for line in summary.targets:
        console.print(f"target {line}")
    if summary.deferred:
        console.print(
            f"[yellow]{summary.deferred} tasks deferred[/] after repeated transient errors; "
            "run the same command again to retry them"
        )
    if summary.stopped:
        raise typer.Exit(130 if "interrupted" in summary.stopped else 3)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Run directory to create or resume."),
    photos: int = typer.Option(6, help="How many of the bundled sample photos to use."),
    per_photo: int = typer.Option(4, "--per-photo", help="Edit types to try per photo."),
    seed: int = typer.Option(0, help="Seed: the same seed gives the same dataset."),
    sessions: int = typer.Option(4, "--sessions", help="Multi-turn sessions to build (2-5 turns each)."),
    workers: int | None = typer.Option(None, help="Worker processes (default: CPU count)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Build a small dataset offline from the sample photos scikit-image ships: SFT, preference and
    multi-turn examples, exported as Pico-Banana JSONL, a Hugging Face dataset and WebDataset shards.

    [bold]Example[/]:  editforge demo --out demo-out --photos 6 --per-photo 4 --sessions 4 --seed 0
    """
    with _user_errors():
        _run(
            {},
            {
                "out": out,
                "source": "samples",
                "photos": photos,
                "per_photo": per_photo,
                "seed": seed,
                "workers": workers,
                "targets": {"multi_turn": sessions},
                "exports": ["picobanana", "hf", "webdataset"],
            },
            "demo",
            quiet,
        )
        _demo_report(out)


def _demo_report(out: Path) -> None:
    """The demo ends with its report, so a new user sees the dataset, not just counts."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        console.print("[yellow]no report:[/] pip install 'editforge\\[report]' for plots and the gallery")
        return
    from editforge.report import build_report

    result = build_report(run_dir=out)
    console.print(f"report: {result.index_html.resolve().as_uri()}")


@app.command()
def run(
    config_file: Path | None = typer.Argument(None, metavar="[CONFIG.yaml]", help="Run settings in YAML."),
    images: Path | None = typer.Option(None, "--images", "-i", help="Folder of photos (jpg/png/webp)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory to create or resume."),
    photos: int | None = typer.Option(None, help="Use at most this many photos."),
    per_photo: int | None = typer.Option(None, "--per-photo", help="Edit types to try per photo (default 3)."),
    edit_types: str | None = typer.Option(None, "--edit-types", help="Comma-separated type keys to restrict to."),
    max_attempts: int | None = typer.Option(None, "--max-attempts", help="Edit attempts per task (default 3)."),
    threshold: float | None = typer.Option(None, help="Judge pass threshold on the weighted score (default 0.7)."),
    seed: int | None = typer.Option(None, help="Seed (default 0)."),
    workers: int | None = typer.Option(None, help="Worker processes (default: CPU count)."),
    max_side: int | None = typer.Option(None, "--max-side", help="Downscale photos to this longest side (1024)."),
    provider: str | None = typer.Option(
        None, help="Play all four roles with this provider's default models: offline, gemini, openai."
    ),
    budget: float | None = typer.Option(None, "--budget", help="Stop cleanly before spending more than this (USD)."),
    multi_turn: int | None = typer.Option(
        None, "--multi-turn", help="Multi-turn sessions to build from passing examples (targets.multi_turn)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run the pipeline on a folder of photos. Killed? Run the same command again to resume.

    [bold]Examples[/]:
      editforge run --images photos/ --out runs/first --per-photo 3 --seed 1
      editforge run run.yaml                      (every flag can be a key in the YAML)
      editforge run run.yaml --out runs/other     (flags override the file)
      GEMINI_API_KEY=... editforge run --images photos/ --out runs/g --provider gemini --budget 20
    """
    with _user_errors():
        file_values = load_yaml(config_file) if config_file else {}
        overrides = {
            "images": images,
            "out": out,
            "photos": photos,
            "per_photo": per_photo,
            "edit_types": _split(edit_types),
            "max_attempts": max_attempts,
            "threshold": threshold,
            "seed": seed,
            "workers": workers,
            "max_side": max_side,
            "budget_usd": budget,
            "roles": _all_roles(provider),
        }
        if multi_turn is not None:
            overrides["targets"] = {**file_values.get("targets", {}), "multi_turn": multi_turn}
        if "out" not in file_values and out is None:
            raise ConfigError("no run directory: pass --out OUT (or `out:` in the config file)")
        _run(file_values, overrides, str(config_file or "command line"), quiet)


def _all_roles(provider: str | None) -> dict | None:
    if provider is None:
        return None
    return {role: {"provider": provider} for role in ("writer", "rewriter", "editor", "judge")}


@app.command()
def estimate(
    config_file: Path | None = typer.Argument(None, metavar="[CONFIG.yaml]", help="Run settings in YAML."),
    images: Path | None = typer.Option(None, "--images", "-i", help="Folder of photos."),
    per_photo: int | None = typer.Option(None, "--per-photo", help="Edit types per photo."),
    provider: str | None = typer.Option(None, help="All four roles on this provider."),
) -> None:
    """Predict what a run will cost before spending anything (photos × types × attempts × price).

    [bold]Examples[/]:
      editforge estimate run.yaml
      editforge estimate --images photos/ --provider gemini --per-photo 3
    """
    from editforge.engine.estimate import estimate as predict
    from editforge.engine.runner import list_sources

    with _user_errors():
        file_values = load_yaml(config_file) if config_file else {}
        overrides = {"images": images, "per_photo": per_photo, "roles": _all_roles(provider)}
        file_values.setdefault("out", "estimate")
        config = build_config(file_values, overrides, str(config_file or "command line"))
        config.check_runnable()
        result = predict(config, len(list_sources(config)))
        table = Table(
            title=f"{result.photos} photos × {config.per_photo} types → {result.tasks} tasks, "
            f"≈{result.expected_examples:.0f} kept examples"
        )
        for column in ("role", "model", "calls", "cost (USD)"):
            table.add_column(column, justify="left" if column in ("role", "model") else "right")
        for r in result.roles:
            table.add_row(r.role, r.model, f"{r.calls:.0f}", _usd(r.cost_usd) if r.priced else "unpriced")
        table.add_row("[bold]total", "", "", f"[bold]{_usd(result.total_usd)}")
        table.add_row("per kept example", "", "", _usd(result.per_example_usd))
        out_console.print(table)


def _usd(value: float) -> str:
    return f"{value:,.2f}" if value >= 10 else f"{value:.4f}"


@app.command()
def edit(
    source: Path = typer.Option(..., "--source", "-s", help="Photo to edit."),
    instruction: str = typer.Option(..., "--instruction", "-t", help="What to do, in words."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the edited image (PNG)."),
    seed: int = typer.Option(0, help="Seed for the editor's randomness."),
    provider: str = typer.Option("offline", help="Provider playing the editor."),
) -> None:
    """Edit one photo by instruction.

    [bold]Example[/]:  editforge edit --source cat.jpg --instruction "make it warmer" --out warm.png
    """
    from editforge.images import encode_png
    from editforge.store.files import write_atomic

    with _user_errors():
        editor = build_role("editor", provider)
        try:
            reply = editor.edit(read_photo(source), instruction, seed)
        except ModelCallError as exc:
            console.print(f"[red]the editor could not do it:[/] {exc.reason}")
            raise typer.Exit(1) from None
        write_atomic(out, encode_png(reply.image))
        console.print(f"wrote {out} ({reply.image.shape[1]}x{reply.image.shape[0]}) {reply.raw}")


@app.command()
def judge(
    source: Path = typer.Option(..., "--source", "-s", help="The photo before the edit."),
    edited: Path = typer.Option(..., "--edited", "-e", help="The photo after the edit."),
    instruction: str = typer.Option(..., "--instruction", "-t", help="The instruction the edit followed."),
    edit_type: str | None = typer.Option(
        None, "--edit-type", help="Type key or release string (default: read from the instruction)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    provider: str = typer.Option("offline", help="Provider playing the judge."),
) -> None:
    """Score one edit on Pico-Banana's four criteria.

    [bold]Example[/]:
      editforge judge --source cat.jpg --edited warm.png --instruction "make it warmer" --json
    """
    with _user_errors():
        kind = taxonomy.get(edit_type) if edit_type else _type_from_instruction(instruction)
        judge_model = build_role("judge", provider)
        reply = judge_model.judge(read_photo(source), read_photo(edited), instruction, kind)
        scores = reply.scores
        result = {
            "scores": scores.model_dump() if scores else None,
            "score": scores.weighted() if scores else None,
            "passed": (scores.weighted() >= 0.7) if scores else None,
            "rationale": reply.rationale if scores else (reply.abstain_reason or reply.rationale),
            "edit_type": kind.key,
            "judge": judge_model.ref.model_dump(),
        }
        if as_json:
            out_console.print_json(json.dumps(result))
            return
        table = Table(title=f"{kind.key}: {'PASS' if result['passed'] else 'FAIL' if scores else 'ABSTAINED'}")
        table.add_column("criterion")
        table.add_column("score", justify="right")
        for name, value in (result["scores"] or {}).items():
            table.add_row(name, f"{value:.3f}")
        if scores:
            table.add_row("[bold]weighted", f"{result['score']:.3f}")
        out_console.print(table)
        out_console.print(result["rationale"])


def _type_from_instruction(instruction: str) -> taxonomy.EditType:
    from editforge.models.offline.intent import parse_instruction

    intent = parse_instruction(instruction)
    if intent is None:
        raise ConfigError("cannot tell the edit type from the instruction; pass --edit-type (see `editforge taxonomy`)")
    return taxonomy.get(intent.edit_type)


@app.command()
def status(out: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Counts per stage and per edit type of a run (running, killed or finished).

    [bold]Example[/]:  editforge status demo-out
    """
    from editforge.engine.runner import status_counts
    from editforge.store.ledger import Ledger

    with _user_errors():
        path = out / "ledger.sqlite"
        if not path.exists():
            raise ConfigError(f"{out}: no ledger.sqlite here; is this a run directory?")
        with Ledger(path) as ledger:
            counts, by_type = status_counts(ledger)
            stages = Table(title=f"{out}: stages")
            stages.add_column("stage")
            stages.add_column("count", justify="right")
            stages.add_row("photos ingested", str(ledger.count("photos")))
            stages.add_row("photos skipped", str(ledger.count("source_failures")))
            stages.add_row("tasks planned", str(sum(counts.values())))
            stages.add_row("instructions written", str(ledger.count("instructions")))
            stages.add_row("edit attempts", str(ledger.count("attempts")))
            stages.add_row("verdicts", str(ledger.count("verdicts")))
            for name in ("planned", "passed", "failed", "error"):
                stages.add_row(f"tasks {name}", str(counts.get(name, 0)))
            out_console.print(stages)
            types = Table(title="by edit type")
            for column in ("edit type", "planned", "passed", "failed", "error"):
                types.add_column(column, justify="left" if column == "edit type" else "right")
            for key in sorted(by_type):
                c = by_type[key]
                types.add_row(key, *(str(c.get(s, 0)) for s in ("planned", "passed", "failed", "error")))
            out_console.print(types)


@app.command(name="taxonomy")
def show_taxonomy() -> None:
    """The 35 edit types: key, category, the release's edit_type string, what the photo needs."""
    table = Table(title="Pico-Banana-400K edit types")
    for column in ("key", "category", "release edit_type", "needs", "paper rate"):
        table.add_column(column)
    for t in taxonomy.all_types():
        rate = f"{t.paper_success_rate:.3f}" if t.paper_success_rate else ""
        table.add_row(t.key, t.category, t.release_name, t.needs or "", rate)
    out_console.print(table)


@app.command()
def export(
    out: Path = typer.Argument(..., help="A run directory."),
    fmt: str = typer.Option(
        "all", "--format", "-f", help="picobanana (OUT/), hf (OUT/hf/), webdataset (OUT/webdataset/) or all."
    ),
    align: str = typer.Option(
        "none", "--align", help="Put edits on their source's size in hf/webdataset: none, resize, pad, crop."
    ),
) -> None:
    """(Re)write a run's dataset files from its ledger: Pico-Banana JSONL, a Hugging Face folder, WebDataset tars.

    [bold]Examples[/]:
      editforge export demo-out
      editforge export demo-out --format hf --align pad
    """
    from rich.markup import escape

    from editforge.export import FORMATS, export_all, resolve_formats
    from editforge.export.common import INSTALL_HINT, ExportDependencyError, missing_dependencies
    from editforge.store.ledger import Ledger

    with _user_errors():
        if not (out / "ledger.sqlite").exists():
            raise ConfigError(f"{out}: no ledger.sqlite here; is this a run directory?")
        formats = resolve_formats(fmt)
        skipped = [f for f in formats if missing_dependencies(f)] if fmt.strip() == "all" else []
        try:
            with Ledger(out / "ledger.sqlite") as ledger:
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
        table.add_row("gallery rows", f"{gallery.rows:,} ({gallery.pages} pages of {gallery.page_size})")
        for name in ("sft", "preference", "multi_turn", "failed"):
            if gallery.facets["subset"].get(name):
                table.add_row(f"  {name.replace('_', '-')}", f"{gallery.facets['subset'][name]:,}")
        if stats.mode == "run":
            judged = sum(c["passed"] + c["failed"] for c in stats.type_status.values())
            table.add_row("pass rate", f"{stats.kept() / judged:.2f}" if judged else "–")
            table.add_row("scored attempts", f"{stats.scored:,}")
            if stats.cost_per_kept() is not None:
                table.add_row("cost per kept example", f"${stats.cost_per_kept():.4f}")
        table.add_row("plots", str(len(result.plots)))
        failed = f", [red]{result.thumbs_failed} unreadable[/]" if result.thumbs_failed else ""
        table.add_row("thumbnails", f"{result.thumbs_made} made, {result.thumbs_kept} kept{failed}")
        table.add_row("time", f"{result.elapsed_s:.1f} s")
        out_console.print(table)
        out_console.print(f"open {result.index_html.as_uri()}")


def main() -> None:
    app()
