"""The fake OpenAI server's "models": editforge's offline roles behind OpenAI's wire formats.

A chat request is routed by its prompt (the templates in `editforge.models.prompts`), falling back on
how many photos it carries: two → judge, one → writer, none → rewriter. Replies are shaped like the
real ones (`chat.completion` objects, `ImagesResponse` with `b64_json`), including the checks a real
server makes that the provider must pass: a strict json_schema needs additionalProperties false and
every property required; GPT image models reject `response_format`.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import math
import random
import re
import threading
import time
from typing import Any

from editforge import taxonomy
from editforge.images import PhotoError, decode_photo, encode_png
from editforge.models.base import ModelCallError, WriteRequest
from editforge.models.offline.core.intent import parse_instruction
from editforge.models.offline.editor.editor import ClassicalEditor
from editforge.models.offline.judge.judge import MetricJudge
from editforge.models.offline.writer.rewriter import RuleRewriter
from editforge.models.offline.writer.writer import TemplateWriter
from editforge.models.prompting import strip_retry_note
from editforge.records import CRITERIA
from editforge.testing.fake_vision import LABELS_ASKED, labels_line

IMAGE_TOKENS = 255  # what one photo costs in the usage the fake reports
_TYPE_LINE = re.compile(r"^\s+(.+?)\s+\(category: [^)]*\)\s*$", re.M)
_HISTORY_ITEM = re.compile(r"^\s+\d+\.\s(.*)$")
_INSTRUCTION = re.compile(r"^Instruction: (.*)$", re.M)
_EDIT_TYPE = re.compile(r"^Edit type: (.*)$", re.M)


class RequestError(Exception):
    """A request the server answers with a 4xx error."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """multipart/form-data fields: text fields as str, file fields (image, image[], mask) as bytes."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if "multipart/form-data" not in content_type or not found:
        raise RequestError(400, f"expected multipart/form-data with a boundary, got {content_type!r}")
    fields: dict[str, Any] = {}
    for part in body.split(b"--" + found.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, sep, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'[;\s]name="([^"]*)"', head)
        if not sep or not name:
            raise RequestError(400, "malformed multipart part")
        key = name.group(1).decode().removesuffix("[]")
        value = value.removesuffix(b"\r\n")
        if re.search(rb'filename="', head):
            fields.setdefault(key, value)  # a list of images: the first is the one edited
        else:
            fields[key] = value.decode("utf-8")
    return fields


def _prompt(request: dict[str, Any]) -> tuple[str, list[str]]:
    """All text of the request's messages, and its image URLs in order."""
    texts: list[str] = []
    images: list[str] = []
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty array")
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in [content] if isinstance(content, str) else content or []:
            if isinstance(part, str):
                texts.append(part)
            elif part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                images.append(str((part.get("image_url") or {}).get("url", "")))
    return "\n".join(texts), images


def _photo(url: str) -> Any:
    if not url.startswith("data:image/") or ";base64," not in url:
        raise RequestError(400, "the fake server reads images from data: URLs only", "invalid_image_url")
    try:
        return decode_photo(base64.b64decode(url.split(",", 1)[1], validate=True), "image_url")
    except (ValueError, PhotoError) as exc:
        raise RequestError(400, f"Invalid image: {exc}", "invalid_image_format") from None


def _edit_type(name: str) -> taxonomy.EditType:
    try:
        return taxonomy.get(name)
    except KeyError:
        raise RequestError(400, f"unknown edit type {name!r} in the prompt") from None


def _check_schema(response_format: Any) -> None:
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema")
    if not spec.get("name") or not isinstance(schema, dict):
        raise RequestError(400, "response_format.json_schema needs a name and a schema", "invalid_value")
    if spec.get("strict") and (
        schema.get("additionalProperties") is not False
        or set(schema.get("required", [])) != set(schema.get("properties", {}))
    ):
        raise RequestError(
            400,
            "Invalid schema for response_format: in strict mode 'additionalProperties' must be false and "
            "every property required",
            "invalid_value",
        )


