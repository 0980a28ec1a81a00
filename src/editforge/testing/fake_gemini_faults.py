"""What the fake Gemini server does wrong, and what it bills: the faults it knows, which request gets
which (a script, else a seeded draw), its per-model quota, the spoiled answers a fault stands for, and
the ledger of calls a test compares with editforge's own records. The wire protocol is `fake_gemini`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from editforge.images import encode_png
from editforge.testing.fake_gemini_models import Answer, Request

ERRORS: dict[str, tuple[int, str, str]] = {
    "400": (400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    "401": (401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
    "403": (403, "PERMISSION_DENIED", "The caller does not have permission."),
    "404": (404, "NOT_FOUND", "models/{model} is not found for API version {version}."),
    "429": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    "500": (500, "INTERNAL", "An internal error has occurred. Please retry."),
    "503": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
}
ROLE_FAULTS: dict[str, set[str]] = {
    "text_only": {"editor"}, "bad_base64": {"editor"}, "truncated_image": {"editor"}, "unchanged": {"editor"},
    "blank": {"editor"}, "image_safety": {"editor"}, "bad_json": {"judge"}, "out_of_range": {"judge"},
}  # fmt: skip
FAULTS = (*ERRORS, "hang", "drop", "safety", "empty", *ROLE_FAULTS)


def check_faults(faults: Iterable[str | None]) -> None:
    """Raise ValueError naming any fault the fake does not know (None serves a request normally)."""
    unknown = [f for f in faults if f is not None and f not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault(s) {unknown}; known: {', '.join(FAULTS)}")


@dataclass
class Call:
    """One request as the server saw it. `status`: 0 when no response was sent (drop, hang), 499 when
    the answer was ready but its client had gone."""

    model: str
    role: str
    digest: str
    fault: str | None  # an injected fault, or "rate_limit" for a 429 from the server's own quota
    status: int = 0
    arrived: float = 0.0  # time.monotonic() when the request was read
    answered: float = 0.0  # ... and when the response was sent (or given up)
    # What a 200 answer billed, refusals and unusable replies included: its usageMetadata, and the
    # images it generated (what a real invoice counts, for tests to compare with the ledger).
    usage: dict[str, int] | None = None
    images: int = 0
    prompt: str = ""  # the request's text parts


class _Bucket:  # a token bucket: `rate` tokens a second, at most `size` held; full at the start
    def __init__(self, rate: float, size: float) -> None:
        self.rate, self.size, self.tokens, self.at = rate, max(1.0, size), max(1.0, size), time.monotonic()

    def take(self, now: float) -> float:  # 0.0 when a token was taken, else the seconds until one is due
        self.tokens = min(self.size, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class FaultScript:
    """Which fault a request gets: the next one queued for its role (or for any), else a draw at
    `fault_rates` from (seed, request content, how often it was seen), so a run is reproducible whatever
    the thread order and a retried request can succeed. Not locked: the server calls it under its lock."""

    def __init__(
        self,
        script: list[str | None] | None,
        fault_rates: dict[str, float] | None,
        seed: int,
        rate_limit_rpm: float | None,
        rate_limit_burst_s: float,
    ) -> None:
        check_faults([*(script or []), *(fault_rates or {})])
        if rate_limit_rpm is not None and rate_limit_rpm <= 0:
            raise ValueError(f"rate_limit_rpm must be positive, got {rate_limit_rpm!r}")
        self.fault_rates = dict(fault_rates or {})
        self.seed = seed
        self.rate_limit_rpm, self.rate_limit_burst_s = rate_limit_rpm, rate_limit_burst_s
        self._queues: dict[str, deque[str | None]] = {"*": deque(script or [])}
        self._buckets: dict[str, _Bucket] = {}

    def queue(self, faults: Iterable[str | None], role: str) -> None:
        self._queues.setdefault(role, deque()).extend(faults)

    def choose(self, role: str, digest: str, seen: int) -> str | None:
        for name in (role, "*"):
            queue = self._queues.get(name)
            if queue:
                return queue.popleft()
        if not self.fault_rates:
            return None
        blob = hashlib.sha256(f"{self.seed}|{digest}|{seen}".encode()).digest()
        draw = int.from_bytes(blob[:8], "big") / 2**64
        for fault, rate in self.fault_rates.items():
            if draw < rate:
                return fault
            draw -= rate
        return None

    def quota_wait(self, model: str, now: float) -> float:
        """Seconds until `model`'s quota (a token bucket of `rate_limit_burst_s` seconds, full at first)
        has room; 0.0 when a token was taken now."""
        if self.rate_limit_rpm is None:
            return 0.0
        rate = self.rate_limit_rpm / 60
        bucket = self._buckets.setdefault(model, _Bucket(rate, rate * self.rate_limit_burst_s))
        return bucket.take(now)


class CallLedger:
    """The counters of the requests a server could read, and what its 200 answers billed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[Call] = []
        self.by_model: Counter[str] = Counter()
        self.by_content: Counter[tuple[str, str]] = Counter()
        self.paid: Counter[tuple[str, str]] = Counter()

    def paid_twice(self) -> list[tuple[str, str]]:
        return sorted(key for key, n in self.paid.items() if n > 1)

    def bill(self) -> list[tuple[str, int, int, int]]:
        with self._lock:
            return [
                (c.model, c.usage["promptTokenCount"], c.usage["candidatesTokenCount"], c.images)
                for c in self.calls
                if c.status == 200 and c.usage is not None
            ]

    def count(self, role: str | None = None, fault: str | None = None) -> int:
        return sum(1 for c in self.calls if role in (None, c.role) and fault in (None, c.fault))

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.by_model.clear()
            self.by_content.clear()
            self.paid.clear()


def spoiled_answer(request: Request, fault: str | None) -> Answer | None:
    """The answer a role fault stands for, or None when the model should answer for real."""
    if fault == "text_only":
        return Answer("I'm unable to edit this image as requested.")
    if fault == "unchanged":  # an editor that hands the photo back as it was: a paid no-op
        return Answer("Here is the edited image.", png=encode_png(request.images[0]))
    if fault == "blank":  # a broken render: one flat grey
        return Answer("Here is the edited image.", png=encode_png(np.full_like(request.images[0], 128)))
    if fault == "bad_json":
        return Answer('{"instruction_compliance": 0.8, "seamlessness": 0.7, "preserv')
    if fault == "out_of_range":
        return Answer(json.dumps({"instruction_compliance": 8, "seamlessness": 7, "preservation": 9,
                                  "technical_quality": 10, "rationale": "scored out of ten"}))  # fmt: skip
    return None


def image_data(png: bytes, fault: str | None) -> str:
    """The base64 an answer carries for `png`, spoiled as `fault` says."""
    data = base64.b64encode(png).decode()
    if fault == "bad_base64":
        return data[: len(data) // 2 - (len(data) // 2) % 4 + 1]  # a length no base64 has
    if fault == "truncated_image":
        return base64.b64encode(png[: len(png) // 2]).decode()
    return data
