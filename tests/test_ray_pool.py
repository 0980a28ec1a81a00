"""The actor pool as an Executor: results and errors as a local pool gives them, autoscaling within its
bounds, and calls of an actor that dies sent again to another (on the session's local Ray)."""

from __future__ import annotations

import asyncio
import operator
import os
import signal
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from editforge.config import RayPool, Roles, RoleSpec  # noqa: E402
from editforge.engine.ray_pool import ActorPoolExecutor, WorkerInit  # noqa: E402
from editforge.models.base import FatalModelError, TransientModelError  # noqa: E402


def _pool(tmp_path: Path, resubmits: int = 3, idle_s: float = 60.0, **spec) -> ActorPoolExecutor:
    settings = RayPool(**{"num_cpus": 0.5, "min_actors": 1, "max_actors": 2, **spec})
    return ActorPoolExecutor("test", settings, WorkerInit(str(tmp_path), Roles()), resubmits, idle_s)


def test_results_and_the_workers_own_errors_come_back(ray_cluster, tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    try:
        assert pool.submit(operator.add, 2, 3).result(timeout=60) == 5
        with pytest.raises(ZeroDivisionError):  # not a RayTaskError: the dispatcher tells errors apart by type
            pool.submit(operator.truediv, 1, 0).result(timeout=60)
        assert pool.submit(os.getpid).result(timeout=60) != os.getpid()  # it ran in an actor
    finally:
        pool.shutdown()


def test_the_pool_grows_to_its_maximum_under_load_and_shrinks_back_when_idle(ray_cluster, tmp_path: Path) -> None:
    pool = _pool(tmp_path, idle_s=0.5)
    try:
        assert pool.size == 1
        busy = [pool.submit(time.sleep, 0.4) for _ in range(6)]
        assert pool.size == 2  # grew by demand, never past max_actors
        for future in busy:
            future.result(timeout=60)
        assert len(set(pool.pids())) == 2 and pool.started == 2
        time.sleep(0.8)
        pool.submit(operator.add, 1, 1).result(timeout=60)
        assert pool.size == 1  # the idle actor above min_actors was released
    finally:
        pool.shutdown()


def test_calls_of_an_actor_killed_mid_call_finish_on_another(ray_cluster, tmp_path: Path) -> None:
    pool = _pool(tmp_path, min_actors=2)
    try:
        victim = pool.pids()[0]
        calls = [pool.submit(time.sleep, 0.5) for _ in range(6)]  # three queued on each actor
        time.sleep(0.2)
        os.kill(victim, signal.SIGKILL)
        assert [f.result(timeout=120) for f in calls] == [None] * 6
        assert pool.lost_actors == 1 and pool.resent >= 1
        assert victim not in pool.pids()
    finally:
        pool.shutdown()


def test_a_call_whose_actors_keep_dying_fails_once_its_resends_are_spent(ray_cluster, tmp_path: Path) -> None:
    pool = _pool(tmp_path, resubmits=0, max_actors=1)
    try:
        victim = pool.pids()[0]
        call = pool.submit(time.sleep, 5)
        time.sleep(0.3)
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(TransientModelError, match="died 1 times"):  # the engine retries, then defers
            call.result(timeout=60)
        assert pool.submit(operator.mul, 6, 7).result(timeout=60) == 42  # a fresh actor took its place
    finally:
        pool.shutdown()


def test_an_actor_whose_model_cannot_load_stops_the_run_with_the_reason(ray_cluster, tmp_path: Path) -> None:
    roles = Roles(editor=RoleSpec(provider="no-such-provider"))
    settings = RayPool(num_cpus=0.5, num_gpus=0, max_actors=2)
    pool = ActorPoolExecutor("editor", settings, WorkerInit(str(tmp_path), roles), 3, 60.0, device_role="editor")
    try:
        with pytest.raises(FatalModelError, match="editor actors cannot start.*no-such-provider"):
            pool.submit(operator.add, 1, 2).result(timeout=60)
        assert pool.resent == 0  # not sent again to another actor that would fail the same way
    finally:
        pool.shutdown()


def _hang_once(value: int, marker: str) -> int:  # sent by value: the actors cannot import this test module
    """A test-only model call that hangs the first time (a stuck driver, a wedged GPU kernel)."""
    try:
        Path(marker).touch(exist_ok=False)
    except FileExistsError:
        return value * 2
    time.sleep(300)
    return value * 2


ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])



def test_a_hung_call_gets_its_actor_replaced_so_the_pools_capacity_comes_back(
    ray_cluster, tmp_path: Path, editor_dispatcher
) -> None:
    pool = _pool(tmp_path, min_actors=1, max_actors=1)
    try:
        hung_pid = pool.pids()[0]
        d = editor_dispatcher(pool, local_timeout_s=2.0)
        marker = str(tmp_path / "hung")

        async def calls() -> list[int]:
            return await asyncio.gather(*(d.call("editor", f"t{i}", _hang_once, i, marker) for i in range(3)))

        started = time.monotonic()
        assert asyncio.run(calls()) == [0, 2, 4]  # with one actor, nothing after the hung call could run without this
        assert time.monotonic() - started < 60
        assert pool.hung_replaced == 1 and d.abandoned_calls == 1
        assert pool.size == 1 and hung_pid not in pool.pids()  # the stuck actor is gone, a fresh one took its place
    finally:
        pool.shutdown()


def test_the_timeout_counts_a_calls_own_running_time_not_its_wait_for_a_slot(
    ray_cluster, tmp_path: Path, editor_dispatcher
) -> None:
    pool = _pool(tmp_path, min_actors=1, max_actors=1)
    try:
        pool.pids()  # started: the clock must not count the actor's start either
        d = editor_dispatcher(pool, local_timeout_s=1.5)

        async def calls() -> list[None]:
            return await asyncio.gather(*(d.call("editor", f"t{i}", time.sleep, 0.6) for i in range(4)))

        # Each runs 0.6 s, well inside 1.5 s; queued on the one actor the last waits 1.8 s before it runs.
        assert asyncio.run(calls()) == [None] * 4
        assert d.abandoned_calls == 0 and d.transient_errors == 0 and pool.hung_replaced == 0
    finally:
        pool.shutdown()


def test_a_call_waiting_for_a_slot_is_not_running_yet(ray_cluster, tmp_path: Path) -> None:
    pool = _pool(tmp_path, min_actors=1, max_actors=1)
    try:
        pool.pids()
        first, second = pool.submit(time.sleep, 1.0), pool.submit(operator.add, 1, 2)
        time.sleep(0.5)
        assert first.running() and not second.running() and not second.done()
        assert second.result(timeout=60) == 3
    finally:
        pool.shutdown()
