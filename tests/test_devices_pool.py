"""Device workers (engine.devices.pool + worker): spawned per (role, device), batching, and what happens
when a model runs out of memory, crashes its process, hangs or fails transiently — with test-only device
providers (tests/device_support.py) whose behaviour each test picks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import pytest

from device_support import PROVIDER
from editforge.config import RetryPolicy, Roles, RoleSpec
from editforge.engine import work
from editforge.engine.calls import Dispatcher
from editforge.engine.devices.pool import DevicePool
from editforge.models.base import FatalModelError, TransientModelError
from editforge.models.prices import PriceTable
from editforge.models.registry import PROVIDERS, build_role
from editforge.records import Instruction, ModelRef, Task


@pytest.fixture(autouse=True)
def testdevice_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS, *PROVIDER)


def _task(i: int) -> tuple[Task, Instruction]:
    task = Task(task_id=f"t{i}", photo_id="p", edit_type="global_lighting", seed=i, input_image="x.png")
    long = Instruction(
        task_id=task.task_id,
        kind="long",
        text=f"Make the whole photo brighter, number {i}.",
        model=ModelRef(provider="offline", model="template-writer"),
    )
    return task, long


@pytest.fixture
def pool_for(tmp_path: Path) -> Iterator[Any]:
    pools: list[DevicePool] = []

    def make(options: dict[str, Any], timeout_s: float = 60.0) -> tuple[DevicePool, list[str]]:
        options = {"state_dir": str(tmp_path), **options}
        roles = Roles(rewriter=RoleSpec(provider="testdevice", options=options))
        model = build_role("rewriter", "testdevice", None, options)
        lines: list[str] = []
        pool = DevicePool("rewriter", model, tmp_path, roles, timeout_s, log=lines.append)
        pools.append(pool)
        return pool, lines

    yield make
    for pool in pools:
        pool.shutdown()


def _batches(results: list[Instruction]) -> list[int]:
    return [int(r.raw_reply.split()[0].removeprefix("batch=")) for r in results]


def test_concurrent_calls_are_gathered_into_batches(pool_for: Any) -> None:
    pool, _ = pool_for({"batch_size": 4, "batch_wait_s": 0.3, "sleep_s": 0.2})
    futures = [pool.submit(work.do_rewrite, *_task(i)) for i in range(8)]
    results = [f.result(timeout=120) for f in futures]
    assert [r.task_id for r in results] == [f"t{i}" for i in range(8)]  # every call answered, in its own order
    assert max(_batches(results)) == 4
    stats = pool.stats()
    assert stats["items"] == 8 and stats["batches"] < 8
    assert all(r.usage.device_seconds > 0 for r in results)  # each call carries its share of the batch


def test_a_per_item_failure_stays_with_its_item(pool_for: Any) -> None:
    pool, _ = pool_for({"batch_size": 4, "batch_wait_s": 0.3})
    task, long = _task(1)
    bad = long.model_copy(update={"text": "REFUSE this one"})
    good, refused = pool.submit(work.do_rewrite, *_task(0)), pool.submit(work.do_rewrite, task, bad)
    assert isinstance(good.result(timeout=120), Instruction)
    failure = refused.result(timeout=120)
    assert isinstance(failure, work.StageFailure) and "refused (test)" in failure.reason


def test_out_of_memory_halves_the_batch_and_nothing_is_lost(pool_for: Any) -> None:
    pool, lines = pool_for({"batch_size": 8, "batch_wait_s": 0.5, "oom_above": 2})
    futures = [pool.submit(work.do_rewrite, *_task(i)) for i in range(8)]
    results = [f.result(timeout=120) for f in futures]
    assert all(isinstance(r, Instruction) for r in results)
    assert max(_batches(results)) <= 2
    worker = pool.stats()["workers"][0]
    assert worker["oom_halvings"] >= 1 and worker["batch_limit"] <= 2
    assert any("out of device memory at batch" in line for line in lines)


def test_out_of_memory_at_batch_one_is_a_transient_error(pool_for: Any) -> None:
    pool, _ = pool_for({"batch_size": 1, "oom_above": 0})
    with pytest.raises(TransientModelError, match="out of memory"):
        pool.submit(work.do_rewrite, *_task(0)).result(timeout=120)


def test_a_model_that_cannot_load_fails_the_role_with_the_reason(pool_for: Any) -> None:
    pool, _ = pool_for({"fail_load": True})
    with pytest.raises(FatalModelError, match="could not be loaded on auto: RuntimeError: weights file is truncated"):
        pool.submit(work.do_rewrite, *_task(0)).result(timeout=120)
    with pytest.raises(FatalModelError):  # later calls fail at once, no new worker
        pool.submit(work.do_rewrite, *_task(1)).result(timeout=1)


def _dispatcher(pool: DevicePool, tries: int = 4) -> Dispatcher:
    return Dispatcher(
        executors={"rewriter": pool},
        execution={"rewriter": "device"},
        refs={"rewriter": ModelRef(provider="testdevice", model="device-rewriter")},
        limits={},
        retries=RetryPolicy(max_tries=tries, base_s=0.01, max_wait_s=0.05),
        timeout_s=pool.timeout_s,
        prices=PriceTable({}),
    )


async def _call_all(d: Dispatcher, n: int) -> list[Any]:
    return await asyncio.gather(*(d.call("rewriter", f"t{i}", work.do_rewrite, *_task(i)) for i in range(n)))


def test_a_crashed_worker_is_replaced_and_its_calls_retried(pool_for: Any) -> None:
    pool, lines = pool_for({"batch_size": 2, "crash_once": True})
    d = _dispatcher(pool)
    results = asyncio.run(_call_all(d, 4))
    assert [r.task_id for r in results] == ["t0", "t1", "t2", "t3"]  # nothing lost
    assert pool.crashes == 1 and d.transient_errors >= 1
    assert any("died (exit code 3)" in line for line in lines)
    pids = {r.raw_reply.split()[1] for r in results}
    assert len(pids) == 1  # all answered by the replacement: the first worker died on its first batch


def test_a_hung_worker_is_killed_replaced_and_its_call_retried(pool_for: Any) -> None:
    pool, lines = pool_for({"batch_size": 1, "hang_once": True}, timeout_s=3.0)
    d = _dispatcher(pool)
    results = asyncio.run(_call_all(d, 2))
    assert [r.task_id for r in results] == ["t0", "t1"]
    assert pool.hangs == 1
    assert any("ran past 3 s" in line for line in lines)


def test_transient_errors_raised_in_a_worker_are_retried(pool_for: Any) -> None:
    pool, _ = pool_for({"batch_size": 1, "transient_times": 2})
    d = _dispatcher(pool)
    results = asyncio.run(_call_all(d, 1))
    assert results[0].task_id == "t0" and d.transient_errors == 2 and d.tries == 3


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_weights_live_in_the_worker_not_in_the_runner(pool_for: Any) -> None:
    before = _rss_bytes()
    pool, _ = pool_for({"weights_mb": 300})
    wait([pool.submit(work.do_rewrite, *_task(0))], timeout=120)
    assert pool.stats()["ready"] == 1
    assert _rss_bytes() - before < 50 * 2**20
