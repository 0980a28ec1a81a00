"""Commands that make data: demo, run, estimate."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from editforge.cli.app import _run, _split, _user_errors, app, console, out_console
from editforge.config import ConfigError, build_config, load_yaml


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
    """Build a small dataset offline from the sample photos scikit-image ships, with its report.

    SFT, preference and multi-turn examples, exported as Pico-Banana JSONL, a Hugging Face dataset and
    WebDataset shards, plus plots and a gallery in OUT/report/.

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
    urls: Path | None = typer.Option(
        None, "--urls", help="A .txt of photo URLs or a .csv with a URL column (e.g. Open Images'); http(s) only."
    ),
    allow_private_urls: bool | None = typer.Option(
        None, "--allow-private-urls", help="Fetch URLs on loopback/private addresses too (a local mirror)."
    ),
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
        None, help="Play all four roles with this provider's default models: offline, gemini, openai, local."
    ),
    budget: float | None = typer.Option(None, "--budget", help="Stop cleanly before spending more than this (USD)."),
    multi_turn: int | None = typer.Option(
        None, "--multi-turn", help="Multi-turn sessions to build from passing examples (targets.multi_turn)."
    ),
    engine: str | None = typer.Option(
        None, "--engine", help="Where the work runs: local (default) or ray (RAY_ADDRESS or a local Ray)."
    ),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster to join (ray://host:10001)."),
    images_uri: str | None = typer.Option(
        None, "--images-uri", help="Keep the run's images on object storage (s3://…, gs://…, file://…)."
    ),
    exports: str | None = typer.Option(
        None, "--exports", help="Comma-separated formats to write: picobanana (always), hf, webdataset."
    ),
    align: str | None = typer.Option(
        None, "--align", help="Put edits on their source's size in hf/webdataset: none, resize, pad, crop."
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
            "urls": urls,
            "source": "urls" if urls else None,
            "allow_private_urls": allow_private_urls,
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
            "engine": engine,
            "ray_address": ray_address,
            "images_uri": images_uri,
            "exports": _split(exports),
            "align": align,
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
    multi_turn: int | None = typer.Option(
        None, "--multi-turn", help="Multi-turn sessions the run will build (targets.multi_turn)."
    ),
) -> None:
    """Predict what a run will cost before spending anything (photos × types × attempts × price).

    [bold]Examples[/]:
      editforge estimate run.yaml
      editforge estimate --images photos/ --provider gemini --per-photo 3
    """
    from editforge.engine.estimate import estimate as predict
    from editforge.engine.intake import list_sources

    with _user_errors():
        file_values = load_yaml(config_file) if config_file else {}
        overrides = {"images": images, "per_photo": per_photo, "roles": _all_roles(provider)}
        if multi_turn is not None:
            overrides["targets"] = {**file_values.get("targets", {}), "multi_turn": multi_turn}
        file_values.setdefault("out", "estimate")
        config = build_config(file_values, overrides, str(config_file or "command line"))
        config.check_runnable()
        result = predict(config, len(list_sources(config)))
        table = Table(
            title=f"{result.photos} photos × {config.per_photo} types → {result.tasks} tasks"
            + (f" + ≈{result.turns:.0f} session turns" if result.turns else "")
            + f", ≈{result.expected_examples:.0f} kept examples"
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
