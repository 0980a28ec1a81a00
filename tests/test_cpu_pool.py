"""The CPU pool that survives its workers (engine.cpu_pool): a worker that dies or hangs is replaced and
the calls it held are retried by the Dispatcher, where the standard pool would break the run."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from editforge.engine.calls import Dispatcher
from editforge.engine.cpu_pool import RestartingProcessPool


def _once(marker: str) -> bool:
    try:
        Path(marker).touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


def die_once(value: int, marker: str) -> int:
    if _once(marker):
        os._exit(7)  # a segfault, as far as the pool can tell
    return value * 2


def hang_once(value: int, marker: str) -> int:
    if _once(marker):
        time.sleep(120)
    return value * 2



async def _calls(d: Dispatcher, fn, marker: str, n: int) -> list[int]:  # noqa: ANN001
    return await asyncio.gather(*(d.call("editor", f"t{i}", fn, i, marker) for i in range(n)))


def test_a_dead_worker_is_replaced_and_every_call_it_held_retried(tmp_path: Path, editor_dispatcher) -> None:
    lines: list[str] = []
    pool = RestartingProcessPool(lambda: ProcessPoolExecutor(2), lines.append)
    try:
        d = editor_dispatcher(pool)
        assert asyncio.run(_calls(d, die_once, str(tmp_path / "died"), 4)) == [0, 2, 4, 6]
        assert pool.restarts == 1 and d.transient_errors >= 1
        assert any("worker process died" in line for line in lines)
    finally:
        pool.shutdown()


def test_a_hung_worker_is_killed_and_its_call_retried(tmp_path: Path, editor_dispatcher) -> None:
    pool = RestartingProcessPool(lambda: ProcessPoolExecutor(1))
    try:
        d = editor_dispatcher(pool, local_timeout_s=1.0)
        started = time.monotonic()
        assert asyncio.run(_calls(d, hang_once, str(tmp_path / "hung"), 2)) == [0, 2]
        assert time.monotonic() - started < 60  # not the 120 s the hung call would have taken
        # the stdlib marks one queued call "running" early, so the call behind the hung one may time out too
        assert d.abandoned_calls >= 1 and pool.restarts >= 1
    finally:
        pool.shutdown()
