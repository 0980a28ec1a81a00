"""How the OpenAI-compatible provider classifies what the `openai` SDK raises.

    429 (rate limit), 408, 409, 5xx, timeouts, dropped connections  -> TransientModelError
        (retry_after from `retry-after-ms`, else `Retry-After` seconds or HTTP date)
    429 with code insufficient_quota                                -> FatalModelError (no quota)
    401, 403                                                         -> FatalModelError
    404 (model or endpoint not found)                                -> FatalModelError
    400 naming an unsupported parameter or value (a config mistake)  -> FatalModelError
    400 about response_format (no JSON-schema output on this server) -> FatalModelError
    any other 4xx (400 included), unparseable replies                -> ModelCallError (server's message)

Every message passes through `scrub`: the key, and anything shaped like one (OpenAI echoes a masked
key in its 401 message), is replaced before it can reach a record, a log or a traceback.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from editforge.models.base import (
    FatalModelError,
    ModelCallError,
    TransientModelError,
    is_connect_failure,
    request_timeout_s,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"  # where the SDK goes when no base_url is set
# Codes OpenAI gives a 400 that every later call would get too: a setting to fix, not an item to skip.
CONFIG_CODES = {"unsupported_parameter", "unsupported_value", "model_not_found"}
_KEYLIKE = re.compile(r"\b((?:sk|rk|pk|sess)-)[A-Za-z0-9_\-*.]{6,}")
_PROVIDED = re.compile(r"(api key provided:?)\s*\S+", re.IGNORECASE)
_BEARER = re.compile(r"(bearer)\s+\S+", re.IGNORECASE)


def scrub(text: str, secret: str | None) -> str:
    """`text` with the key, and anything that looks like a key, blanked out."""
    if not text:
        return text
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    text = _KEYLIKE.sub(r"\1***", text)
    text = _PROVIDED.sub(r"\1 ***", text)
    return _BEARER.sub(r"\1 ***", text)


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, then `Retry-After` (seconds or a date)."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    value = headers.get("retry-after")
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is not None:
            return max(0.0, when.timestamp() - time.time())
    return None


def _server_message(exc: Any, secret: str | None) -> str:
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    if not message:
        message = body if isinstance(body, str) and body else getattr(exc, "message", "") or str(exc)
    return scrub(str(message), secret).strip()[:500]


def classify_status(exc: Any, label: str, env_name: str, secret: str | None) -> Exception:
    status = int(getattr(exc, "status_code", 0) or 0)
    code = getattr(exc, "code", None)
    detail = _server_message(exc, secret)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    said = f"HTTP {status}" + (f" {code}" if code else "") + (f": {detail}" if detail else "")
    if status == 429 and code == "insufficient_quota":
        return FatalModelError(f"{label}: out of quota ({said}); check the account's billing")
    if status in (408, 409, 429) or status >= 500:
        return TransientModelError(f"{label}: {said}", retry_after=retry_after(headers), rate_limited=status == 429)
    if status in (401, 403):
        return FatalModelError(
            f"{label}: not authorised ({said}); check the key in ${env_name} and its access to the model"
        )
    if status == 404:
        return FatalModelError(f"{label}: not found ({said}); check the model name and base_url")
    if status == 400 and code in CONFIG_CODES:
        return FatalModelError(f"{label}: the server rejects this configuration ({said})")
    if status == 400 and "response_format" in detail:
        return FatalModelError(
            f"{label}: the server rejects response_format ({said}); set the judge's option "
            "structured_output: false for servers without JSON-schema output"
        )
    return ModelCallError(f"{label}: {said}", raw=detail)


@contextmanager
def mapped_errors(label: str, options: Any, secret: str | None) -> Iterator[None]:
    """Turn the SDK's exceptions into editforge's three kinds, with nothing secret in them."""
    import openai

    try:
        yield
    except openai.APITimeoutError:
        timeout_s = request_timeout_s(options.timeout_s)
        raise TransientModelError(f"{label}: no reply within {timeout_s:g} s", timed_out=True) from None
    except openai.APIConnectionError as exc:
        cause = exc.__cause__ or exc.__context__
        why = scrub(f"{type(cause).__name__}: {cause}" if cause else str(exc), secret)[:300]
        if is_connect_failure(cause):
            endpoint = options.base_url or DEFAULT_BASE_URL
            raise TransientModelError(f"{label}: cannot connect to {endpoint} ({why})", unreachable=True) from None
        raise TransientModelError(f"{label}: connection failed ({why})") from None
    except openai.APIStatusError as exc:
        raise classify_status(exc, label, options.api_key_env, secret) from None
    except openai.OpenAIError as exc:  # response validation and other client-side failures
        raise ModelCallError(f"{label}: {scrub(str(exc), secret)[:500]}") from None
