"""What the Gemini provider makes of the SDK's replies and errors, apart from the calls themselves.

`classify` turns whatever the google-genai SDK (or the HTTP library beneath it) raised into one of the
three exceptions the engine understands; `read_reply` turns a GenerateContentResponse into text, image
bytes and usage, or a ModelCallError for a refusal or an empty answer. Every message that leaves this
module passes through `redact`, so an API key can never reach a record, a log line or an exception.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pydantic
from google.genai import errors

from editforge.models.base import FatalModelError, ModelCallError, TransientModelError, is_connect_failure
from editforge.records import Usage

# finishReason / blockReason values that mean the model refused, as opposed to stopping or running
# out of tokens. Anything else without the wanted part is reported as "no image" / "no text".
REFUSALS = frozenset(
    {
        "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR", "JAILBREAK",
    }
)  # fmt: skip
TRANSIENT_CODES = frozenset({408, 429, 500, 502, 503, 504})
FATAL_CODES = frozenset({401, 403, 404})
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP libraries' transport failures (timeouts, refused / reset / dropped connections)."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for name in ("httpx2", "httpx"):  # the SDK uses httpx2 when installed, else httpx
        try:
            module = __import__(name)
        except ImportError:
            continue
        found.append(module.TransportError)
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()
DEFAULT_ENDPOINT = "https://generativelanguage.googleapis.com"


def redact(text: str, secret: str | None) -> str:
    # A real key is 39 characters; replacing a 1-letter test key would mangle every reply instead.
    if secret and len(secret) >= 8 and text:
        return text.replace(secret, "[redacted]")
    return text


def retry_after_s(error: errors.APIError) -> float | None:
    """Seconds to wait: the `Retry-After` header (seconds or an HTTP date), else the RetryInfo detail
    (`"retryDelay": "17s"`) that the Gemini API puts in a 429 body."""
    headers = getattr(getattr(error, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    for detail in _details(error):
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        match = re.fullmatch(r"\s*([0-9.]+)s\s*", str(delay or ""))
        if match:
            return float(match.group(1))
    return None


def _details(error: errors.APIError) -> list[Any]:
    body = error.details if isinstance(error.details, dict) else {}
    inner = body.get("error", body)
    details = inner.get("details") if isinstance(inner, dict) else None
    return details if isinstance(details, list) else []


def _api_reason(error: errors.APIError) -> str:
    return f"{error.code} {error.status or ''}: {error.message or ''}".replace(" :", ":").strip()


def classify(
    exc: BaseException, model: str, secret: str | None, timeout_s: float, endpoint: str = DEFAULT_ENDPOINT
) -> Exception:
    """The engine's view of a failed call: Transient (retry later), Fatal (stop the run) or
    ModelCallError (this item failed). Returns the exception to raise (from `exc`)."""
    if isinstance(exc, errors.APIError):
        reason = redact(_api_reason(exc), secret)
        code = int(exc.code or 0)
        text = f"{exc.message or ''} {json.dumps(_details(exc), default=str)}"
        if code == 429 and re.search(r"limit: 0\b|quotaValue\W+0\b", text):
            return FatalModelError(f"gemini {model}: no quota for this key ({reason})")
        if code in TRANSIENT_CODES or code >= 500:
            return TransientModelError(
                f"gemini {model}: {reason}", retry_after=retry_after_s(exc), rate_limited=code == 429
            )
        if code in FATAL_CODES or "API_KEY_INVALID" in text or "API key not valid" in text:
            what = "unknown model" if code == 404 else f"check {' / '.join(KEY_VARIABLES)} and its access"
            return FatalModelError(f"gemini {model}: {reason} ({what})")
        if exc.status == "FAILED_PRECONDITION":  # billing / region: no other item can succeed either
            return FatalModelError(f"gemini {model}: {reason}")
        return ModelCallError(f"gemini {model}: {reason}", redact(json.dumps(exc.details, default=str), secret))
    if is_connect_failure(exc):
        detail = redact(str(exc), secret) or type(exc).__name__
        return TransientModelError(
            f"gemini {model}: cannot connect to {endpoint} ({type(exc).__name__}: {detail})", unreachable=True
        )
    if isinstance(exc, TRANSPORT_ERRORS):
        kind = "timeout" if "Timeout" in type(exc).__name__ else "connection failed"
        detail = redact(str(exc), secret) or type(exc).__name__
        limit = f" after {timeout_s:g} s" if kind == "timeout" else ""
        return TransientModelError(
            f"gemini {model}: {kind}{limit} ({type(exc).__name__}: {detail})", timed_out=kind == "timeout"
        )
    if isinstance(exc, pydantic.ValidationError | errors.UnknownApiResponseError):
        # A 200 whose body the SDK could not read: bad base64 in an image part, not JSON, ...
        detail = redact(str(exc), secret)
        return ModelCallError(f"gemini {model}: malformed response ({detail.splitlines()[0][:200]})", detail)
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


@dataclass
class Reply:
    text: str
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (mime type, bytes)
    usage: Usage = field(default_factory=Usage)
    raw: str = ""  # a compact account of the response: finish reason, text, image sizes, usage


def _name(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def failure(reason: str, raw: str, usage: Usage) -> ModelCallError:
    """A ModelCallError for a call that was answered (and billed): `.usage` says what it cost."""
    return ModelCallError(reason, raw, usage)


def read_usage(response: Any) -> Usage:
    meta = getattr(response, "usage_metadata", None)
    if meta is None:
        return Usage()
    # Thinking tokens are billed as output on the 2.5 models.
    output = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
    return Usage(input_tokens=meta.prompt_token_count or 0, output_tokens=output)


def read_reply(response: Any, secret: str | None) -> Reply:
    """Text and inline images of the first candidate, or ModelCallError for a refusal / no answer."""
    usage = read_usage(response)
    feedback = getattr(response, "prompt_feedback", None)
    block = _name(getattr(feedback, "block_reason", None))
    candidates = list(getattr(response, "candidates", None) or [])
    first = candidates[0] if candidates else None
    finish = _name(getattr(first, "finish_reason", None))
    texts: list[str] = []
    images: list[tuple[str, bytes]] = []
    described: list[str] = []
    content = getattr(first, "content", None)
    for part in getattr(content, "parts", None) or []:
        if getattr(part, "thought", None):
            continue
        if part.text is not None:
            texts.append(part.text)
            described.append(part.text)
        elif part.inline_data is not None and part.inline_data.data is not None:
            mime = part.inline_data.mime_type or "application/octet-stream"
            images.append((mime, part.inline_data.data))
            described.append(f"<{mime}, {len(part.inline_data.data)} bytes>")
    summary: dict[str, Any] = {"finish_reason": finish or None, "parts": described}
    if block:
        summary["block_reason"] = block
        message = getattr(feedback, "block_reason_message", None)
        if message:
            summary["block_reason_message"] = message
    if first is not None and getattr(first, "finish_message", None):
        summary["finish_message"] = first.finish_message
    summary["usage"] = usage.model_dump(include={"input_tokens", "output_tokens"})
    raw = redact(json.dumps(summary, ensure_ascii=False), secret)
    if block:
        raise failure(f"refused: {block}", raw, usage)
    if first is None:
        raise failure("no candidates", raw, usage)
    if finish in REFUSALS:
        raise failure(f"refused: {finish}", raw, usage)
    return Reply(text=redact("".join(texts), secret), images=images, usage=usage, raw=raw)
