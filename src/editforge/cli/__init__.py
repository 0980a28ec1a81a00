"""`editforge`: the command line. Thin: it parses flags into a RunConfig and hands over to the engine.

One module per group of commands; importing them registers them on the shared typer app.
"""

import os
import sys

from editforge.engine.interrupt import watch_early_presses

watch_early_presses()  # before the heavy imports: a Ctrl-C from here on is never lost

import typer  # noqa: E402
from rich.markup import escape  # noqa: E402

from editforge.cli.app import app, console  # noqa: E402

# isort: off
from editforge.cli import runs, single, inspect, calibrate, imports  # noqa: E402, F401 - registers the commands, in help order
# isort: on


def main() -> None:
    """The console entry. Usage mistakes (an unknown command, a missing or bad option) print as every
    other error does — one "error: …" line — instead of a boxed "Error" panel."""
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # typer's usage errors (its own click)
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        console.print(f"[red]error:[/] {escape(exc.format_message())}{where}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("[red]error:[/] aborted")
        sys.exit(1)
    except KeyboardInterrupt:  # Ctrl-C before a run took it over (typer still building the commands)
        os._exit(130)  # at once: a second press during a normal exit would print a traceback
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
