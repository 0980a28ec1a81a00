"""The dispatcher: limits, retries that honour Retry-After, timeouts, budget, the watchdog's view."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from editforge.config import ModelLimits, RetryPolicy
from editforge.engine.calls import BudgetReached, CallDeferred, Dispatcher, ModelUnreachable
from editforge.models.base import TransientModelError
from editforge.models.prices import Price, PriceTable
from editforge.records import ModelRef

REF = ModelRef(provider="gemini", model="paid-model")


def dispatcher(limits: ModelLimits | None = None, tries: int = 4, timeout_s: float = 5.0, **kw) -> Dispatcher:
    return Dispatcher(
        executors={"editor": ThreadPoolExecutor(2)},
        execution={"judge": "io", "editor": "cpu"},
        refs={"judge": REF, "editor": ModelRef(provider="offline", model="classical-editor")},
        limits={"paid-model": limits or ModelLimits()},
        retries=RetryPolicy(max_tries=tries, base_s=0.01, max_wait_s=0.05),
        timeout_s=timeout_s,
        prices=PriceTable({"paid-model": Price(input_per_mtok=1000.0)}),
        **kw,
    )


class Flaky:
    """Fails `failures` times with a transient error (with Retry-After), then answers."""

    def __init__(self, failures: int, retry_after: float | None = None) -> None:
        self.failures, self.retry_after, self.calls, self.times = failures, retry_after, 0, []

    def __call__(self, value: int) -> int:
        self.calls += 1
        self.times.append(time.monotonic())
        if self.calls <= self.failures:
            raise TransientModelError("429 too many requests", retry_after=self.retry_after)
        return value * 2


def test_transient_errors_are_retried_no_sooner_than_retry_after() -> None:
    d, flaky = dispatcher(), Flaky(failures=2, retry_after=0.3)
    assert asyncio.run(d.call("judge", "t", flaky, 21)) == 42
    assert flaky.calls == 3 and d.tries == 3 and d.transient_errors == 2
    gaps = [b - a for a, b in zip(flaky.times, flaky.times[1:], strict=False)]
    assert all(gap >= 0.29 for gap in gaps), gaps


def test_retries_exhausted_defer_the_work() -> None:
    d, flaky = dispatcher(tries=3), Flaky(failures=10)
    with pytest.raises(CallDeferred, match="gave up after 3 failed tries"):
        asyncio.run(d.call("judge", "t", flaky, 1))
    assert flaky.calls == 3


def test_a_hung_call_times_out_and_counts_as_transient() -> None:
    d = dispatcher(tries=2, timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(CallDeferred, match="no reply within"):
        asyncio.run(d.call("judge", "t", time.sleep, 1.5))
    assert time.monotonic() - started < 1.2  # two timeouts, not two full hangs
    d.close()


def test_requests_per_minute_and_concurrency_are_respected() -> None:
    d = dispatcher(ModelLimits(rpm=600, concurrency=2))  # 10 requests/s, 2 in flight
    lock, live, peak = threading.Lock(), [0], [0]

    def work(i: int) -> int:
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.02)
        with lock:
            live[0] -= 1
        return i

    async def many() -> list[int]:
        return await asyncio.gather(*(d.call("judge", "t", work, i) for i in range(25)))

    started = time.monotonic()
    assert asyncio.run(many()) == list(range(25))
    elapsed = time.monotonic() - started
    assert peak[0] <= 2
    # a leaky bucket of one second's allowance: 10 at once, then 10/s for the other 15
    assert elapsed >= 1.4, f"25 requests at 10/s took only {elapsed:.2f} s"


def test_budget_stops_before_a_call_that_would_exceed_it() -> None:
    # typical judge call: 3000 input tokens at $1000/Mtok = $3
    d = dispatcher(budget_usd=5.0, spent_usd=1.0)
    assert asyncio.run(d.call("judge", "t", int, "7")) == 7
    d.charge(3.0)
    with pytest.raises(BudgetReached, match=r"budget \$5.00"):
        asyncio.run(d.call("judge", "t", int, "7"))


def test_cpu_roles_skip_limits_and_pricing() -> None:
    d = dispatcher(budget_usd=0.0)
    assert asyncio.run(d.call("editor", "t", int, "5")) == 5  # free, local: no budget check


def test_watchdog_lists_calls_running_too_long() -> None:
    d = dispatcher()

    async def scenario() -> list[str]:
        call = asyncio.ensure_future(d.call("judge", "task abc", time.sleep, 0.4))
        await asyncio.sleep(0.25)
        stuck = d.stuck(older_than_s=0.2)
        await call
        return stuck

    stuck = asyncio.run(scenario())
    assert len(stuck) == 1 and "judge call to paid-model for task abc" in stuck[0]
    assert d.stuck(older_than_s=0.0) == []


def test_a_429_cools_the_whole_model_down_and_does_not_use_up_tries() -> None:
    d = dispatcher(ModelLimits(concurrency=4), tries=2)
    refused = threading.Event()
    times: list[float] = []

    def quota(i: int) -> int:
        times.append(time.monotonic())
        if i == 0 and not refused.is_set():
            refused.set()
            raise TransientModelError("429 RESOURCE_EXHAUSTED", retry_after=0.4, rate_limited=True)
        return i

    def five_429s_then_ok(state={"n": 0}) -> str:  # noqa: B006 - a counter shared across calls on purpose
        state["n"] += 1
        if state["n"] <= 5:
            raise TransientModelError("429", retry_after=0.01, rate_limited=True)
        return "ok"

    async def scenario() -> list[int]:
        first = asyncio.ensure_future(d.call("judge", "t", quota, 0))
        await asyncio.sleep(0.05)  # the 429 has landed: the model is cooling down
        started = time.monotonic()
        rest = await asyncio.gather(*(d.call("judge", "t", quota, i) for i in range(1, 4)))
        assert time.monotonic() - started >= 0.3, "calls made during the cooldown should have waited"
        return [await first, *rest]

    assert asyncio.run(scenario()) == [0, 1, 2, 3]
    assert asyncio.run(d.call("judge", "t", five_429s_then_ok)) == "ok"  # 5 x 429 > max_tries=2, still served


def test_a_timed_out_call_is_counted_as_possibly_billed() -> None:
    seen: list[tuple] = []
    d = dispatcher(tries=2, timeout_s=0.2, budget_usd=100.0)
    d.on_possibly_billed = lambda *row: seen.append(row)
    with pytest.raises(CallDeferred):
        asyncio.run(d.call("judge", "t", time.sleep, 0.6, task_id="task-1"))
    typical = 3000 * 1000.0 / 1e6  # the typical judge call at $1000/Mtok input
    assert d.possibly_billed == 2 and d.spent_usd == pytest.approx(2 * typical)
    assert [(role, task, usage.cost_usd) for role, _, task, usage, _, _ in seen] == [("judge", "task-1", typical)] * 2
    d.close()


@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_the_engine_deadline_ends_the_sdk_request_itself(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider's own timeout is 120 s; the engine's 0.5 s must end the HTTP request, not leave it
    running (and billing) in its thread while the retry pays again."""
    from editforge import taxonomy
    from editforge.models.registry import build_role
    from editforge.testing.fake_gemini import FakeGemini
    from editforge.testing.fake_openai import FakeOpenAI

    key = "test-key-0123456789"
    fake = FakeGemini(api_key=key, hang_s=30) if provider == "gemini" else FakeOpenAI(api_key=key, hang_s=30)
    with fake as server:
        if provider == "gemini":
            monkeypatch.setenv("GEMINI_API_KEY", key)
            monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
            monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
        else:
            monkeypatch.setenv("OPENAI_API_KEY", key)
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        server.script("hang")
        rewriter = build_role("rewriter", provider, None, {})
        d = Dispatcher(
            executors={},
            execution={"rewriter": "io"},
            refs={"rewriter": rewriter.ref},
            limits={rewriter.ref.model: ModelLimits(concurrency=1)},  # one I/O thread
            retries=RetryPolicy(max_tries=1, base_s=0.01, max_wait_s=0.05),
            timeout_s=0.5,
            prices=PriceTable(),
        )
        started = time.monotonic()
        with pytest.raises(CallDeferred):
            asyncio.run(d.call("rewriter", "t", rewriter.rewrite, "Make the sky orange.", taxonomy.all_types()[0], 1))
        assert time.monotonic() - started < 3
        # The one I/O thread is free again within moments: the request ended, it is not hanging for 30 s.
        assert d.threads.submit(lambda: "free").result(timeout=3) == "free"
        assert d.possibly_billed == 1
        d.close()


