"""The typer app and what every command shares: consoles, user-error handling, the run entry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
import typer.core
from rich.console import Console
from rich.markup import escape

from editforge import __version__
from editforge.config import ConfigError, build_config
from editforge.images import PhotoError
from editforge.models.registry import ProviderError
from editforge.store.lock import RunLockedError


def _flag_type(self: typer.core.TyperOption, ctx: object) -> str | None:
    """typer 0.29's help gives every switch a "<bool>" type, as if it took a value: show none."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

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
    from editforge.engine.runner import RunAborted
    from editforge.engine.skipped import NoUsablePhotos

    try:
        yield
    except (ConfigError, RunLockedError, ProviderError, PhotoError, KeyError, RunAborted, NoUsablePhotos) as exc:
        message = exc.args[0] if exc.args else str(exc)
        console.print(f"[red]error:[/] {escape(str(message))}")
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
    from editforge.pipeline import run

    config = build_config(file_values, overrides, origin)
    summary = run(config, console=console, quiet=quiet)
    single, turns, rows = summary.single_turn, summary.turns, summary.exported
    not_run = f", {single['planned']} not run yet" if single.get("planned") else ""
    sessions = sum(summary.sessions.values())
    later = sum(n for status, n in turns.items() if status != "planned")
    console.print(
        f"[bold]{config.out}[/]: {summary.photos} photos ({summary.source_failures} skipped), "
        f"{sum(single.values())} tasks: {single.get('passed', 0)} passed, {single.get('failed', 0)} failed, "
        f"{single.get('error', 0)} errors{not_run} → {rows.get('sft', 0)} SFT rows, "
        f"{rows.get('preference', 0)} preference rows; {sessions} sessions ({later} later turns run) → "
        f"{rows.get('multi_turn', 0)} multi-turn rows"
        + (f", ${summary.spent_usd:.4f} spent" if summary.spent_usd else "")
    )
    for line in summary.targets:
        console.print(f"target {line}")
    if summary.deferred and not summary.fatal:
        console.print(
            f"[yellow]{summary.deferred} tasks deferred[/] after repeated transient errors; "
            "run the same command again to retry them"
        )
    if summary.stopped:
        raise typer.Exit(130 if "interrupted" in summary.stopped else 3)