class OfflineModels:
    def __init__(self, editor_miss_rate: float = 0.0, judge_jitter: float = 0.0) -> None:
        self.judge_jitter = judge_jitter  # > 0: the judge samples, like a VLM: each seed moves the scores
        self.writer = TemplateWriter()
        self.rewriter = RuleRewriter()
        self.judge = MetricJudge()
        self.editor = ClassicalEditor(miss_rate=editor_miss_rate)
        self._lock = threading.Lock()  # the offline models were not written for threads
        self._edits: collections.Counter[str] = collections.Counter()

    @staticmethod
    def chat_route(request: dict[str, Any]) -> str:
        text, images = _prompt(request)
        if "strict judge of image edits" in text:
            return "judge"
        if "Rewrite a detailed image-editing instruction" in text:
            return "rewriter"
        if "edit instruction of this type" in text:
            return "writer"
        return {0: "rewriter", 1: "writer", 2: "judge"}.get(len(images), "judge")

    # ---------------------------------------------------------------- chat

    def chat(self, route: str, request: dict[str, Any], fault: str | None) -> dict[str, Any]:
        text, images = _prompt(request)
        _check_schema(request.get("response_format"))
        seed = int(request.get("seed") or 0)
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        if fault == "refusal":
            message["refusal"] = "I'm sorry, but I can't help with editing this image."
        elif fault == "content_filter":
            finish = "content_filter"
        elif fault != "empty_choices":
            with self._lock:
                if route == "writer":
                    message["content"] = self._write(text, images, seed)
                elif route == "rewriter":
                    message["content"] = self._rewrite(text, seed)
                else:
                    message["content"] = self._judge(text, images, fault, seed)
        choices = [] if fault == "empty_choices" else [
            {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
        ]  # fmt: skip
        prompt_tokens = math.ceil(len(text) / 4) + IMAGE_TOKENS * len(images)
        completion_tokens = math.ceil(len(message["content"] or message["refusal"] or "") / 4)
        return {
            "id": f"chatcmpl-fake{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.get("model")),
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_editforge_fake",
            "service_tier": "default",
        }

    def _write(self, text: str, images: list[str], seed: int) -> str:
        found = _TYPE_LINE.search(text)
        if not found or not images:
            raise RequestError(400, "writer prompt without an edit type or a photo")
        edit_type = _edit_type(found.group(1))
        history: list[str] = []
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if "earlier instructions, oldest first" in line:
                for item in lines[i + 1 :]:
                    match = _HISTORY_ITEM.match(item)
                    if not match:
                        break
                    history.append(match.group(1).strip())
        request = WriteRequest(image=_photo(images[0]), edit_type=edit_type, seed=seed, history=history)
        labels = f"\n{labels_line(request.image)}" if LABELS_ASKED in text else ""
        try:
            return self.writer.write(request).text + labels
        except ModelCallError:  # a type the template writer lacks: a VLM would still write something
            return f"Apply a {edit_type.release_name.lower()} edit to this photo, leaving the rest unchanged.{labels}"

    def _rewrite(self, text: str, seed: int) -> str:
        if "Detailed:" not in text:
            raise RequestError(400, "rewriter prompt without a detailed instruction")
        long = text.rsplit("Detailed:", 1)[1].split("\nShort:")[0].strip()
        intent = parse_instruction(long)
        edit_type = taxonomy.get(intent.edit_type) if intent else taxonomy.all_types()[0]
        return self.rewriter.rewrite(long, edit_type, seed).text

    def _judge(self, text: str, images: list[str], fault: str | None, seed: int = 0) -> str:
        if fault == "malformed_json":
            return '{"instruction_compliance": 0.9, "seamlessness": 0.8, "preserv'
        if fault in ("out_of_range", "nan"):
            bad = 1.7 if fault == "out_of_range" else float("nan")
            return json.dumps({**dict.fromkeys(CRITERIA, 0.8), "instruction_compliance": bad, "rationale": "ok"})
        instruction, kind = _INSTRUCTION.search(text), _EDIT_TYPE.search(text)
        if len(images) != 2 or not instruction or not kind:
            raise RequestError(400, "judge prompt needs the edited and source photos, instruction and type")
        edited, source = _photo(images[0]), _photo(images[1])
        reply = self.judge.judge(source, edited, instruction.group(1), _edit_type(kind.group(1)))
        if reply.scores is None:  # it's a fake: mid scores, and a rationale that says why
            scores = dict.fromkeys(CRITERIA, 0.5)
            rationale = f"fake judge: the metric judge abstains ({reply.rationale}); mid scores given"
        else:
            scores, rationale = reply.scores.model_dump(), reply.rationale
        if self.judge_jitter:
            rng = random.Random(f"{seed}:{text}")  # the same request always samples the same scores
            jitter = self.judge_jitter
            scores = {k: min(1.0, max(0.0, v + rng.uniform(-jitter, jitter))) for k, v in scores.items()}
        return json.dumps({**{k: round(v, 4) for k, v in scores.items()}, "rationale": rationale})

    # ---------------------------------------------------------------- images

    def edit(self, request: dict[str, Any], fault: str | None) -> dict[str, Any]:
        model, prompt, blob = str(request.get("model", "")), request.get("prompt"), request.get("image")
        if not isinstance(blob, bytes) or not isinstance(prompt, str) or not prompt:
            raise RequestError(400, "an image file and a prompt are required")
        if "response_format" in request and model.startswith(("gpt-image", "chatgpt-image")):
            raise RequestError(400, "Unknown parameter: 'response_format'.", "unknown_parameter")
        if request.get("response_format", "b64_json") != "b64_json":
            raise RequestError(400, "the fake server answers b64_json only")
        try:
            image = decode_photo(blob, "image")
        except PhotoError as exc:
            raise RequestError(400, f"Invalid input image: {exc}", "invalid_image_file") from None
        digest = hashlib.sha256(prompt.encode() + b"\0" + blob).hexdigest()
        with self._lock:
            self._edits[digest] += 1  # asking again draws again, as a generative editor does
            seed = int(digest[:8], 16) + self._edits[digest]
            try:
                # A classical editor parses the instruction alone, not a retry's note about the last attempt.
                out = self.editor.edit(image, strip_retry_note(prompt), seed).image
            except ModelCallError as exc:
                raise RequestError(
                    400, f"Your request could not be completed: {exc.reason}", "image_edit_failed"
                ) from None
        b64 = base64.b64encode(encode_png(out)).decode("ascii")
        if fault == "truncated_b64":
            b64 = b64[: len(b64) // 2 + 1]
        input_tokens = math.ceil(len(prompt) / 4) + IMAGE_TOKENS
        return {
            "created": int(time.time()),
            "data": [] if fault == "no_image_data" else [{"b64_json": b64}],
            "background": "opaque",
            "output_format": "png",
            "quality": "medium",
            "size": f"{out.shape[1]}x{out.shape[0]}",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"image_tokens": IMAGE_TOKENS, "text_tokens": input_tokens - IMAGE_TOKENS},
                "output_tokens": 1056,
                "total_tokens": input_tokens + 1056,
            },
        }
