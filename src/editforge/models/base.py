"""The four roles a model can play, as small protocols, and the replies they return.

A provider module (offline, gemini, openai_compat, hf) offers some of these roles and declares which
edit types each can do. Providers know nothing of the engine: they take pixels and text, return
pixels and text, and say what the call cost. Images are RGB `uint8` arrays of shape (H, W, 3).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from editforge.records import ModelRef, PhotoFacts, Scores, Usage
from editforge.taxonomy import EditType

Role = Literal["writer", "rewriter", "editor", "judge"]
ROLES: tuple[Role, ...] = ("writer", "rewriter", "editor", "judge")


class ModelCallError(Exception):
    """A call that failed in a way worth recording (refusal, no image, bad reply), not a bug.

    `raw` keeps whatever the model did send so the ledger can show it; `usage` what the failed call(s)
    were billed (a refusal or an unparseable reply still costs its tokens), so the ledger, `status`,
    the report and the budget count every paid call.
    """

    def __init__(self, reason: str, raw: str = "", usage: Usage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw
        self.usage = usage or Usage()

    def __reduce__(self):  # keep `raw` and `usage` when the error crosses a process boundary
        return (type(self), (self.reason, self.raw, self.usage))


class TransientModelError(Exception):
    """A call that may succeed if tried again later: 429, 5xx, a timeout, a dropped connection.

    The engine retries these with backoff (honouring `retry_after`, seconds, when the server sent one);
    providers only classify, they never sleep or retry themselves.
    """

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        rate_limited: bool = False,
        timed_out: bool = False,
        usage: Usage | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.rate_limited = rate_limited  # a 429: the model's quota, shared by every call to it
        # No reply in time: the server may have done (and billed) the work all the same.
        self.timed_out = timed_out
        # What this call had already been billed before it failed (a judge whose first, unparseable
        # reply was paid for, then whose second ask hit a 503): counted although the call is retried.
        self.usage = usage or Usage()
        # No connection could be made (the name does not resolve, the port refuses): nothing reached
        # the server. Not a quota: if the model never answered in this run, the network or the
        # endpoint is wrong, and retrying for minutes only hides that.
        self.unreachable = unreachable

    def __reduce__(self):
        fields = (self.reason, self.retry_after, self.rate_limited, self.timed_out, self.usage, self.unreachable)
        return (type(self), fields)


# The engine's deadline for the call running in this thread (seconds), set by the engine around each
# hosted call. Providers pass it to their SDK as a per-request timeout, so a call the engine gives up
# on really ends (its HTTP request is closed) instead of running on, and maybe billing, in its thread.
REQUEST_DEADLINE_S: ContextVar[float | None] = ContextVar("editforge_request_deadline_s", default=None)


def request_timeout_s(own_timeout_s: float) -> float:
    """The timeout for this request: the provider's own, or the engine's deadline when that is sooner."""
    deadline = REQUEST_DEADLINE_S.get()
    return own_timeout_s if deadline is None else min(own_timeout_s, deadline)


def is_connect_failure(exc: BaseException | None) -> bool:
    """A connection that could not be made at all: DNS failure, refused, unroutable, connect timeout.

    httpx (and httpx2) raise ConnectError / ConnectTimeout for these, before a byte is sent; a
    connection dropped mid-reply is a ReadError or RemoteProtocolError instead and may have been billed.
    """
    while exc is not None:
        if type(exc).__name__ in ("ConnectError", "ConnectTimeout") or isinstance(exc, ConnectionRefusedError):
            return True
        if isinstance(exc, OSError) and type(exc).__name__ == "gaierror":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class FatalModelError(Exception):
    """A call that no retry or other item can fix (bad key, unknown model, no quota): stop the run
    cleanly, keep what is done, say what to fix. The message must never contain the key itself."""


class DeviceOutOfMemoryError(TransientModelError):
    """A local model ran out of accelerator memory for this batch. The engine halves the batch and tries
    again; at batch 1 it is an ordinary transient failure (retried, then deferred), never fatal."""


# How a provider's calls should be run: "cpu" work goes to worker processes (classical image
# processing); "io" work waits on a server and runs concurrently under rate limits; "device" work is a
# heavy local model (GPU, or CPU for tiny test models) that lives in long-lived spawned workers, one copy
# per device, which gather concurrent calls into batches (see the local provider's `*_many` methods).
Execution = Literal["cpu", "io", "device"]


@dataclass
class WriteRequest:
    image: np.ndarray
    edit_type: EditType
    seed: int
    facts: PhotoFacts = field(default_factory=PhotoFacts)
    history: list[str] = field(default_factory=list)  # earlier turns' instructions, oldest first


@dataclass
class TextReply:
    text: str
    raw: str = ""
    usage: Usage = field(default_factory=Usage)
    labels: list[str] | None = None  # a VLM writer's content labels for the photo; None: not asked / not said


@dataclass
class EditReply:
    image: np.ndarray
    raw: str = ""  # what the editor said besides the image (a caption, the parsed operation, ...)
    usage: Usage = field(default_factory=Usage)


@dataclass
class JudgeReply:
    """`scores` is None exactly when the judge abstains (it cannot judge this type) — never guessed."""

    scores: Scores | None
    rationale: str
    raw: str = ""
    usage: Usage = field(default_factory=Usage)
    abstain_reason: str | None = None
    # Set by a cheap prefilter judge when the edit is plainly unusable ("no visible change", "broken
    # output"): a judge chain then stops here instead of paying the next judge.
    hard_fail: str | None = None


@runtime_checkable
class Writer(Protocol):
    ref: ModelRef
    supported_types: frozenset[str]

    def write(self, request: WriteRequest) -> TextReply: ...


@runtime_checkable
class Rewriter(Protocol):
    ref: ModelRef

    def rewrite(self, long_instruction: str, edit_type: EditType, seed: int) -> TextReply: ...


@runtime_checkable
class Editor(Protocol):
    ref: ModelRef
    supported_types: frozenset[str]

    def edit(self, image: np.ndarray, instruction: str, seed: int) -> EditReply:
        """Perform what `instruction` asks. Raises ModelCallError when it cannot."""
        ...


@runtime_checkable
class Judge(Protocol):
    ref: ModelRef
    supported_types: frozenset[str]

    def judge(self, source: np.ndarray, edited: np.ndarray, instruction: str, edit_type: EditType) -> JudgeReply: ...
