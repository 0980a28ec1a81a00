"""The OpenAI-compatible provider: OpenAI itself, and local servers speaking its API (vLLM, SGLang,
Ollama, LM Studio) serving e.g. Qwen2.5-VL. All four roles, through the official `openai` SDK.

Default models (as of the installed SDK, late 2026: `gpt-image-1` was shut down on 2026-10-23 and the
gpt-4.1 / gpt-4o family shuts down on 2027-01-14, so neither is a default):

    writer    gpt-6.1-terra           vision; OpenAI's fast, efficient visual-reasoning model
    rewriter  gpt-6-luna              text only; the high-volume, low-cost model
    judge     gpt-6.2-sol             vision; a stronger model, because its scores decide the dataset
    editor    gpt-image-2.5-sunburst  OpenAI's editing-precision image model (Flare is the fast one)

Options, per role (all optional; a role ignores those that are not its own, a misspelt one is an error):
    base_url           server root including /v1 (else $OPENAI_BASE_URL, else api.openai.com/v1)
    api_key_env        the NAME of the environment variable holding the key (default OPENAI_API_KEY);
                       keys come from the environment only, never from a config file
    no_key             true: send a dummy key (a local server started without --api-key)
    timeout_s          per-request timeout in seconds (default 120)
    temperature        unset (default): the server's default, recorded as None. OpenAI's reasoning
                       models (gpt-5 and later) take one only with reasoning_effort "none".
    reasoning_effort   passed through to chat completions (none, low, medium, high, ...)
    max_completion_tokens  passed through
    send_seed          true (default): send the call's seed (the judge sends 0, then 1 when it asks
                       again); false for servers that reject `seed`
    structured_output  judge: true (default) asks for `response_format` json_schema; false, for
                       servers without it, relies on the prompt's JSON instruction and the parser
    size, quality      editor: passed to images.edit

The SDK client runs with max_retries=0: the engine retries (honouring Retry-After), this module only
classifies failures (see `openai_errors`). The key never enters a ModelRef, a raw reply, a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from editforge import taxonomy
from editforge.images import PhotoError, decode_photo, encode_png
from editforge.models import prompting
from editforge.models.base import (
    EditReply,
    JudgeReply,
    ModelCallError,
    Role,
    TextReply,
    TransientModelError,
    WriteRequest,
    request_timeout_s,
)
from editforge.models.openai_errors import mapped_errors, scrub
from editforge.models.registry import ProviderError
from editforge.records import ModelRef, Usage
from editforge.taxonomy import EditType

DEFAULT_MODELS: dict[str, str] = {
    "writer": "gpt-6.1-terra",
    "rewriter": "gpt-6-luna",
    "judge": "gpt-6.2-sol",
    "editor": "gpt-image-2.5-sunburst",
}
EDITOR_PROMPT_VERSION = "editor.v2"  # the instruction verbatim; a retry adds the judge's reason
DEFAULT_TIMEOUT_S = 120.0
NO_KEY = "EMPTY"  # what vLLM's docs send when the server has no key
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# One set for every role, so a block of options shared by the roles (a YAML anchor) is fine: each role
# uses what applies to it (structured_output: the judge; size, quality: the editor). Typos are errors.
KNOWN_OPTIONS = {
    "base_url", "api_key_env", "no_key", "timeout_s", "temperature", "reasoning_effort",
    "max_completion_tokens", "send_seed", "structured_output", "size", "quality",
}  # fmt: skip
# Structured Outputs in strict mode wants every property required and no extra ones.
JUDGE_RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "edit_verdict",
        "strict": True,
        "schema": {**prompting.JUDGE_SCHEMA, "additionalProperties": False},
    },
}


@dataclass(frozen=True)
class Options:
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    no_key: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    temperature: float | None = None
    reasoning_effort: str | None = None
    max_completion_tokens: int | None = None
    send_seed: bool = True
    structured_output: bool = True
    size: str | None = None
    quality: str | None = None

    @classmethod
    def parse(cls, role: str, options: dict[str, Any]) -> Options:
        if "api_key" in options:
            raise ProviderError(
                f"openai {role}: keys come from the environment only; set `api_key_env` to the NAME "
                "of the variable that holds it"
            )
        unknown = sorted(set(options) - KNOWN_OPTIONS)
        if unknown:
            raise ProviderError(
                f"openai {role}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_OPTIONS))}"
            )
        env = options.get("api_key_env", "OPENAI_API_KEY")
        if not isinstance(env, str) or not _ENV_NAME.match(env):
            # Never echo it: a key pasted here by mistake must not reach a log.
            raise ProviderError(f"openai {role}: api_key_env must name an environment variable, e.g. OPENAI_API_KEY")
        try:
            timeout_s = float(options.get("timeout_s", DEFAULT_TIMEOUT_S))
            temperature = options.get("temperature")
            temperature = None if temperature is None else float(temperature)
            max_tokens = options.get("max_completion_tokens")
            max_tokens = None if max_tokens is None else int(max_tokens)
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"openai {role}: bad option value ({exc})") from None
        if not timeout_s > 0:
            raise ProviderError(f"openai {role}: timeout_s must be positive, got {timeout_s}")
        return cls(
            base_url=options.get("base_url") or os.environ.get("OPENAI_BASE_URL") or None,
            api_key_env=env,
            no_key=bool(options.get("no_key", False)),
            timeout_s=timeout_s,
            temperature=temperature,
            reasoning_effort=options.get("reasoning_effort"),
            max_completion_tokens=max_tokens,
            send_seed=bool(options.get("send_seed", True)),
            structured_output=bool(options.get("structured_output", True)),
            size=options.get("size"),
            quality=options.get("quality"),
        )


def build(role: Role, model: str | None, options: dict[str, Any]) -> Any:
    classes: dict[str, type[_OpenAIRole]] = {
        "writer": OpenAIWriter,
        "rewriter": OpenAIRewriter,
        "editor": OpenAIEditor,
        "judge": OpenAIJudge,
    }
    if role not in classes:
        raise ProviderError(f"openai provider has no role {role!r}; roles: {', '.join(classes)}")
    try:
        import openai  # noqa: F401
    except ImportError:
        raise ProviderError("the openai provider needs its SDK: pip install 'editforge[openai]'") from None
    return classes[role](model or DEFAULT_MODELS[role], Options.parse(role, dict(options)))


def _image_part(image: np.ndarray) -> dict[str, Any]:
    data = base64.b64encode(encode_png(image)).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _plus(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        images=a.images + b.images,
    )


def _parsed(parse: Any, text: str, usage: Usage) -> Any:
    """`parse(text)`; a reply that does not parse was billed all the same, so its error carries `usage`."""
    try:
        return parse(text)
    except prompting.ReplyError as exc:
        exc.usage = usage
        raise


class _OpenAIRole:
    """What every role shares: the ref, the lazily made SDK client, the error mapping."""

    role: ClassVar[Role]
    execution = "io"

    def __init__(self, model: str, options: Options) -> None:
        self.model = model
        self.options = options
        version = EDITOR_PROMPT_VERSION if self.role == "editor" else prompting.PROMPT_VERSION[self.role]
        self.ref = ModelRef(provider="openai", model=model, prompt_version=version, temperature=options.temperature)
        self.supported_types: frozenset[str] = frozenset(taxonomy.keys())
        self._client: Any = None
        self._lock = threading.Lock()
        self._api_key()  # fail at build time, not on the first call

    def __getstate__(self) -> dict[str, Any]:
        # The SDK client (sockets, locks) never travels; it is rebuilt from the environment on arrival.
        state = dict(self.__dict__)
        state["_client"], state["_lock"] = None, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _api_key(self) -> str:
        if self.options.no_key:
            return NO_KEY
        key = os.environ.get(self.options.api_key_env, "").strip()
        if not key:
            raise ProviderError(
                f"openai {self.role} ({self.model}): no API key: set the environment variable "
                f"{self.options.api_key_env} (or option no_key: true for a local server without one)"
            )
        return key

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from openai import OpenAI

                self._client = OpenAI(
                    api_key=self._api_key(),
                    base_url=self.options.base_url,
                    timeout=self.options.timeout_s,
                    max_retries=0,
                )
            return self._client

    def _timeout(self) -> float:
        """Per request: the engine's deadline when sooner than ours, so an abandoned call really ends."""
        return request_timeout_s(self.options.timeout_s)

    def _secret(self) -> str | None:
        return None if self.options.no_key else os.environ.get(self.options.api_key_env)

    def _errors(self) -> Any:
        return mapped_errors(self.ref.label(), self.options, self._secret())


