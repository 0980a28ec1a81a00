"""Bounded concurrency over a stream: the runner's one way of keeping N things in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def run_bounded(
    fn: Callable[[T], Awaitable[None]],
    items: Iterable[T],
    limit: int,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Run fn over items, at most `limit` in flight, creating coroutines only as slots free up.

    `items` may be a generator over millions of planned tasks: it is read one item at a time."""
    pending: set[asyncio.Task[None]] = set()
    for item in items:
        if stop():
            break
        if len(pending) >= limit:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for f in finished:
                f.result()
        pending.add(asyncio.ensure_future(fn(item)))
    if pending:
        finished, _ = await asyncio.wait(pending)
        for f in finished:
            f.result()
