"""The release's JSONL manifests, row by row, checked: every bad row becomes a `RowProblem` naming its
file, line and field, never an exception that stops the import or a row silently dropped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from editforge import taxonomy

SPLITS = ("sft", "preference", "multi-turn")
DEFAULT_BASE_URL = "https://ml-site.cdn-apple.com/datasets/pico-banana-300k/nb/"


@dataclass(frozen=True)
class RowRef:
    split: str
    line: int  # 1-based line in the manifest file

    def __str__(self) -> str:
        return f"{self.split}.jsonl:{self.line}"


@dataclass(frozen=True)
class SingleRow:
    """An sft or preference row: one source photo, one instruction, the chosen edit (+ rejected ones)."""

    ref: RowRef
    source_url: str
    text: str
    summarized_text: str
    edit_type: str  # taxonomy key
    output_image: str  # path relative to the base URL
    rejected_images: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionRow:
    """A multi-turn row: the original photo, one output per turn, one prompt per turn."""

    ref: RowRef
    source_url: str
    outputs: tuple[str, ...]  # edit_turn1 … final_image, in turn order
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class RowProblem:
    ref: RowRef
    reason: str


@dataclass
class Manifest:
    singles: list[SingleRow] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # split -> rows read (good or bad)


def _text(row: dict, key: str, ref: RowRef, required: bool = True) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"{ref}: `{key}` is missing or not a non-empty string")
    return value


def _image_path(value: object, ref: RowRef, key: str) -> str:
    """A path relative to the base URL (what the release gives), or a full http(s) URL (fetched under the
    untrusted-URL policy like any other); an absolute path, '..' or another scheme is refused."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{ref}: `{key}` is missing or not a string")
    path = value.strip()
    if path.lower().startswith(("http://", "https://")):
        return path
    if "://" in path or path.startswith("/") or ".." in path.split("/") or "\\" in path:
        raise ValueError(f"{ref}: `{key}` {path!r} is not a relative path under the release's base URL")
    return path


def parse_single(row: dict, ref: RowRef) -> SingleRow:
    source = _text(row, "open_image_input_url", ref)
    try:
        edit_type = taxonomy.get(_text(row, "edit_type", ref)).key
    except KeyError:
        raise ValueError(f"{ref}: `edit_type` {row.get('edit_type')!r} is not one of the 35 release types") from None
    rejected: tuple[str, ...] = ()
    if ref.split == "preference":
        values = row.get("rejected_images")
        if not isinstance(values, list) or not values:
            raise ValueError(f"{ref}: `rejected_images` is missing or empty")
        rejected = tuple(_image_path(v, ref, "rejected_images") for v in values)
    return SingleRow(
        ref=ref,
        source_url=source.strip(),
        text=_text(row, "text", ref),
        summarized_text=_text(row, "summarized_text", ref, required=False),
        edit_type=edit_type,
        output_image=_image_path(row.get("output_image"), ref, "output_image"),
        rejected_images=rejected,
    )


def parse_session(row: dict, ref: RowRef) -> SessionRow:
    files = row.get("files")
    prompts = row.get("metadata_edit_turn_prompts")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise ValueError(f"{ref}: `files` is missing or not a list of {{id, url}}")
    by_id = {f.get("id"): f.get("url") for f in files}
    if "original_input_image" not in by_id or "final_image" not in by_id:
        raise ValueError(f"{ref}: `files` needs `original_input_image` and `final_image`")
    turns = sorted(
        (int(key[len("edit_turn") :]), url)
        for key, url in by_id.items()
        if isinstance(key, str) and key.startswith("edit_turn") and key[len("edit_turn") :].isdigit()
    )
    if [n for n, _ in turns] != list(range(1, len(turns) + 1)):
        raise ValueError(f"{ref}: `files` has edit_turn ids out of sequence: {[n for n, _ in turns]}")
    outputs = tuple(_image_path(url, ref, "files.url") for _, url in turns) + (
        _image_path(by_id["final_image"], ref, "files.url"),
    )
    if not isinstance(prompts, list) or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ValueError(f"{ref}: `metadata_edit_turn_prompts` is missing or not a list of strings")
    if len(prompts) != len(outputs):
        raise ValueError(f"{ref}: {len(prompts)} prompts for {len(outputs)} turn images")
    source = by_id["original_input_image"]
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"{ref}: `original_input_image` has no url")
    return SessionRow(ref=ref, source_url=source.strip(), outputs=outputs, prompts=tuple(prompts))


def read_split(path: Path, split: str, limit: int | None, into: Manifest) -> None:
    """Parse one manifest file into `into`; a line that is not JSON or not a valid row is a problem."""
    into.rows[split] = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if limit is not None and into.rows[split] >= limit:
                break
            into.rows[split] += 1
            ref = RowRef(split, number)
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"{ref}: not a JSON object")
                if split == "multi-turn":
                    into.sessions.append(parse_session(row, ref))
                else:
                    into.singles.append(parse_single(row, ref))
            except json.JSONDecodeError as exc:
                into.problems.append(RowProblem(ref, f"{ref}: not valid JSON ({exc.msg})"))
            except ValueError as exc:
                into.problems.append(RowProblem(ref, str(exc)))


def read_manifests(folder: Path, splits: list[str], limit: int | None = None) -> Manifest:
    manifest = Manifest()
    for split in splits:
        read_split(Path(folder) / f"{split}.jsonl", split, limit, manifest)
    return manifest


def source_urls(manifest: Manifest) -> Iterator[str]:
    """Every row's source photo URL, each once, in manifest order."""
    seen: set[str] = set()
    for row in [*manifest.singles, *manifest.sessions]:
        if row.source_url not in seen:
            seen.add(row.source_url)
            yield row.source_url
