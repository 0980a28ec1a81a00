"""The "models" behind the fake Gemini server: editforge's offline roles, read from real requests.

A request is a Gemini `generateContent` body (camelCase JSON). Which role it is for is read from the
request itself — an editor asks for IMAGE output; writer, rewriter and judge prompts are editforge's
own templates — so any model name can play any role, as with the real API.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from editforge import taxonomy
from editforge.images import PhotoError, decode_photo, encode_png
from editforge.models.base import ModelCallError, WriteRequest
from editforge.testing.fake_vision import LABELS_ASKED, labels_line

IMAGE_INPUT_TOKENS = 258  # what Gemini counts for one image up to 384 px
IMAGE_OUTPUT_TOKENS = 1290  # what gemini-2.5-flash-image counts for one generated image


class BadRequest(ValueError):
    """A request the fake cannot serve: answered 400 INVALID_ARGUMENT, as the real API would."""


@dataclass
class Request:
    role: str
    prompt: str
    images: list[np.ndarray]
    seed: int
    modalities: list[str]
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answer:
    """What the model produced: text, and for the editor the PNG bytes of the edited image."""

    text: str = ""
    png: bytes | None = None
    finish_reason: str = "STOP"


def _b64decode(data: str) -> bytes:
    # The SDK sends url-safe base64 (`_common.encode_unserializable_types`); other clients send standard.
    try:
        return base64.b64decode(data.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"Invalid value at 'contents.parts.inline_data.data': not base64 ({exc})") from None


def read_request(body: dict[str, Any]) -> Request:
    if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
    texts: list[str] = []
    images: list[np.ndarray] = []
    for content in body["contents"]:
        for part in (content or {}).get("parts") or []:
            if "text" in part:
                texts.append(str(part["text"]))
            blob = part.get("inlineData") or part.get("inline_data")
            if blob is not None:
                try:
                    images.append(decode_photo(_b64decode(str(blob.get("data", ""))), "inline image"))
                except PhotoError:
                    raise BadRequest("Unable to process input image. Please retry or report it.") from None
    config = body.get("generationConfig") or body.get("generation_config") or {}
    modalities = [str(m).upper() for m in config.get("responseModalities") or []]
    prompt = "\n".join(texts)
    if "IMAGE" in modalities:
        role = "editor"
    elif "Score each criterion" in prompt and "Instruction:" in prompt:
        role = "judge"
    elif "(category:" in prompt:
        role = "writer"
    elif re.search(r"Detailed: .*\nShort:\s*$", prompt, re.S):
        role = "rewriter"
    else:
        raise BadRequest("fake gemini: cannot tell which editforge role this request is for")
    needs = {"editor": 1, "writer": 1, "judge": 2, "rewriter": 0}[role]
    if len(images) < needs:
        raise BadRequest(f"fake gemini: a {role} request needs {needs} image(s), got {len(images)}")
    seed = int(config.get("seed") or 0)
    return Request(role, prompt, images, seed, modalities, config)


def usage_metadata(request: Request, answer: Answer) -> dict[str, int]:
    prompt = len(request.prompt) // 4 + IMAGE_INPUT_TOKENS * len(request.images)
    output = len(answer.text) // 4 + (IMAGE_OUTPUT_TOKENS if answer.png else 0)
    return {"promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output}


# --- the roles --------------------------------------------------------------------------------------


def _write(request: Request) -> Answer:
    from editforge.models.offline.writer.writer import TemplateWriter

    found = re.search(r"^\s+(\S.*?)\s+\(category: [^)]*\)\s*$", request.prompt, re.M)
    if not found:
        raise BadRequest("fake gemini: writer prompt names no edit type")
    edit_type = taxonomy.get(found.group(1))
    history: list[str] = []
    if "oldest first:" in request.prompt:
        section = request.prompt.split("oldest first:", 1)[1].split("Write the next instruction", 1)[0]
        history = re.findall(r"^\s+\d+\. (.+?)\s*$", section, re.M)
    write = WriteRequest(image=request.images[0], edit_type=edit_type, seed=request.seed, history=history)
    labels = f"\n{labels_line(request.images[0])}" if LABELS_ASKED in request.prompt else ""
    try:
        return Answer(TemplateWriter().write(write).text + labels)
    except ModelCallError as exc:
        if "no person" in exc.reason or "no text" in exc.reason:
            return Answer(f"I'm sorry, I can't write that edit for this photo: {exc.reason}.")
        # A type the offline writer does not do: a plain ask, which the classical editor will not manage.
        return Answer(f"Apply this edit to the photo: {edit_type.release_name}.{labels}")


def _rewrite(request: Request) -> Answer:
    from editforge.models.offline.core.intent import parse_instruction
    from editforge.models.offline.writer.rewriter import RuleRewriter

    long = re.findall(r"Detailed: (.*?)\nShort:", request.prompt, re.S)[-1].strip()
    intent = parse_instruction(long)
    edit_type = taxonomy.get(intent.edit_type) if intent else taxonomy.all_types()[0]
    return Answer(RuleRewriter().rewrite(long, edit_type, request.seed).text)


def _edit(request: Request, miss_rate: float) -> Answer:
    from editforge.models.offline.editor.editor import ClassicalEditor
    from editforge.models.prompting import strip_retry_note

    instruction = strip_retry_note(request.prompt)  # a classical editor parses the instruction alone
    try:
        reply = ClassicalEditor(miss_rate=miss_rate).edit(request.images[0], instruction, request.seed)
    except ModelCallError as exc:
        return Answer(f"I can't make that edit to this image. ({exc.reason})")
    caption = "Here is the edited image." if "TEXT" in request.modalities else ""
    return Answer(caption, png=encode_png(reply.image))


def _judge(request: Request) -> Answer:
    from editforge.models.offline.judge.judge import MetricJudge

    found = re.search(r"^Instruction: (.*?)\nEdit type: (.*?)$", request.prompt, re.S | re.M)
    if not found:
        raise BadRequest("fake gemini: judge prompt names no instruction")
    edit_type = taxonomy.get(found.group(2))
    edited, source = request.images[0], request.images[1]  # the prompt says: EDITED first
    reply = MetricJudge().judge(source, edited, found.group(1).strip(), edit_type)
    if reply.scores is None:
        scores = dict.fromkeys(("instruction_compliance", "seamlessness", "preservation",
                                "technical_quality"), 0.5)  # fmt: skip
        rationale = f"fake judge: the metric judge abstains here ({reply.abstain_reason}); mid scores"
    else:
        scores, rationale = reply.scores.model_dump(), reply.rationale
    return Answer(json.dumps({**scores, "rationale": rationale}))


def answer(request: Request, editor_miss_rate: float = 0.0) -> Answer:
    if request.role == "writer":
        return _write(request)
    if request.role == "rewriter":
        return _rewrite(request)
    if request.role == "editor":
        return _edit(request, editor_miss_rate)
    return _judge(request)