def _transient_then(value: int, marker: str) -> int:
    """Module-level so a process pool can run it: fails transiently once (per marker file), then answers."""
    from pathlib import Path

    if not Path(marker).exists():
        Path(marker).touch()
        raise TransientModelError("device busy")
    return value * 2


def test_a_transient_error_in_a_process_pool_worker_is_retried(tmp_path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        d = dispatcher()
        d.executors["editor"] = pool
        assert asyncio.run(d.call("editor", "t", _transient_then, 21, str(tmp_path / "m"))) == 42
    assert d.transient_errors == 1 and d.tries == 2


def test_a_hung_cpu_call_times_out_as_transient_and_is_counted() -> None:
    d = dispatcher(tries=1, timeout_s=0.2)
    with pytest.raises(CallDeferred, match="no reply within"):
        asyncio.run(d.call("editor", "t", time.sleep, 2))
    assert d.abandoned_calls == 1


class Down:
    """Answers as scripted: "ok", or a refused connection (nothing reached a server)."""

    def __init__(self, script: list[str]) -> None:
        self.script, self.calls = iter(script), 0

    def __call__(self, value: int) -> int:
        self.calls += 1
        if next(self.script) == "down":
            raise TransientModelError("gemini m: cannot connect to http://x (ConnectError)", unreachable=True)
        return value


def test_a_model_never_reached_stops_the_run_after_a_few_tries_not_a_quota_wait() -> None:
    d, down = dispatcher(tries=6), Down(["down"] * 6)
    with pytest.raises(ModelUnreachable, match="cannot connect to http://x"):
        asyncio.run(d.call("judge", "t", down, 1))
    assert down.calls == 3


def test_a_model_that_answered_once_is_waited_for_through_a_network_blip() -> None:
    d, down = dispatcher(tries=6), Down(["ok", "down", "down", "down", "down", "ok"])

    async def two_calls() -> list[int]:
        return [await d.call("judge", "a", down, 1), await d.call("judge", "b", down, 2)]

    assert asyncio.run(two_calls()) == [1, 2]
    d, down = dispatcher(tries=3), Down(["ok"] + ["down"] * 3)
    asyncio.run(d.call("judge", "a", down, 1))
    with pytest.raises(CallDeferred, match="gave up after 3 failed tries"):
        asyncio.run(d.call("judge", "b", down, 1))
