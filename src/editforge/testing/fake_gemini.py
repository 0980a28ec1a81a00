"""A fake Gemini API on 127.0.0.1 that speaks the REST wire protocol the google-genai SDK uses.

    with FakeGemini(api_key="test-key") as server:
        client = genai.Client(api_key="test-key", http_options={"base_url": server.base_url})

It serves `POST /{v1,v1beta,v1alpha}/models/{model}:generateContent` with editforge's offline models
(see `fake_gemini_models`), and can misbehave the ways the real service does, per call or at random:

    server.script("429", None, "drop")          # the next three requests: a 429, a normal one, a drop
    server.script("bad_json", role="judge")     # the next judge request gets malformed JSON
    FakeGemini(fault_rates={"503": 0.1, "hang": 0.02}, seed=7)
    FakeGemini(rate_limit_rpm=600, latency_s=(0.2, 0.5))   # a server-side quota, per model

Faults: 429 (with `Retry-After` and a RetryInfo detail), 500, 503, 400, 401, 403, 404, hang (no answer
until `hang_s` passes or the server closes), drop (the socket is closed without a response), safety
(promptFeedback.blockReason), image_safety (finishReason IMAGE_SAFETY), empty (no candidates); for
the editor: text_only (text where an image was due), bad_base64 (not valid base64), truncated_image
(valid base64 of half a PNG), unchanged (the photo handed back as it was), blank (a flat grey image);
for the judge: bad_json, out_of_range. A fault that does not apply to a request's role is ignored (so
`fault_rates={"unchanged": 0.1}` spoils 10% of editor requests, no others). Rates are drawn from (seed,
request content, how often it was seen): a run is reproducible whatever the thread order, and a retried
request can succeed. `rate_limit_rpm`: a quota per model, a token bucket of `rate_limit_burst_s` seconds
(full at first): a request finding it empty gets 429 at once, `Retry-After` saying when a token is due,
and has fault "rate_limit" (it takes no token; injected faults do).

Counters (of the generateContent requests it could read; a wrong key or an unreadable body is answered
400 before counting): `calls` (a `Call` per request, in order), `by_model`, `by_content` (model,
content hash → requests), `paid` (model, content hash → 200 replies; `paid_twice()` lists those
answered more than once), `count(role=, fault=)`, `reset_counts()`; `errors` lists the fake's own
failures (each answered 500), which a test should find empty. A `Call` has `arrived` and `answered`
(time.monotonic()); an answer ready after its client went away is not sent: status 499, not "paid".
`bill()`: the (model, input tokens, output tokens, images) of every 200 answer, as an invoice lists them.
The faults, their draw, the quota and the counters live in `fake_gemini_faults`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from editforge.testing.fake_gemini_faults import (
    ERRORS,
    FAULTS,
    ROLE_FAULTS,
    Call,
    CallLedger,
    FaultScript,
    check_faults,
    image_data,
    spoiled_answer,
)
from editforge.testing.fake_gemini_models import Answer, BadRequest, answer, read_request, usage_metadata

__all__ = ["FAULTS", "Call", "FakeGemini"]
_MODEL_LOCK = threading.Lock()
_PATH = re.compile(r"/(v1|v1beta|v1alpha)/models/([^/:]+):generateContent")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hung handler must not hold up close()
    fake: FakeGemini

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):  # a client gone is no news
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections end after this
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.fake._handle(self)

    def do_GET(self) -> None:  # noqa: N802
        self.server.fake._send_error(self, 404, "NOT_FOUND", f"fake gemini serves no GET {self.path}")

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the counters instead
        return None


class FakeGemini(CallLedger):
    def __init__(
        self,
        *,
        api_key: str | None = None,  # when set, other keys get 400 API_KEY_INVALID, as from the real API
        models: set[str] | None = None,  # when set, other model names get 404
        script: list[str | None] | None = None,
        fault_rates: dict[str, float] | None = None,
        seed: int = 0,
        latency_s: float | tuple[float, float] = 0.0,
        hang_s: float = 60.0,
        retry_after: float = 1.0,
        editor_miss_rate: float = 0.0,
        rate_limit_rpm: float | None = None,  # requests/min per model; beyond it 429 + Retry-After
        rate_limit_burst_s: float = 1.0,  # the bucket holds this many seconds of allowance
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__()  # the counters, and the lock that guards them and `faults`
        self.faults = FaultScript(script, fault_rates, seed, rate_limit_rpm, rate_limit_burst_s)
        self.api_key, self.models = api_key, models
        self.latency_s, self.hang_s = latency_s, hang_s
        self.retry_after, self.editor_miss_rate = retry_after, editor_miss_rate
        self.errors: list[str] = []  # handler failures (bugs in the fake), kept for tests to assert on
        # The offline models share OpenCV cascade classifiers, which are not thread-safe (concurrent
        # detectMultiScale crashes the process): one answer at a time, across all fakes in the process.
        self._model_lock = _MODEL_LOCK
        self._closed = threading.Event()
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGemini:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name="fake-gemini", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()  # ends hangs
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scripting --------------------------------------------------------------------------------------

    def script(self, *faults: str | None, role: str = "*") -> None:
        """Queue faults for the next requests (of `role`, or any); None or "ok" serves one normally."""
        queued = [None if f == "ok" else f for f in faults]
        check_faults(queued)
        with self._lock:
            self.faults.queue(queued, role)

    # --- serving ------------------------------------------------------------------------------------------

    def _latency(self, digest: str) -> float:
        if isinstance(self.latency_s, tuple):
            low, high = self.latency_s
            return low + (high - low) * (int(digest[:8], 16) / 16**8)
        return float(self.latency_s)

    def _handle(self, h: _Handler) -> None:
        try:
            body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
            found = _PATH.fullmatch(urlsplit(h.path).path)
            if not found:
                return self._send_error(h, 404, "NOT_FOUND", f"fake gemini has no method {h.path}")
            version, model = found.groups()
            if self.api_key is not None and h.headers.get("x-goog-api-key") != self.api_key:
                return self._send_error(h, 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid "
                                        "API key.", [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                      "reason": "API_KEY_INVALID"}])  # fmt: skip
            try:
                payload = json.loads(body or b"null")
                request = read_request(payload)
            except (BadRequest, ValueError) as exc:
                return self._send_error(h, 400, "INVALID_ARGUMENT", str(exc))
            canonical = {k: payload.get(k) for k in ("contents", "generationConfig", "systemInstruction")}
            digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:16]
            with self._lock:
                now = time.monotonic()
                self.by_model[model] += 1
                self.by_content[(model, digest)] += 1
                wait = self.faults.quota_wait(model, now) if self.models is None or model in self.models else 0.0
                if wait:
                    fault: str | None = "rate_limit"
                else:
                    fault = self.faults.choose(request.role, digest, self.by_content[(model, digest)])
                if fault in ROLE_FAULTS and request.role not in ROLE_FAULTS[fault]:
                    fault = None
                if self.models is not None and model not in self.models:
                    fault = "404"
                call = Call(model, request.role, digest, fault, arrived=now, prompt=request.prompt)
                self.calls.append(call)
            if wait:
                call.status = self._quota_error(h, model, wait)
                call.answered = time.monotonic()
                return None
            if self._latency(digest) > 0:
                self._closed.wait(self._latency(digest))
            call.status = self._serve(h, request, model, version, fault, call)
            call.answered = time.monotonic()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            h.close_connection = True  # the client went away (it timed out): nothing to tell it
        except Exception as exc:  # a bug in the fake must show in a test, not kill the server
            self.errors.append(f"{type(exc).__name__}: {exc}")
            try:
                self._send_error(h, 500, "INTERNAL", f"fake gemini failed: {type(exc).__name__}: {exc}")
            except OSError:
                h.close_connection = True

    def _serve(self, h: _Handler, request: Any, model: str, version: str, fault: str | None, call: Call) -> int:
        if fault in ("drop", "hang"):
            if fault == "hang":
                self._closed.wait(self.hang_s)
            h.close_connection = True  # the socket closes with no response at all
            return 0
        if fault in ERRORS:
            status, name, message = ERRORS[fault]
            headers, details = {}, []
            if fault == "429":
                headers["Retry-After"] = f"{self.retry_after:g}"
                details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": f"{self.retry_after:g}s"}]  # fmt: skip
            self._send_error(h, status, name, message.format(model=model, version=version), details, headers)
            return status
        reply: dict[str, Any] = {"modelVersion": model}
        if fault == "safety":
            reply["promptFeedback"] = {"blockReason": "SAFETY"}
            reply["usageMetadata"] = usage_metadata(request, Answer())
        elif fault == "empty":
            reply["candidates"] = []
            reply["usageMetadata"] = usage_metadata(request, Answer())
        elif fault == "image_safety":
            reply["candidates"] = [{"finishReason": "IMAGE_SAFETY", "index": 0}]
            reply["usageMetadata"] = usage_metadata(request, Answer())
        else:
            made = self._answer(request, fault)
            parts: list[dict[str, Any]] = [{"text": made.text}] if made.text else []
            if made.png is not None:
                parts.append({"inlineData": {"mimeType": "image/png", "data": image_data(made.png, fault)}})
            content = {"role": "model", "parts": parts}
            reply["candidates"] = [{"content": content, "finishReason": made.finish_reason, "index": 0}]
            reply["usageMetadata"] = usage_metadata(request, made)
        if _client_gone(h):  # timed out or killed while the answer was made: nobody to give it to
            h.close_connection = True
            return 499
        call.usage = reply["usageMetadata"]
        parts = [p for c in reply.get("candidates", []) for p in c.get("content", {}).get("parts", [])]
        call.images = sum("inlineData" in p for p in parts)
        with self._lock:  # counted before sending: a client that has its answer finds it counted
            self.paid[(call.model, call.digest)] += 1
        self._send(h, 200, reply)
        return 200

    def _quota_error(self, h: _Handler, model: str, wait: float) -> int:
        delay = f"{math.ceil(wait * 100) / 100:g}"  # the server's own quota: when a token is due
        quota = f"generate_content_requests_per_minute, limit: {self.faults.rate_limit_rpm:g}, model: {model}"
        self._send_error(h, 429, "RESOURCE_EXHAUSTED", f"Quota exceeded for metric: {quota}",
                         [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}],
                         {"Retry-After": delay})  # fmt: skip
        return 429

    def _answer(self, request: Any, fault: str | None) -> Answer:
        spoiled = spoiled_answer(request, fault)
        if spoiled is not None:
            return spoiled
        with self._model_lock:
            return answer(request, self.editor_miss_rate)

    def _send_error(
        self,
        h: _Handler,
        status: int,
        name: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error: dict[str, Any] = {"code": status, "message": message, "status": name}
        if details:
            error["details"] = details
        self._send(h, status, {"error": error}, headers)

    @staticmethod
    def _send(h: _Handler, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)


def _client_gone(h: _Handler) -> bool:
    """Whether the client closed its end (readable with nothing to read) — without blocking."""
    try:
        readable, _, _ = select.select([h.connection], [], [], 0)
        return bool(readable) and h.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (OSError, ValueError):
        return True
