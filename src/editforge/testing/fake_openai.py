"""A fake OpenAI-compatible server on 127.0.0.1 speaking the wire protocol the `openai` SDK uses.

    with FakeOpenAI(api_key="sk-test", faults={"rate_limit": 0.1}, seed=1) as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)

Endpoints: `POST /v1/chat/completions` (JSON) and `POST /v1/images/edits` (multipart/form-data).
Its "models" are editforge's offline ones (see `fake_openai_models`): a writer prompt with a photo is
answered by the template writer, a rewriter prompt by the rule rewriter, a judge prompt with two
photos by the metric judge (as JSON content), an image edit by the classical editor.

Faults, scriptable per call (`server.script("rate_limit", "hang", route="judge")`: the next matching
requests get them in order; `None` in a script means "answer normally") and/or drawn at rates with a
seed (`faults={"server_error": 0.05}`):
    any route:  rate_limit (429 + Retry-After), quota (429 insufficient_quota), server_error (500),
                bad_gateway (502), unavailable (503), unauthorized (401), forbidden (403),
                not_found (404), bad_request (400), hang (past the client's timeout), drop (closes
                the connection without a reply)
    chat:       refusal (message.refusal), content_filter (finish_reason), empty_choices
    judge:      malformed_json, out_of_range, nan
    editor:     no_image_data, truncated_b64

Latency: `latency_s` seconds, or a (low, high) range drawn per request. Counters: `calls[model]`
(every request), `by_content[(model, digest)]` (every request, keyed by a hash of its content),
`paid[(model, digest)]` (those answered 200), `paid_twice()`, `count(model=, route=)`, `log` (one `Logged` per
request) and `errors` (exceptions inside the server: a test should find it empty). The handler never
lets an exception escape its thread.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import random
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from editforge.testing.fake_openai_models import OfflineModels, RequestError, parse_multipart

HTTP_FAULTS: dict[str, tuple[int, str, str | None]] = {
    "rate_limit": (429, "Rate limit reached for requests. Please try again later.", "rate_limit_exceeded"),
    "quota": (429, "You exceeded your current quota, please check your plan.", "insufficient_quota"),
    "server_error": (500, "The server had an error while processing your request.", None),
    "bad_gateway": (502, "Bad gateway.", None),
    "unavailable": (503, "The engine is currently overloaded, please try again later.", None),
    "forbidden": (403, "You are not allowed to sample from this model.", None),
    "not_found": (404, "The model does not exist or you do not have access to it.", "model_not_found"),
    "bad_request": (400, "Invalid value for 'prompt': the request could not be processed.", "invalid_value"),
}
CHAT_FAULTS = {"refusal", "content_filter", "empty_choices"}
JUDGE_FAULTS = {"malformed_json", "out_of_range", "nan"}
EDITOR_FAULTS = {"no_image_data", "truncated_b64"}
ANY_FAULTS = set(HTTP_FAULTS) | {"unauthorized", "hang", "drop"}
FAULTS = ANY_FAULTS | CHAT_FAULTS | JUDGE_FAULTS | EDITOR_FAULTS
ROUTES = ("writer", "rewriter", "judge", "editor")


def applies(fault: str, route: str) -> bool:
    return (
        fault in ANY_FAULTS
        or (fault in CHAT_FAULTS and route != "editor")
        or (fault in JUDGE_FAULTS and route == "judge")
        or (fault in EDITOR_FAULTS and route == "editor")
    )


@dataclass
class Logged:
    route: str
    model: str
    digest: str
    fault: str | None
    status: int
    body: dict[str, Any]  # the request's fields, images replaced by their sizes
    # What a 200 answer billed (refusals and unusable replies included): (input, output tokens, images).
    billed: tuple[int, int, int] | None = None


def _mask(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "***"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    timeout = 10  # idle keep-alive connections end, so no thread waits forever
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._guarded(lambda: self._error(404, f"Unknown request URL: GET {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _guarded(self, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # never let the thread die; report as a 500 and keep a record
            self.server.fake._record_error(exc)
            with contextlib.suppress(Exception):
                self._error(500, f"fake server bug: {type(exc).__name__}: {exc}", "server_error")

    # ---------------------------------------------------------------- responses

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-request-id", f"req_fake_{time.monotonic_ns()}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout, closed pool): nothing to tell it
            self.close_connection = True

    def _error(
        self, status: int, message: str, kind: str, code: str | None = None, headers: dict | None = None
    ) -> None:
        self._send(status, _error_body(message, code, kind), headers)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # ---------------------------------------------------------------- the request

    def _post(self) -> None:
        fake = self.server.fake
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            return self._error(411, "Content-Length required", "invalid_request_error")
        body = self.rfile.read(int(length))
        path = self.path.split("?")[0].rstrip("/")
        if path not in ("/v1/chat/completions", "/v1/images/edits"):
            return self._error(404, f"Unknown request URL: POST {self.path}", "invalid_request_error")
        auth = self.headers.get("Authorization", "")
        if fake.api_key is not None and auth != f"Bearer {fake.api_key}":
            given = auth.removeprefix("Bearer ").strip()
            return self._error(
                401, f"Incorrect API key provided: {_mask(given)}.", "invalid_request_error", "invalid_api_key"
            )
        try:
            if path == "/v1/chat/completions":
                request = json.loads(body or b"{}")
                route = fake.models.chat_route(request)
            else:
                request = parse_multipart(self.headers.get("Content-Type", ""), body)
                route = "editor"
        except (ValueError, RequestError) as exc:
            status = exc.status if isinstance(exc, RequestError) else 400
            return self._error(status, f"Could not parse the request: {exc}", "invalid_request_error")
        model = str(request.get("model") or "")
        fault = fake._next_fault(route)
        if fake.models_served is not None and model not in fake.models_served and fault is None:
            fault = "not_found"
        fake._stop.wait(fake._latency())
        status, payload, headers = self._answer(fake, route, request, fault)
        fake._count(route, model, request, fault, status, payload)  # before replying: a test sees it at once
        if fault == "hang":
            fake._stop.wait(fake.hang_s)
        if status == 0:
            return self._drop()
        self._send(status, payload, headers)

    @staticmethod
    def _answer(fake: FakeOpenAI, route: str, request: dict, fault: str | None) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON payload, headers); status 0 means: close the connection without a reply."""
        if fault in ("hang", "drop"):
            return 0, None, {}
        if fault == "unauthorized":
            return 401, _error_body("Incorrect API key provided: sk-ab***wxyz.", "invalid_api_key"), {}
        if fault in HTTP_FAULTS:
            status, message, code = HTTP_FAULTS[fault]
            headers = {}
            if status == 429 and fake.retry_after is not None:
                headers["Retry-After"] = str(fake.retry_after)
            if status == 429 and fake.retry_after_ms is not None:
                headers["retry-after-ms"] = str(fake.retry_after_ms)
            kind = "requests" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
            return status, _error_body(message, code, kind), headers
        try:
            if route == "editor":
                return 200, fake.models.edit(request, fault), {}
            if not fake.json_schema and (request.get("response_format") or {}).get("type") == "json_schema":
                raise RequestError(400, "response_format type 'json_schema' is not supported by this server")
            return 200, fake.models.chat(route, request, fault), {}
        except RequestError as exc:
            return exc.status, _error_body(str(exc), exc.code), {}


