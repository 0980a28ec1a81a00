"""Prompts and reply parsing for model-backed roles, apart from any model client (distilabel's split).

A hosted or local provider renders a prompt here, sends it with its own client, and hands the text it
got back to a `parse_*` function. Parsers either return a valid value or raise `ReplyError` with the
raw reply attached; they repair only what is unambiguous (code fences, prose around a JSON object)
and never guess a score. Templates are versioned files beside this module (`prompts/*.v1.j2`); the
version goes into every record made with them, because scores drift with the prompt.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from editforge.models.base import ModelCallError
from editforge.records import CRITERIA, Scores
from editforge.taxonomy import CONTENT_LABELS, EditType

# writer.v2 asks, in the same call, for content labels describing the photo (a last "Labels:" line).
PROMPT_VERSION = {"writer": "writer.v2", "rewriter": "rewriter.v1", "judge": "judge.v1"}

# A few human-style rewrites, the way Pico-Banana guided its rewriter with human-written examples.
REWRITE_EXAMPLES: list[tuple[str, str]] = [
    (
        "Shift the overall colour balance of the photo toward warm amber tones, as if lit by late "
        "afternoon sun, while keeping the white mug and the wooden table true to their shapes.",
        "make it warmer",
    ),
    (
        'Add the words "OPEN DAILY" in bold white capital letters centred across the top of the shop '
        "window, with a thin dark outline so they read clearly against the glass.",
        'write "OPEN DAILY" in white at the top',
    ),
    (
        "Replace the red umbrella held by the woman on the left with a bright yellow one of the same "
        "size, keeping her hand, pose and the rainy street unchanged.",
        "swap her red umbrella for a yellow one",
    ),
    (
        "Zoom in on the cat's face so that it fills most of the frame, cropping away the sofa and the "
        "window behind it, and keep the fur sharp.",
        "zoom in on the cat's face",
    ),
]

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{name: {"type": "number", "minimum": 0, "maximum": 1} for name in CRITERIA},
        "rationale": {"type": "string"},
    },
    "required": [*CRITERIA, "rationale"],
}

_REFUSAL = re.compile(
    r"^\s*(i'?m sorry|i am sorry|i can(?:no|')t|i cannot|i won'?t|i am unable|i'?m unable|as an ai)\b", re.I
)


class ReplyError(ModelCallError):
    """A reply that is not what the prompt asked for. `raw` holds it for the ledger."""


@cache
def _env() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files("editforge.models").joinpath(f"prompts/{name}").read_text("utf-8")
    )
    # Prompts are plain text, not HTML; StrictUndefined makes a missing variable an error, not a blank.
    return jinja2.Environment(
        loader=loader, autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )


def render_template(name: str, **values: Any) -> str:
    """The template `prompts/{name}.j2` (name includes its version, e.g. "editscore_sc.v1")."""
    return _env().get_template(f"{name}.j2").render(**values).strip()


def render(role: str, **values: Any) -> str:
    return render_template(PROMPT_VERSION[role], **values)


# What an editor is told on attempt 2 or 3: the instruction as written, then why the judge rejected the
# previous attempt. The recorded instruction (and so the dataset's) stays the instruction alone.
RETRY_NOTE = "An earlier attempt at this edit was rejected by a reviewer, who said:"


def editor_retry_prompt(instruction: str, rationale: str) -> str:
    reason = " ".join(rationale.split())[:600]
    return f"{instruction}\n\n{RETRY_NOTE} {reason}\nDo the edit again, fixing that."


def strip_retry_note(prompt: str) -> str:
    """The instruction part of an editor prompt (for stand-in editors that parse instructions)."""
    return prompt.split(RETRY_NOTE, 1)[0].strip()


def writer_prompt(edit_type: EditType, history: list[str] | None = None) -> str:
    return render(
        "writer",
        release_name=edit_type.release_name,
        category=edit_type.category,
        needs=edit_type.needs,
        history=list(history or []),
        labels=list(CONTENT_LABELS),
    )


_LABELS_LINE = re.compile(r"^\s*\**labels?\**\s*:\s*(.*)$", re.I | re.M)


def parse_writer_reply(raw: str, max_words: int = 150) -> tuple[str, list[str] | None]:
    """The instruction and the photo's content labels (None when the reply has no Labels line: not known,
    never guessed). Words outside the label list are dropped; `none` is an empty list."""
    lines = list(_LABELS_LINE.finditer(raw or ""))
    if not lines:
        return parse_instruction_reply(raw, max_words), None
    last = lines[-1]
    said = [w.strip(" .*`'\"").lower().replace(" ", "_") for w in last.group(1).split(",")]
    labels = sorted({w for w in said if w in CONTENT_LABELS})
    text = (raw[: last.start()] + raw[last.end() :]).strip()
    return parse_instruction_reply(text, max_words), labels


def rewriter_prompt(long_instruction: str) -> str:
    return render("rewriter", instruction=long_instruction, examples=REWRITE_EXAMPLES)


def judge_prompt(instruction: str, edit_type: EditType) -> str:
    return render("judge", instruction=instruction, release_name=edit_type.release_name)


def _clean_text(raw: str) -> str:
    text = raw.strip()
    text = re.sub(r"^```[a-z]*\s*|\s*```$", "", text).strip()
    text = re.sub(r"^(instruction|short|short instruction|answer)\s*:\s*", "", text, flags=re.I).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return text


def parse_instruction_reply(raw: str, max_words: int = 150) -> str:
    """The writer's or rewriter's text: one instruction, or ReplyError (empty, a refusal, an essay)."""
    text = _clean_text(raw or "")
    if not text:
        raise ReplyError("empty reply where an instruction was due", raw or "")
    if _REFUSAL.match(text):
        raise ReplyError(f"model refused: {text[:200]}", raw)
    if len(text.split()) > max_words:
        raise ReplyError(f"reply of {len(text.split())} words is not one instruction", raw)
    return text


def json_object(raw: str) -> dict[str, Any]:
    """The one JSON object in a judge's reply (code fences and prose around it repaired), or ReplyError."""
    text = re.sub(r"^```[a-z]*\s*|\s*```$", "", raw.strip()).strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        # Repair: prose around a single JSON object ("Here is my verdict: {...}").
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ReplyError("judge reply is not JSON", raw) from None
        try:
            value = json.loads(text[start : end + 1])
        except json.JSONDecodeError as exc:
            raise ReplyError(f"judge reply is not valid JSON ({exc.msg})", raw) from None
    if not isinstance(value, dict):
        raise ReplyError("judge reply is JSON but not an object", raw)
    return value


def parse_judge_reply(raw: str) -> tuple[Scores, str]:
    """Four criterion scores in [0, 1] and a rationale, or ReplyError naming what is wrong."""
    if _REFUSAL.match(raw or ""):
        raise ReplyError(f"judge refused: {raw.strip()[:200]}", raw)
    value = json_object(raw or "")
    missing = [name for name in (*CRITERIA, "rationale") if name not in value]
    if missing:
        raise ReplyError(f"judge reply lacks {', '.join(missing)}", raw)
    scores: dict[str, float] = {}
    for name in CRITERIA:
        score = value[name]
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise ReplyError(f"judge score {name}={score!r} is not a number", raw)
        if math.isnan(score) or not 0.0 <= float(score) <= 1.0:
            raise ReplyError(f"judge score {name}={score!r} is outside [0, 1]", raw)
        scores[name] = float(score)
    rationale = value["rationale"]
    if not isinstance(rationale, str):
        raise ReplyError("judge rationale is not text", raw)
    return Scores(**scores), rationale.strip()
