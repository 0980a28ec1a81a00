"""Photos in: the run's sources listed, URLs fetched many at once, photos decoded in the workers, and
each one recorded in the ledger as a photo or as a skipped source with its reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from rich.console import Console
from rich.markup import escape

from editforge.config import RunConfig
from editforge.engine import work
from editforge.engine.bounded import run_bounded
from editforge.engine.progress import RunProgress
from editforge.models.base import TransientModelError
from editforge.records import Photo, SourceFailure
from editforge.sources import SourceItem
from editforge.sources.download import Downloader, DownloadError
from editforge.sources.folder import folder_items
from editforge.sources.samples import sample_items
from editforge.sources.urlpolicy import UrlPolicy
from editforge.sources.urls import FetchedItem, UrlItem, url_items
from editforge.store.ledger import Ledger


def list_sources(config: RunConfig) -> list[SourceItem]:
    if config.source == "samples":
        items: list[SourceItem] = list(sample_items())
    elif config.source == "urls":
        items = list(url_items(config.urls, url_policy(config)))  # type: ignore[arg-type]
    else:
        items = list(folder_items(config.images))  # type: ignore[arg-type]
    return items[: config.photos] if config.photos else items


def url_policy(config: RunConfig) -> UrlPolicy:
    return UrlPolicy(
        allow_private=config.allow_private_urls,
        max_bytes=int(config.max_download_mb * 1024 * 1024),
        deadline_s=config.download_deadline_s,
    )


class Intake:
    def __init__(
        self,
        config: RunConfig,
        ledger: Ledger,
        pool: Executor,
        progress: RunProgress,
        console: Console,
        stopped: Callable[[], bool],
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.pool = pool
        self.progress = progress
        self.console = console
        self.stopped = stopped

    async def run(self) -> list[str]:
        """Ingest the new photos; returns the ids of the run's photos, in source order."""
        config, ledger = self.config, self.ledger
        items = list_sources(config)
        new = [item for item in items if not ledger.is_known_source(item.uri)]
        self.progress.start("photos", total=len(items), done=len(items) - len(new))
        downloader = Downloader(url_policy(config), config.download_connections)

        async def one(item: SourceItem) -> None:
            result: Photo | SourceFailure | None = None
            if isinstance(item, UrlItem):  # fetched here, many at once; the worker only decodes
                try:
                    data = await downloader.fetch(item.uri)
                    item = FetchedItem(item.uri, attribution=item.attribution, license=item.license, data=data)
                except DownloadError as exc:
                    result = SourceFailure(uri=item.uri, reason=str(exc), retryable=exc.retryable)
            if result is None:
                result = await self._decode(item)
            if isinstance(result, SourceFailure):
                ledger.add_source_failure(result)
                again = " (will be retried on the next run)" if result.retryable else ""
                self.console.print(f"[yellow]skipped photo[/] {escape(result.reason)}{again}")
            else:
                ledger.add_photo(result)
            self.progress.advance("photos")

        urls = any(isinstance(item, UrlItem) for item in new)
        async with downloader:
            limit = max(config.workers * 2, config.download_connections * urls)
            await run_bounded(one, new, limit=limit, stop=self.stopped)
        seen: dict[str, None] = {}
        for item in items:  # source order, each distinct photo once (duplicates share a pixel hash)
            photo_id = ledger.photo_id_for_uri(item.uri)
            if photo_id is not None:
                seen.setdefault(photo_id)
        return list(seen)

    async def _decode(self, item: SourceItem) -> Any:
        # A worker that died (maybe on another photo) failed every call it held: try once more in the
        # replaced pool; a photo that kills it again is recorded, retried on the next run.
        loop = asyncio.get_running_loop()
        for tries_left in (1, 0):
            try:
                return await loop.run_in_executor(self.pool, work.do_ingest, item, self.config.max_side)
            except TransientModelError as exc:
                if not tries_left:
                    return SourceFailure(uri=item.uri, reason=f"{item.uri}: {exc.reason}", retryable=True)
        raise AssertionError("unreachable")