class _ChatRole(_OpenAIRole):
    def _chat(
        self, content: str | list[dict[str, Any]], seed: int | None, response_format: dict | None = None
    ) -> tuple[str, Usage]:
        """One user message in, the reply's text and usage out; refusals and empty replies raise."""
        opts = self.options
        kwargs: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": content}]}
        for name in ("temperature", "reasoning_effort", "max_completion_tokens"):
            if getattr(opts, name) is not None:
                kwargs[name] = getattr(opts, name)
        if seed is not None and opts.send_seed:
            kwargs["seed"] = int(seed)
        if response_format is not None:
            kwargs["response_format"] = response_format
        with self._errors():
            completion = self.client.chat.completions.create(**kwargs, timeout=self._timeout())
        return self._reply_text(completion)

    def _reply_text(self, completion: Any) -> tuple[str, Usage]:
        secret = self._secret()
        raw_usage = getattr(completion, "usage", None)
        usage = Usage(
            input_tokens=int(getattr(raw_usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(raw_usage, "completion_tokens", 0) or 0),
        )
        choices = getattr(completion, "choices", None) or []
        # Every failure below was answered, so billed: it carries its usage for the ledger and budget.
        if not choices:
            raise ModelCallError(f"{self.ref.label()}: empty reply (no choices)", usage=usage)
        choice = choices[0]
        message = getattr(choice, "message", None)
        text = scrub(getattr(message, "content", None) or "", secret)
        refusal = getattr(message, "refusal", None)
        if refusal:
            raise ModelCallError(f"refused: {scrub(refusal, secret)[:300]}", raw=scrub(refusal, secret), usage=usage)
        finish = getattr(choice, "finish_reason", None)
        if finish == "content_filter":
            raise ModelCallError("refused: the server's content filter stopped the reply", raw=text, usage=usage)
        if not text.strip():
            why = "cut off at the token limit" if finish == "length" else "no text"
            raise ModelCallError(f"{self.ref.label()}: empty reply ({why})", raw=text, usage=usage)
        return text, usage


class OpenAIWriter(_ChatRole):
    role = "writer"

    def write(self, request: WriteRequest) -> TextReply:
        prompt = prompting.writer_prompt(request.edit_type, request.history)
        text, usage = self._chat([_image_part(request.image), _text_part(prompt)], seed=request.seed)
        instruction, labels = _parsed(prompting.parse_writer_reply, text, usage)
        return TextReply(text=instruction, raw=text, usage=usage, labels=labels)


class OpenAIRewriter(_ChatRole):
    role = "rewriter"

    def rewrite(self, long_instruction: str, edit_type: EditType, seed: int) -> TextReply:
        text, usage = self._chat(prompting.rewriter_prompt(long_instruction), seed=seed)
        return TextReply(text=_parsed(prompting.parse_instruction_reply, text, usage), raw=text, usage=usage)


class OpenAIJudge(_ChatRole):
    role = "judge"

    def judge(
        self, source: np.ndarray, edited: np.ndarray, instruction: str, edit_type: EditType, sample: int = 0
    ) -> JudgeReply:
        """`sample` > 0 asks for another sample of the same judgment (multi-pass judging): seeds 2k, 2k+1."""
        content = [
            _image_part(edited),
            _image_part(source),
            _text_part(prompting.judge_prompt(instruction, edit_type)),
        ]
        response_format = JUDGE_RESPONSE_FORMAT if self.options.structured_output else None
        usage = Usage()
        for attempt in (0, 1):
            try:
                text, used = self._chat(content, seed=2 * sample + attempt, response_format=response_format)
            except (ModelCallError, TransientModelError) as exc:  # on the second ask: the first was billed
                exc.usage = _plus(usage, exc.usage)
                raise
            usage = _plus(usage, used)
            try:
                scores, rationale = prompting.parse_judge_reply(text)
            except prompting.ReplyError as exc:
                if attempt == 0:
                    continue  # ask once more (with another seed); never guess a score
                raise prompting.ReplyError(f"{exc.reason} (asked twice)", exc.raw, usage) from None
            return JudgeReply(scores=scores, rationale=rationale, raw=text, usage=usage)
        raise AssertionError("unreachable")


class OpenAIEditor(_OpenAIRole):
    role = "editor"
    takes_feedback = True  # a retry's prompt carries the judge's reason (prompting.editor_retry_prompt)

    def edit(self, image: np.ndarray, instruction: str, seed: int) -> EditReply:
        # images.edit has no seed parameter: `seed` only labels the attempt on our side.
        kwargs: dict[str, Any] = {
            "model": self.model,
            "image": ("photo.png", encode_png(image), "image/png"),
            "prompt": instruction,
        }
        if not self.model.startswith(("gpt-image", "chatgpt-image")):
            kwargs["response_format"] = "b64_json"  # GPT image models always answer base64 and reject it
        if self.options.size:
            kwargs["size"] = self.options.size
        if self.options.quality:
            kwargs["quality"] = self.options.quality
        with self._errors():
            response = self.client.images.edit(**kwargs, timeout=self._timeout())
        data = list(getattr(response, "data", None) or [])
        raw = self._raw(response, data)
        used = getattr(response, "usage", None)
        # An answered request is billed whatever came back: failures below carry this usage.
        usage = Usage(
            input_tokens=int(getattr(used, "input_tokens", 0) or 0),
            output_tokens=int(getattr(used, "output_tokens", 0) or 0),
            images=len(data),
        )
        b64 = getattr(data[0], "b64_json", None) if data else None
        if not b64:
            has_url = bool(data and getattr(data[0], "url", None))
            why = "a URL instead of image data" if has_url else "no image data"
            raise ModelCallError(f"{self.ref.label()}: editor returned {why}", raw=raw, usage=usage)
        try:
            blob = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ModelCallError(
                f"{self.ref.label()}: editor returned malformed base64", raw=raw, usage=usage
            ) from None
        try:
            out = decode_photo(blob, name=f"{self.ref.label()} output")
        except PhotoError as exc:
            raise ModelCallError(f"editor returned an unreadable image: {exc}", raw=raw, usage=usage) from None
        return EditReply(image=out, raw=raw, usage=usage)

    def _raw(self, response: Any, data: list[Any]) -> str:
        """What the editor said besides the pixels: sizes, revised prompt, usage (never the base64)."""
        try:
            summary = response.to_dict() if hasattr(response, "to_dict") else {}
        except Exception:  # a malformed reply must still be recordable
            summary = {}
        summary["data"] = [
            {
                "b64_chars": len(getattr(d, "b64_json", None) or ""),
                "url": getattr(d, "url", None),
                "revised_prompt": getattr(d, "revised_prompt", None),
            }
            for d in data
        ]
        return scrub(json.dumps(summary, default=str, ensure_ascii=False), self._secret())
