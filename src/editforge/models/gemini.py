"""The Gemini provider: Pico-Banana-400K's own models, through the official google-genai SDK.

writer and rewriter `gemini-2.5-flash`, editor `gemini-2.5-flash-image` ("Nano-Banana"), judge
`gemini-2.5-pro`. Prompts and reply parsing come from `prompting`; this module only sends and
receives. Calls are synchronous (the engine runs "io" roles in threads, under its rate limits) and the
SDK's own retries are off: the engine retries TransientModelError, honouring `retry_after`.

The key comes from the environment only (GEMINI_API_KEY or GOOGLE_API_KEY; GOOGLE_API_KEY wins when
both are set, as in the SDK) and never reaches a ModelRef, a raw reply, an exception or a log line.
"""

from __future__ import annotations

import os
import threading
from functools import partial
from typing import Any

import numpy as np

from editforge import images as imgs
from editforge import taxonomy
from editforge.models import prompting
from editforge.models.base import (
    EditReply,
    Execution,
    JudgeReply,
    ModelCallError,
    Role,
    TextReply,
    TransientModelError,
    WriteRequest,
    request_timeout_s,
)
from editforge.models.gemini_wire import DEFAULT_ENDPOINT, KEY_VARIABLES, Reply, classify, failure, read_reply
from editforge.records import ModelRef, Usage
from editforge.taxonomy import EditType

DEFAULT_MODELS: dict[str, str] = {
    "writer": "gemini-2.5-flash",
    "rewriter": "gemini-2.5-flash",
    "editor": "gemini-2.5-flash-image",
    "judge": "gemini-2.5-pro",
}
EDITOR_PROMPT_VERSION = "editor.v2"  # the instruction verbatim; a retry adds the judge's reason
BASE_URL_VARIABLE = "GOOGLE_GEMINI_BASE_URL"
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_API_VERSION = "v1beta"  # the surface Google documents responseSchema / responseModalities on
OPTIONS = ("base_url", "timeout_s", "temperature", "api_version")
SHORT_MAX_WORDS = 40  # the prompt asks for at most 12; a paragraph back is no rewrite
MAX_SEED = 2**31 - 1  # generationConfig.seed is an int32


def _plus(a: Usage, b: Usage) -> Usage:
    return Usage(input_tokens=a.input_tokens + b.input_tokens, output_tokens=a.output_tokens + b.output_tokens)


