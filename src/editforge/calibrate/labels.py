"""Reading a labels file: one JSON object per line, every bad row named by its line and skipped.

    {"source": "a.jpg", "edited": "a-warm.png", "instruction": "make it warmer",
     "edit_type": "color_tone", "label": "pass", "scores": {...}, "rater": "ann"}

Paths are relative to the labels file (or to `root`). `edit_type` is a key or the release's string;
`scores` (the four criteria, 0–1) and `rater` are optional.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from editforge import taxonomy
from editforge.records import Scores


class LabelRow(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a labelling tool may add its own fields (notes, ids)

    source: Path
    edited: Path
    instruction: str
    edit_type: str
    label: Literal["pass", "fail"]
    scores: Scores | None = None
    rater: str | None = None
    note: str | None = None
    line: int = 0

    @field_validator("edit_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        try:
            return taxonomy.get(value).key
        except KeyError as exc:
            raise ValueError(f"unknown edit type {value!r} (see `editforge taxonomy`)") from exc

    @field_validator("instruction")
    @classmethod
    def _said_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty instruction")
        return value

    @property
    def item(self) -> tuple[str, str, str]:
        """What was judged: two raters labelling the same item share this."""
        return (str(self.source), str(self.edited), self.instruction.strip())


def read_labels(path: Path, root: Path | None = None) -> tuple[list[LabelRow], list[str]]:
    """The usable rows, and one line per unusable row saying where and why."""
    base = root or path.parent
    rows: list[LabelRow] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON ({exc.msg})")
                continue
            if not isinstance(data, dict):
                problems.append(f"{where}: expected a JSON object, got {type(data).__name__}")
                continue
            try:
                row = LabelRow.model_validate({**data, "line": number})
            except ValidationError as exc:
                fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(row)'}: {e['msg']}" for e in exc.errors())
                problems.append(f"{where}: {fields}")
                continue
            row.source, row.edited = _resolve(base, row.source), _resolve(base, row.edited)
            missing = [name for name in ("source", "edited") if not getattr(row, name).is_file()]
            if missing:
                problems.append(f"{where}: " + ", ".join(f"{m} {getattr(row, m)} not found" for m in missing))
                continue
            rows.append(row)
    return rows, problems


def _resolve(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else base / path
