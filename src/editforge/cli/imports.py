"""`editforge import …`: published datasets rebuilt as editforge run directories."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn

from editforge.cli.app import _split, _user_errors, app, console

import_app = typer.Typer(help="Rebuild a published dataset locally as an editforge run directory.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(import_app, name="import")


@import_app.command()
def picobanana(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to create or resume."),
    splits: str = typer.Option("sft,preference,multi-turn", help="Which manifests: sft, preference, multi-turn."),
    base_url: str | None = typer.Option(None, "--base-url", help="Where the release lives (default: Apple's CDN)."),
    manifest_dir: Path | None = typer.Option(None, "--manifest-dir", help="Local copies of the JSONL manifests."),
    openimages_dir: list[Path] = typer.Option(
        [], "--openimages-dir", help="Open Images training tars or a folder of <ImageID>.jpg (repeatable)."
    ),
    openimages_csv: Path | None = typer.Option(
        None, "--openimages-csv", help="train-images-boxable-with-rotation.csv (OriginalURL → ImageID)."
    ),
    flickr_fallback: bool = typer.Option(
        False, "--flickr-fallback", help="Fetch a source photo from its Flickr URL when Open Images lacks it."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Read at most this many rows per split."),
    allow_private_urls: bool = typer.Option(
        False, "--allow-private-urls", help="Allow loopback/private addresses (a local mirror of the release)."
    ),
    connections: int = typer.Option(32, "--connections", min=1, max=1024, help="Downloads in flight at once."),
    align: str = typer.Option("none", "--align", help="Exports: put edits on their source's size (resize/pad/crop)."),
    exports: str = typer.Option("picobanana,hf,webdataset", "--exports", help="Formats to write ('' for none)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Rebuild Pico-Banana-400K: manifests, edited images, source photos from Open Images, exports.

    The result is for your local use only: the dataset is CC BY-NC-ND 4.0 (no derivatives, non-commercial)
    and its photos CC BY 2.0. Do not redistribute it. Killed? Run the same command again: nothing verified
    is fetched twice, and transient failures are tried again.

    [bold]Example[/]:
      editforge import picobanana --out pb --openimages-dir train_0.tar.gz --openimages-dir train_1.tar.gz
        --openimages-csv train-images-boxable-with-rotation.csv --limit 1000
    """
    from editforge.export import resolve_formats
    from editforge.importers.picobanana import ImportOptions, import_picobanana
    from editforge.importers.picobanana.importer import NOTICE
    from editforge.importers.picobanana.manifest import DEFAULT_BASE_URL

    with _user_errors():
        options = ImportOptions(
            out=out,
            splits=_split(splits) or [],
            base_url=base_url or DEFAULT_BASE_URL,
            manifest_dir=manifest_dir,
            openimages=list(openimages_dir),
            openimages_csv=openimages_csv,
            flickr_fallback=flickr_fallback,
            limit=limit,
            allow_private_urls=allow_private_urls,
            connections=connections,
            align=align,
            exports=resolve_formats(exports) if exports.strip() else [],
        )
        console.print(f"[yellow]notice:[/] {escape(NOTICE)}")
        columns = (SpinnerColumn(), TextColumn("images fetched, verified and stored: {task.completed:.0f}"))
        with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
            images = bar.add_task("images", total=None)
            summary = import_picobanana(options, progress=lambda _stage, n: bar.advance(images, n))
    read = sum(summary.rows.values())
    console.print(
        f"[bold]{out}[/]: {read} rows read ({', '.join(f'{k} {v}' for k, v in summary.rows.items())}), "
        f"{summary.imported} imported, {len(summary.problems)} not imported (listed in {out / 'import-problems.tsv'})"
    )
    for ref, status, reason in summary.problems[:10]:
        console.print(f"  {ref} [yellow]{status}[/]: {escape(reason[:200])}")
    if len(summary.problems) > 10:
        console.print(f"  … and {len(summary.problems) - 10} more")
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if summary.retryable:
        noun = "image" if summary.retryable == 1 else "images"
        console.print(f"{summary.retryable} {noun} failed transiently: run the same command again to retry")
    for fmt, counts in summary.exported.items():
        console.print(f"export {fmt}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