class _Secret:
    """Holds the key so that no repr, f-string or debugger listing of the role shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


def api_key_from_env() -> str:
    from editforge.models.registry import ProviderError

    key = (os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY") or "").strip()
    if not key:
        raise ProviderError(
            f"the gemini provider needs an API key: set {' or '.join(KEY_VARIABLES)} in the environment"
        )
    return key


class _GeminiRole:
    """What the four roles share: the SDK client, the ModelRef, the call and its error mapping."""

    role: Role
    supported_types: frozenset[str] = frozenset(taxonomy.keys())
    execution: Execution = "io"

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        temperature: float | None = None,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        if not timeout_s or timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.model = model or DEFAULT_MODELS[self.role]
        self.temperature = None if temperature is None else float(temperature)
        self.timeout_s = float(timeout_s)
        self.base_url = base_url or os.environ.get(BASE_URL_VARIABLE) or None
        self.api_version = api_version
        version = EDITOR_PROMPT_VERSION if self.role == "editor" else prompting.PROMPT_VERSION[self.role]
        self.ref = ModelRef(provider="gemini", model=self.model, prompt_version=version, temperature=self.temperature)
        self._key = _Secret(api_key)
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        # An SDK client holds sockets and locks: a copy in another process builds its own.
        return {k: v for k, v in self.__dict__.items() if k not in ("_client", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _client=None, _lock=threading.Lock())

    def client(self) -> Any:
        with self._lock:
            return self._client or self._make_client()

    def _make_client(self) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            base_url=self.base_url,
            api_version=self.api_version,
            timeout=int(self.timeout_s * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # the engine retries, not the SDK
        )
        self._client = genai.Client(vertexai=False, api_key=self._key.get(), http_options=options)
        return self._client

    def _config(self, seed: int | None = None, **extra: Any) -> Any:
        from google.genai import types

        if self.temperature is not None:
            extra["temperature"] = self.temperature
        if seed is not None:
            extra["seed"] = int(seed) % MAX_SEED
        # One call is one request: no function-calling loop, no automatic continuation (newer SDKs).
        extra["automatic_function_calling"] = types.AutomaticFunctionCallingConfig(disable=True)
        if "automatic_continuation" in types.GenerateContentConfig.model_fields:
            extra["automatic_continuation"] = False
        return types.GenerateContentConfig(**extra)

    def _call(self, contents: list[Any], config: Any) -> Reply:
        from google.genai import types

        secret = self._key.get()
        timeout_s = request_timeout_s(self.timeout_s)
        if timeout_s < self.timeout_s:  # the engine's deadline is sooner: the request itself must end then
            config = config.model_copy(update={"http_options": types.HttpOptions(timeout=int(timeout_s * 1000))})
        try:
            response = self.client().models.generate_content(model=self.model, contents=contents, config=config)
        except Exception as exc:
            mapped = classify(exc, self.model, secret, timeout_s, self.base_url or DEFAULT_ENDPOINT)
            if mapped is exc:
                raise
            raise mapped from None  # the SDK's exception may quote request headers: not chained
        return read_reply(response, secret)

    @staticmethod
    def _parse(parse: Any, reply: Reply, usage: Usage | None = None) -> Any:
        """`parse(reply.text)`; a ReplyError it raises carries what the call(s) cost."""
        try:
            return parse(reply.text)
        except prompting.ReplyError as exc:
            exc.usage = usage or reply.usage
            raise

    @staticmethod
    def _image_part(image: np.ndarray) -> Any:
        from google.genai import types

        return types.Part.from_bytes(data=imgs.encode_png(image), mime_type="image/png")


class GeminiWriter(_GeminiRole):
    role: Role = "writer"

    def write(self, request: WriteRequest) -> TextReply:
        prompt = prompting.writer_prompt(request.edit_type, request.history)
        reply = self._call([self._image_part(request.image), prompt], self._config(request.seed))
        text, labels = self._parse(prompting.parse_writer_reply, reply)
        return TextReply(text=text, raw=reply.text, usage=reply.usage, labels=labels)


class GeminiRewriter(_GeminiRole):
    role: Role = "rewriter"

    def rewrite(self, long_instruction: str, edit_type: EditType, seed: int) -> TextReply:
        reply = self._call([prompting.rewriter_prompt(long_instruction)], self._config(seed))
        text = self._parse(partial(prompting.parse_instruction_reply, max_words=SHORT_MAX_WORDS), reply)
        return TextReply(text=text, raw=reply.text, usage=reply.usage)


class GeminiEditor(_GeminiRole):
    role: Role = "editor"
    takes_feedback = True  # a retry's prompt carries the judge's reason (prompting.editor_retry_prompt)

    def __init__(self, model: str | None = None, *, modalities: tuple[str, ...] = ("IMAGE",), **kw: Any):
        super().__init__(model, **kw)
        self.modalities = list(modalities)

    def edit(self, image: np.ndarray, instruction: str, seed: int) -> EditReply:
        config = self._config(seed, response_modalities=self.modalities)
        reply = self._call([self._image_part(image), instruction], config)
        usage = reply.usage
        if not reply.images:
            said = " ".join(reply.text.split())[:300]
            raise failure(f"no image returned: {said}" if said else "no image returned", reply.raw, usage)
        mime, data = reply.images[-1]  # a model that shows drafts puts the final image last
        try:
            edited = imgs.decode_photo(data, name=f"gemini {self.model} reply ({mime})")
        except imgs.PhotoError as exc:
            # The image was generated, so billed, even if it cannot be read.
            raise failure(f"undecodable image: {exc}", reply.raw, usage.model_copy(update={"images": 1})) from None
        usage = usage.model_copy(update={"images": 1})
        return EditReply(image=edited, raw=reply.raw, usage=usage)


class GeminiJudge(_GeminiRole):
    role: Role = "judge"
    max_asks = 2  # a reply that does not parse is asked for once more, then recorded as a failure

    def judge(
        self, source: np.ndarray, edited: np.ndarray, instruction: str, edit_type: EditType, sample: int = 0
    ) -> JudgeReply:
        """`sample` > 0 asks for another sample of the same judgment (multi-pass judging): it is the seed."""
        contents = [
            self._image_part(edited),  # the prompt says: EDITED image first, then SOURCE
            self._image_part(source),
            prompting.judge_prompt(instruction, edit_type),
        ]
        config = self._config(
            sample or None, response_mime_type="application/json", response_schema=prompting.JUDGE_SCHEMA
        )
        spent = Usage()
        for ask in range(1, self.max_asks + 1):
            try:
                reply = self._call(contents, config)
            except (ModelCallError, TransientModelError) as exc:  # on the second ask: the first was billed too
                exc.usage = _plus(spent, exc.usage)
                raise
            spent = _plus(spent, reply.usage)
            try:
                scores, rationale = self._parse(prompting.parse_judge_reply, reply, spent)
            except prompting.ReplyError:
                if ask < self.max_asks:
                    continue
                raise
            return JudgeReply(scores=scores, rationale=rationale, raw=reply.text, usage=spent)
        raise AssertionError("unreachable")


ROLES: dict[str, type[_GeminiRole]] = {
    "writer": GeminiWriter,
    "rewriter": GeminiRewriter,
    "editor": GeminiEditor,
    "judge": GeminiJudge,
}


def build(role: Role, model: str | None, options: dict[str, Any]) -> Any:
    from editforge.models.registry import ProviderError

    if role not in ROLES:
        raise ProviderError(f"gemini has no {role!r} role; it offers {', '.join(ROLES)}")
    allowed = (*OPTIONS, "modalities") if role == "editor" else OPTIONS
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ProviderError(f"gemini {role}: unknown option(s) {', '.join(unknown)}; known: {', '.join(allowed)}")
    try:
        timeout_s = float(options.get("timeout_s", DEFAULT_TIMEOUT_S))
    except (TypeError, ValueError):
        raise ProviderError(f"gemini {role}: timeout_s must be a number of seconds") from None
    kwargs = {**options, "timeout_s": timeout_s}
    if "modalities" in kwargs:
        kwargs["modalities"] = tuple(str(m).upper() for m in kwargs["modalities"])
    try:
        return ROLES[role](model, api_key=api_key_from_env(), **kwargs)
    except ValueError as exc:
        if isinstance(exc, ProviderError):
            raise
        raise ProviderError(f"gemini {role}: {exc}") from None
