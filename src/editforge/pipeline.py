"""A whole run as a user asks for it: an engine fills the ledger, then the exporters write the files.

The engine knows nothing of file formats and the exporters nothing of engines; this is the one place
they meet, for the CLI and for anyone driving editforge from Python:

    from editforge.config import build_config
    from editforge.pipeline import run
    summary = run(build_config({}, {"out": "runs/a", "source": "samples"}))
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from editforge.config import ConfigError, RunConfig
from editforge.engine.runner import LocalRunner, RunSummary
from editforge.export import export_all
from editforge.export.common import INSTALL_HINT, missing_dependencies
from editforge.store.ledger import Ledger


def make_runner(config: RunConfig, console: Console | None = None, quiet: bool = False) -> LocalRunner:
    """The engine the config asks for; Ray is imported only when it is the one asked for."""
    if config.engine == "ray":
        try:
            from editforge.engine.ray_runner import RayRunner
        except ModuleNotFoundError as exc:
            if exc.name != "ray":
                raise
            raise ConfigError("engine: ray needs Ray: pip install 'editforge[ray]'") from None
        return RayRunner(config, console=console, quiet=quiet)
    return LocalRunner(config, console=console, quiet=quiet)


def run(config: RunConfig, console: Console | None = None, quiet: bool = False) -> RunSummary:
    """Run (or resume) `config` to the end and export it; `summary.exported` counts the Pico-Banana rows."""
    console = console or Console(stderr=True)

    def export(ledger: Ledger) -> dict[str, int]:
        # A format whose optional packages are missing is skipped with a note, never the run's failure.
        formats = [f for f in config.exports if not missing_dependencies(f)]
        for skipped in sorted(set(config.exports) - set(formats)):
            console.print(f"[yellow]skipped the {skipped} export:[/] {escape(INSTALL_HINT)}")
        return export_all(ledger, config.out, ["picobanana", *formats], config.align)["picobanana"]

    return make_runner(config, console, quiet).run(finish=export)
