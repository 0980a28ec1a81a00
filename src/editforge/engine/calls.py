"""Where each model call runs, how fast, how often it is retried, and what it costs.

CPU-bound models (classical processing, local models) run in the worker processes. I/O-bound models
(hosted APIs) run in threads of this process, concurrently per model under that model's limits:
requests/min and tokens/min (aiolimiter), calls in flight (a semaphore), a timeout on every call, and
retries of transient failures with exponential backoff and jitter that never come sooner than the
server's Retry-After (tenacity). Every finished call is priced, and a budget is checked before a paid
call starts, so a run stops *before* it would spend more than it was given.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_random_exponential

from editforge.config import ModelLimits, RetryPolicy
from editforge.models.base import REQUEST_DEADLINE_S, Execution, FatalModelError, Role, TransientModelError
from editforge.models.prices import PriceTable
from editforge.records import ModelRef, Usage

T = TypeVar("T")

# Typical size of one call, for the token limiter and the budget check before a call is made.
TYPICAL_USAGE: dict[str, Usage] = {
    "writer": Usage(input_tokens=1600, output_tokens=120),
    "rewriter": Usage(input_tokens=450, output_tokens=20),
    "editor": Usage(input_tokens=1400, output_tokens=1300, images=1),
    "judge": Usage(input_tokens=3000, output_tokens=150),
}
TYPICAL_USAGE["tiebreak"] = TYPICAL_USAGE["judge"]  # a second judge, asked when multi-pass judging disagrees


# How long past its deadline a call may take to come back with the SDK's own timeout error (the request
# is given the deadline, so it ends by itself) before the engine stops waiting for its thread: a
# quarter of the deadline, at most this.
TIMEOUT_GRACE_S = 2.0

# (role, model, task id, priced typical usage, seconds waited, why) of a call that timed out: the
# server may have done and billed it, so it is recorded and counted at its typical cost.
PossiblyBilled = Callable[[Role, ModelRef, "str | None", Usage, float, str], None]


QUEUE_POLL_S = 0.05  # how often a queued CPU call is checked for having started (its timeout starts then)


class BudgetReached(Exception):
    """The next paid call would take the run past its budget."""


class CallDeferred(Exception):
    """Transient failures outlasted every retry: the work stays planned for the next run."""


class ModelUnreachable(FatalModelError):
    """A model that has not answered once in this run cannot be connected to (DNS, refused): the
    network or the endpoint is wrong, and waiting it out would only hide that."""


# Tries of a model that has never answered before a connection failure is taken as the model being
# unreachable (a few: one dropped packet on a working network must not stop a run).
UNREACHABLE_TRIES = 3


@dataclass
class InFlight:
    role: str
    model: str
    label: str
    started: float


class _ModelLimiter:
    """One model's limits: requests/min, tokens/min, calls in flight."""

    def __init__(self, limits: ModelLimits) -> None:
        # Buckets of about one second of allowance: a long burst at start would overshoot the limit.
        self.requests = _per_second(limits.rpm / 60) if limits.rpm else None
        self.tokens = AsyncLimiter(limits.tpm / 60 * 5, 5) if limits.tpm else None
        self.slots = asyncio.Semaphore(limits.concurrency)
        self.concurrency = limits.concurrency
        self.cooldown_until = 0.0  # after a 429 every call to the model waits, not just the one refused

    def throttle(self, seconds: float) -> None:
        self.cooldown_until = max(self.cooldown_until, time.monotonic() + seconds)

    async def enter(self, tokens: int) -> None:
        await self.slots.acquire()
        try:
            while (wait := self.cooldown_until - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            if self.requests:
                await self.requests.acquire()
            if self.tokens:
                await self.tokens.acquire(min(tokens, self.tokens.max_rate))
        except BaseException:
            self.slots.release()
            raise

    def leave(self) -> None:
        self.slots.release()


def _per_second(rate: float) -> AsyncLimiter:
    return AsyncLimiter(rate, 1) if rate >= 1 else AsyncLimiter(1, 1 / rate)


class _AtLeastRetryAfter:
    """Full-jitter exponential backoff, but never sooner than the server asked."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.backoff = wait_random_exponential(multiplier=policy.base_s, max=policy.max_wait_s)

    def __call__(self, state: RetryCallState) -> float:
        wait = self.backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientModelError) and error.retry_after:
            wait = max(wait, error.retry_after)
        return wait


class Dispatcher:
    def __init__(
        self,
        executors: dict[str, Executor],
        execution: dict[Role, Execution],
        refs: dict[Role, ModelRef],
        limits: dict[str, ModelLimits],
        retries: RetryPolicy,
        timeout_s: float,
        prices: PriceTable,
        budget_usd: float | None = None,
        spent_usd: float = 0.0,
        local_timeout_s: float | None = None,
    ) -> None:
        self.executors = executors  # role → where its non-I/O calls run (process pool, device workers, Ray)
        self.execution = execution
        self.refs = refs
        self.retries = retries
        self.timeout_s = timeout_s
        self.local_timeout_s = local_timeout_s or timeout_s  # CPU and device calls, from when a worker takes them
        self.prices = prices
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        self._reserved = 0.0
        self._limiters = {
            ref.model: _ModelLimiter(limits.get(ref.model, ModelLimits()))
            for role, ref in refs.items()
            if execution.get(role) == "io"
        }
        threads = sum(limiter.concurrency for limiter in self._limiters.values()) or 1
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="editforge-io")
        self.in_flight: dict[int, InFlight] = {}
        self._ids = itertools.count()
        self.tries = 0  # calls sent, retries included
        self._answered: set[str] = set()  # models that have answered at least once in this run
        self.transient_errors = 0
        self.possibly_billed = 0  # timed-out calls, counted at their typical cost
        self.on_possibly_billed: PossiblyBilled | None = None  # the ledger's record of them
        self.on_billed_failure: PossiblyBilled | None = None  # ... and of billed parts of retried calls
        self.abandoned = 0  # threads still running a call their caller gave up on (should stay ~0)
        self.abandoned_calls = 0  # calls timed out in an executor that cannot stop them (a process pool)

    def close(self) -> None:
        # Threads blocked on a hung server are not waited for: their SDK timeout ends them.
        self.threads.shutdown(wait=False, cancel_futures=True)

    def price(self, role: Role, usage: Usage) -> Usage:
        return usage.model_copy(update={"cost_usd": self.prices.cost(self.refs[role].model, usage)})

    async def call(self, role: Role, label: str, fn: Callable[..., T], *args: Any, task_id: str | None = None) -> T:
        """Run `fn(*args)` (a picklable function from engine.work) where `role`'s model runs best.

        Every execution kind gets a timeout and retries of transient failures; only I/O-bound models
        also pass their rate limits and the budget check (local work is not billed)."""
        loop = asyncio.get_running_loop()
        if self.execution.get(role, "cpu") != "io":
            executor = self.executors[role]
            return await self._retrying(
                role, task_id, lambda: self._tracked(role, label, self._in_executor(loop, executor, fn, *args))
            )
        limiter = self._limiters[self.refs[role].model]
        estimate = self.prices.cost(self.refs[role].model, TYPICAL_USAGE[role])
        self._reserve(estimate)
        try:
            return await self._retrying(
                role, task_id, lambda: self._tracked(role, label, self._timed(loop, fn, *args)), limiter
            )
        finally:
            self._reserved -= estimate

    async def _retrying(
        self, role: Role, task_id: str | None, attempt_call: Callable[[], Any], limiter: _ModelLimiter | None = None
    ) -> Any:
        started, failures, unreachable = time.monotonic(), [0], [0]
        model = self.refs[role].model

        def give_up(_: RetryCallState) -> bool:
            # A 429 is the quota speaking, not this call failing: those retry until patience runs out;
            # other transient errors get max_tries.
            patience = time.monotonic() - started > self.retries.rate_limit_patience_s
            return failures[0] >= self.retries.max_tries or patience

        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TransientModelError),
                stop=give_up,
                wait=_AtLeastRetryAfter(self.retries),
                reraise=True,
            ):
                with attempt:
                    if limiter is not None:
                        await limiter.enter(TYPICAL_USAGE[role].input_tokens)
                    sent = time.monotonic()
                    try:
                        self.tries += 1
                        result = await attempt_call()
                        self._answered.add(model)
                        return result
                    except TransientModelError as exc:
                        self.transient_errors += 1
                        if exc.unreachable and model not in self._answered:
                            unreachable[0] += 1
                            if unreachable[0] >= min(UNREACHABLE_TRIES, self.retries.max_tries):
                                raise ModelUnreachable(
                                    f"{exc.reason}; check the network and the {role}'s endpoint"
                                ) from None
                        elif not exc.unreachable:
                            self._answered.add(model)  # a 429 or 5xx is an answer: the server is there
                        if exc.timed_out and limiter is not None:  # only a server bills a call it never answered
                            self._count_possibly_billed(role, task_id, time.monotonic() - sent, exc.reason)
                        elif exc.usage.input_tokens or exc.usage.output_tokens or exc.usage.images:
                            self._count_billed(role, task_id, exc.usage, time.monotonic() - sent, exc.reason)
                        if exc.rate_limited and limiter is not None:
                            limiter.throttle(exc.retry_after or self.retries.base_s)
                        else:
                            failures[0] += 1
                        raise
                    finally:
                        if limiter is not None:
                            limiter.leave()
        except TransientModelError as exc:
            if exc.rate_limited:
                why = f"still rate limited after {time.monotonic() - started:.0f} s"
            else:
                why = f"gave up after {failures[0]} failed tries"
            raise CallDeferred(f"{role} {model}: {why} ({exc.reason})") from exc
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _in_executor(
        self, loop: asyncio.AbstractEventLoop, executor: Executor, fn: Callable[..., T], *args: Any
    ) -> T:
        started = executor.submit(fn, *args)
        future = asyncio.wrap_future(started, loop=loop)
        if getattr(executor, "enforces_timeout", False):  # device workers: the pool kills and replaces a hung one
            return await future
        # The clock starts when a worker takes the call, not while it queues behind others for a free one.
        while not (started.running() or started.done()):
            await asyncio.wait({future}, timeout=QUEUE_POLL_S)
        try:
            return await asyncio.wait_for(future, self.local_timeout_s)
        except asyncio.TimeoutError:
            # A process-pool worker cannot be stopped alone: a pool that can replace its workers does
            # (the held calls are retried); the runner kills any left at the end instead of waiting.
            self.abandoned_calls += 1
            abandon = getattr(executor, "abandon", None)  # a pool that can stop this one call (Ray actors)
            replace = getattr(executor, "replace_hung", None)
            if abandon is not None:
                abandon(started)
            elif replace is not None:
                replace()
            raise TransientModelError(f"no reply within {self.local_timeout_s:.0f} s") from None

    def charge(self, cost_usd: float) -> None:
        self.spent_usd += cost_usd

    def _count_possibly_billed(self, role: Role, task_id: str | None, waited_s: float, reason: str) -> None:
        """A call with no reply in time may still have been done and billed by the server: the budget and
        the ledger count it at its typical cost (conservatively: it may have cost nothing)."""
        usage = self.price(role, TYPICAL_USAGE[role])
        self.charge(usage.cost_usd)
        self.possibly_billed += 1
        if self.on_possibly_billed is not None:
            self.on_possibly_billed(role, self.refs[role], task_id, usage, waited_s, reason)

    def _count_billed(self, role: Role, task_id: str | None, usage: Usage, waited_s: float, reason: str) -> None:
        """Part of a call that was answered and billed before the call failed transiently (it is retried)."""
        priced = self.price(role, usage)
        self.charge(priced.cost_usd)
        if self.on_billed_failure is not None:
            self.on_billed_failure(role, self.refs[role], task_id, priced, waited_s, reason)

    def _reserve(self, estimate: float) -> None:
        if self.budget_usd is not None and self.spent_usd + self._reserved + estimate > self.budget_usd:
            raise BudgetReached(
                f"budget ${self.budget_usd:.2f} reached: spent ${self.spent_usd:.4f}, "
                f"${self._reserved:.4f} in flight, next call ≈ ${estimate:.4f}"
            )
        self._reserved += estimate

    async def _timed(self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any) -> T:
        # The provider hands the deadline to its SDK as the request's timeout, so the HTTP request ends
        # with it: a timed-out call does not run on in its thread, billing, while its retry bills again.
        future = loop.run_in_executor(self.threads, _with_deadline, self.timeout_s, fn, *args)
        try:
            grace = min(TIMEOUT_GRACE_S, self.timeout_s / 4)
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_s + grace)
        except asyncio.TimeoutError:
            # A provider that ignores the deadline: its thread is abandoned, and counted until it ends.
            self.abandoned += 1
            future.add_done_callback(self._thread_ended)
            raise TransientModelError(f"no reply within {self.timeout_s:.0f} s", timed_out=True) from None

    def _thread_ended(self, future: asyncio.Future[Any]) -> None:
        self.abandoned -= 1
        if not future.cancelled():
            future.exception()  # nobody waits for it any more: read, so asyncio does not log it as lost

    async def _tracked(self, role: str, label: str, awaitable: Any) -> Any:
        call_id = next(self._ids)
        self.in_flight[call_id] = InFlight(role, self.refs[role].model, label, time.monotonic())  # type: ignore[index]
        try:
            return await awaitable
        finally:
            del self.in_flight[call_id]

    def stuck(self, older_than_s: float) -> list[str]:
        """What the watchdog reports: calls running longer than they should."""
        now = time.monotonic()
        lines = [
            f"{c.role} call to {c.model} for {c.label} running {now - c.started:.0f} s"
            for c in self.in_flight.values()
            if now - c.started > older_than_s
        ]
        if self.abandoned:
            lines.append(f"{self.abandoned} timed-out call(s) still running in their threads (deadline ignored)")
        return lines


def _with_deadline(deadline_s: float, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in an I/O thread with the engine's deadline visible to the provider."""
    token = REQUEST_DEADLINE_S.set(deadline_s)
    try:
        return fn(*args)
    finally:
        REQUEST_DEADLINE_S.reset(token)
