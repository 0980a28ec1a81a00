"""`editforge`: the command line. Thin: it parses flags into a RunConfig and hands over to the engine.

One module per group of commands; importing them registers them on the shared typer app.
"""

from editforge.cli import runs, single, inspect, calibrate, imports  # noqa: F401, I001 - registers the commands, in help order
from editforge.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