def _error_body(message: str, code: str | None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI


class FakeOpenAI:
    """A context manager: `with FakeOpenAI() as server: server.base_url` ends in `/v1`."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: set[str] | None = None,
        faults: dict[str, float] | None = None,
        seed: int = 0,
        latency_s: float | tuple[float, float] = 0.0,
        retry_after: float | str | None = 1,
        retry_after_ms: float | None = None,
        hang_s: float = 60.0,
        json_schema: bool = True,
        editor_miss_rate: float = 0.0,
        judge_jitter: float = 0.0,
    ) -> None:
        """`api_key`: the only key accepted (None: any, like a local server without one). `models`:
        the model names served (None: any); others get 404 model_not_found. `faults`: fault -> rate.
        `json_schema=False` answers 400 to response_format json_schema, as older local servers do."""
        unknown = set(faults or {}) - FAULTS
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {sorted(FAULTS)}")
        self.api_key = api_key
        self.models_served = set(models) if models is not None else None
        self.rates = dict(faults or {})
        self.latency_s = latency_s
        self.retry_after = retry_after
        self.retry_after_ms = retry_after_ms
        self.hang_s = hang_s
        self.json_schema = json_schema
        self.models = OfflineModels(editor_miss_rate, judge_jitter)
        self.calls: collections.Counter[str] = collections.Counter()
        self.by_content: collections.Counter[tuple[str, str]] = collections.Counter()
        self.paid: collections.Counter[tuple[str, str]] = collections.Counter()
        self.log: list[Logged] = []
        self.errors: list[str] = []
        self._rng = random.Random(seed)
        self._scripts: dict[str | None, collections.deque[str | None]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeOpenAI:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()  # wakes hung and slow handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ---------------------------------------------------------------- faults and counters

    def script(self, *faults: str | None, route: str | None = None) -> None:
        """Queue faults for the next requests (of `route`, or of any route when None)."""
        if route is not None and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; routes: {ROUTES}")
        bad = [f for f in faults if f is not None and f not in FAULTS]
        if bad:
            raise ValueError(f"unknown fault(s) {bad}; known: {sorted(FAULTS)}")
        with self._lock:
            self._scripts[route].extend(faults)

    def _next_fault(self, route: str) -> str | None:
        with self._lock:
            for queue in (self._scripts[route], self._scripts[None]):
                if queue:
                    return queue.popleft()
            for fault, rate in self.rates.items():
                if applies(fault, route) and self._rng.random() < rate:
                    return fault
        return None

    def _count(self, route: str, model: str, request: dict, fault: str | None, status: int, payload: Any) -> None:
        shown = {k: (f"<{len(v)} bytes>" if isinstance(v, bytes) else v) for k, v in request.items()}
        blob = json.dumps(shown, sort_keys=True, default=str).encode()
        digest = hashlib.sha256(blob + b"".join(v for v in request.values() if isinstance(v, bytes)))
        entry = Logged(route, model, digest.hexdigest()[:16], fault, status, _summarise(shown))
        if status == 200:
            used = payload.get("usage") or {}
            entry.billed = (
                int(used.get("prompt_tokens", used.get("input_tokens", 0))),
                int(used.get("completion_tokens", used.get("output_tokens", 0))),
                len(payload.get("data") or []),
            )
        with self._lock:
            self.log.append(entry)
            self.calls[model] += 1
            self.by_content[(model, entry.digest)] += 1
            if status == 200:
                self.paid[(model, entry.digest)] += 1

    def _latency(self) -> float:
        if isinstance(self.latency_s, tuple):
            with self._lock:
                return self._rng.uniform(*self.latency_s)
        return float(self.latency_s)

    def _record_error(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def count(self, model: str | None = None, route: str | None = None) -> int:
        with self._lock:
            return sum(1 for e in self.log if model in (None, e.model) and route in (None, e.route))

    def bill(self) -> list[tuple[str, int, int, int]]:
        """(model, input tokens, output tokens, images) of every 200 answer, as an invoice lists them."""
        with self._lock:
            return [(e.model, *e.billed) for e in self.log if e.billed is not None]

    def paid_twice(self) -> list[tuple[str, str]]:
        """(model, digest) of identical requests answered 200 more than once: calls paid twice."""
        with self._lock:
            return [key for key, n in self.paid.items() if n > 1]


def _strip_images(content: Any) -> Any:
    if not isinstance(content, list):
        return content
    return [
        {"type": "image_url", "image_url": f"<{len(str(part.get('image_url')))} chars>"}
        if isinstance(part, dict) and part.get("type") == "image_url"
        else part
        for part in content
    ]


def _summarise(request: dict[str, Any]) -> dict[str, Any]:
    """The request without its base64 images (kept: where they were, and every text part)."""
    out = dict(request)
    if isinstance(out.get("messages"), list):
        out["messages"] = [
            {**m, "content": _strip_images(m.get("content"))} if isinstance(m, dict) else m for m in out["messages"]
        ]
    return out
