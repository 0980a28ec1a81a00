"""Commands on one image: edit it, judge an edit."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from editforge import taxonomy
from editforge.cli.app import _user_errors, app, console, out_console
from editforge.config import ConfigError
from editforge.images import read_photo
from editforge.models.base import ModelCallError
from editforge.models.registry import build_role


@app.command()
def edit(
    source: Path = typer.Option(..., "--source", "-s", help="Photo to edit."),
    instruction: str = typer.Option(..., "--instruction", "-t", help="What to do, in words."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Where to write the edited image; its suffix sets the format (.png, .jpg, .webp)."
    ),
    seed: int = typer.Option(0, help="Seed for the editor's randomness."),
    provider: str = typer.Option("offline", help="Provider playing the editor."),
    model: str | None = typer.Option(None, help="Model id or local folder (default: the provider's own)."),
    as_json: bool = typer.Option(False, "--json", help="Print what the editor did as JSON instead of a sentence."),
) -> None:
    """Edit one photo by instruction.

    [bold]Example[/]:  editforge edit --source cat.jpg --instruction "make it warmer" --out warm.png
    """
    from editforge.images import encode_for, image_format
    from editforge.store.files import write_atomic

    with _user_errors():
        image_format(out)  # an unknown suffix is refused before any work
        editor = build_role("editor", provider, model)
        try:
            reply = editor.edit(read_photo(source), instruction, seed)
        except ModelCallError as exc:
            console.print(f"[red]the editor could not do it:[/] {exc.reason}")
            raise typer.Exit(1) from None
        write_atomic(out, encode_for(out, reply.image))
        height, width = reply.image.shape[:2]
        if as_json:
            said = _json_or_text(reply.raw)
            out_console.print_json(json.dumps({"out": str(out), "width": width, "height": height, "editor": said}))
            return
        console.print(f"wrote {out} ({width}×{height}): {_what_was_done(reply.raw)}")


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
    model: str | None = typer.Option(None, help="Model id or local folder (default: the provider's own)."),
) -> None:
    """Score one edit on Pico-Banana's four criteria.

    [bold]Example[/]:
      editforge judge --source cat.jpg --edited warm.png --instruction "make it warmer" --json
    """
    with _user_errors():
        kind = taxonomy.get(edit_type) if edit_type else _type_from_instruction(instruction)
        judge_model = build_role("judge", provider, model)
        try:
            reply = judge_model.judge(read_photo(source), read_photo(edited), instruction, kind)
        except ModelCallError as exc:  # e.g. a reply that never parsed: a judge failure, not a score
            console.print(f"[red]the judge could not score it:[/] {escape(exc.reason)}")
            raise typer.Exit(1) from None
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


def _json_or_text(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _what_was_done(raw: str) -> str:
    """The editor's reply as a sentence: the offline editor's operation and settings, else its words."""
    said = _json_or_text(raw)
    if not isinstance(said, dict) or "operation" not in said:
        return str(said).strip()[:300] or "edited"
    try:
        what = taxonomy.get(said["operation"]).release_name
    except KeyError:
        what = str(said["operation"]).replace("_", " ")
    params = said.get("params") or {}
    settings = ", ".join(f"{k} {v!r}" if k == "text" else f"{k} {v}" for k, v in params.items())
    return f"{what}" + (f" ({settings})" if settings else "")


def _type_from_instruction(instruction: str) -> taxonomy.EditType:
    from editforge.models.offline.core.intent import parse_instruction

    intent = parse_instruction(instruction)
    if intent is None:
        raise ConfigError("cannot tell the edit type from the instruction; pass --edit-type (see `editforge taxonomy`)")
    return taxonomy.get(intent.edit_type)
