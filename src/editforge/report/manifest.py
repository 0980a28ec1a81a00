"""What a report shows of a Pico-Banana-400K manifest (sft / preference / multi-turn JSONL): its counts
and one gallery row per released example. The release carries no scores, so none are shown; a row
missing the keys it needs is named (file:line) and counted, never guessed at."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

from editforge import taxonomy
from editforge.report.data import Stats
from editforge.stages.labels import labels_from_words

# Keys a row must have to be shown; a row without them is named (file:line) and counted, never guessed at.
REQUIRED = {
    "sft": ("open_image_input_url", "text", "output_image"),
    "preference": ("open_image_input_url", "text", "output_image", "rejected_images"),
    "multi_turn": ("files", "metadata_edit_turn_prompts"),
}
SHOWN_PROBLEMS = 20  # bad rows quoted in the report's notes; all are counted


def manifest_kind(path: Path) -> str:
    """sft, preference or multi_turn, from the keys of the file's first readable row."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                row = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                return "multi_turn" if "files" in row else "preference" if "rejected_images" in row else "sft"
    return "sft"


def _lines(path: Path, kind: str, problems: list[str] | None = None) -> Iterator[dict]:
    """The file's usable rows; each other non-blank line is told to `problems` as 'file:line: why'."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                why = f"not JSON ({exc.msg}, column {exc.colno})"
            else:
                if not isinstance(row, dict):
                    why = f"not a JSON object but a {type(row).__name__}"
                elif missing := [k for k in REQUIRED[kind] if k not in row]:
                    why = f"a {kind.replace('_', '-')} row without {', '.join(missing)}"
                else:
                    yield row
                    continue
            if problems is not None:
                problems.append(f"{path.name}:{number}: {why}")


def manifest_stats(paths: list[Path], title: str) -> Stats:
    stats = Stats(title=title, mode="picobanana")
    stats.notes.append(
        "Pico-Banana-400K released no judge scores and no failed tasks: score, pass-rate and cost plots "
        "do not apply; counts are shown instead. Content labels come from the instructions' words."
    )
    for path in paths:
        kind = manifest_kind(path)
        counts = stats.files.setdefault(kind, Counter())
        for row in _lines(path, kind, stats.bad_rows):
            if kind == "multi_turn":
                stats.turns_per_session[len(row.get("metadata_edit_turn_prompts") or [])] += 1
                counts["(no type)"] += 1
                continue
            key = _type_key(row.get("edit_type"))
            counts[key or "(unknown)"] += 1
            if key:
                stats.type_status.setdefault(key, Counter())["passed"] += 1
            if kind == "preference":
                stats.rejected_per_row[len(row.get("rejected_images") or [])] += 1
    if stats.bad_rows:
        shown = "; ".join(stats.bad_rows[:SHOWN_PROBLEMS]) + ("; …" if len(stats.bad_rows) > SHOWN_PROBLEMS else "")
        stats.notes.append(f"{len(stats.bad_rows)} rows skipped, unreadable: {shown}")
    return stats


def _type_key(name: str | None) -> str | None:
    try:
        return taxonomy.get(name).key if name else None
    except KeyError:
        return None


class ImageResolver:
    """A manifest's image reference → a local file under `images`, or a URL."""

    def __init__(self, images: Path | None, base_url: str | None) -> None:
        self.images, self.base_url = images, base_url
        self.missing = 0  # references that resolved to nothing: shown as named gaps, counted here

    def __call__(self, ref: str | None) -> dict | None:
        if not ref:
            return None
        is_url = "://" in ref
        if self.images is not None:
            candidates = [ref] if not is_url else [ref.split("://", 1)[1].partition("/")[2], ref.rsplit("/", 1)[-1]]
            root = self.images.resolve()
            for candidate in candidates:
                path = (self.images / candidate.split("?")[0]).resolve()
                if not path.is_relative_to(root):  # "../", absolute paths, symlinks out: untrusted rows
                    self.missing += 1
                    return {"missing": f"{ref} (refused: outside {self.images})"}
                if candidate and path.is_file():
                    return {"path": str(path)}
        if is_url:
            return {"url": ref}
        if self.base_url:
            return {"url": urljoin(self.base_url.rstrip("/") + "/", ref)}
        self.missing += 1
        return {"missing": ref}


def manifest_rows(paths: list[Path], resolve: ImageResolver) -> Iterator[dict]:
    for path in paths:
        kind = manifest_kind(path)
        for row in _lines(path, kind):  # bad rows were told by manifest_stats
            if kind == "multi_turn":
                yield _multi_turn_row(row, resolve)
                continue
            key = _type_key(row.get("edit_type"))
            kind_info = taxonomy.get(key) if key else None
            rejected = row.get("rejected_images") or []
            attempts = [_released("rejected", i, resolve(ref)) for i, ref in enumerate(rejected, start=1)]
            attempts.append(_released("chosen", len(attempts) + 1, resolve(row.get("output_image"))))
            turn = {
                "turn": 1,
                "type": key,
                "type_name": row.get("edit_type") or "",
                "category": kind_info.category if kind_info else None,
                "long": row.get("text") or "",
                "short": row.get("summarized_text") or "",
                "input": resolve(row.get("open_image_input_url")),
                "attempts": attempts,
                "models": {},
            }
            yield _manifest_row(kind, [turn], row.get("open_image_input_url") or "")


def _released(role: str, index: int, img: dict | None) -> dict:
    """An image of the release as a gallery attempt: no scores, no rationale, no model."""
    return {"role": role, "index": index, "img": img, "score": None, "scores": None, "rationale": "", "editor": ""}


def _multi_turn_row(row: dict, resolve: ImageResolver) -> dict:
    files = {f.get("id"): f.get("url") for f in row.get("files") or []}
    prompts = row.get("metadata_edit_turn_prompts") or []
    chain = [files.get("original_input_image")]
    chain += [files.get(f"edit_turn{i}") for i in range(1, len(prompts))] + [files.get("final_image")]
    turns = [
        {"turn": i, "type": None, "type_name": "", "category": None, "long": text, "short": "",
         "input": resolve(chain[i - 1]), "models": {}, "attempts": [_released("chosen", 1, resolve(chain[i]))]}
        for i, text in enumerate(prompts, start=1)
    ]  # fmt: skip
    return _manifest_row("multi_turn", turns, chain[0] or "")


def _manifest_row(kind: str, turns: list[dict], uri: str) -> dict:
    texts = [t[k] for t in turns for k in ("long", "short")]
    return {
        "status": "passed",
        "reason": "",
        "subsets": [kind],
        "score": None,
        "labels": labels_from_words(texts),
        "source": {"uri": uri, "attribution": "", "license": ""},
        "turns": turns,
    }
