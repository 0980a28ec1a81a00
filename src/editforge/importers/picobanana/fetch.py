"""Getting the bytes: manifests and edited images from the release's base URL, source photos from Open
Images (or, when asked, their Flickr URLs), every image verified and stored before it counts.

Downloads go through `sources.download` (untrusted-URL policy, total deadline, per-host politeness,
many connections); decoding and PNG encoding run on a thread pool so they never stall the downloads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin

from editforge.importers.picobanana.book import ImportBook, Missing, Stored, source_key, verify_and_store
from editforge.importers.picobanana.openimages import find_images, resolve_image_ids
from editforge.sources.download import Downloader, DownloadError, Fetched
from editforge.sources.urlpolicy import UrlPolicy
from editforge.store.files import write_atomic
from editforge.store.images import ImageStore

MANIFEST_MAX_BYTES = 4 << 30  # sft.jsonl is a few hundred MB; a manifest past this is not the release's


async def fetch_manifests(base_url: str, splits: Iterable[str], folder: Path, policy: UrlPolicy) -> None:
    """`jsonl/<split>.jsonl` under the base URL into `folder`, each once (a rerun reuses the copy)."""
    manifest_policy = policy.model_copy(update={"max_bytes": MANIFEST_MAX_BYTES, "deadline_s": 3600.0})
    async with Downloader(manifest_policy, connections=3) as downloader:
        for split in splits:
            target = folder / f"{split}.jsonl"
            if not target.exists():
                data = await downloader.fetch(urljoin(base_url, f"jsonl/{split}.jsonl"))
                write_atomic(target, data)


class Fetcher:
    """Fills the image store and the import book; `progress(n)` is called as images settle."""

    def __init__(
        self, run_dir: Path, book: ImportBook, policy: UrlPolicy, connections: int, progress: Callable[[int], None]
    ) -> None:
        self.store = ImageStore(run_dir, cache_size=0)  # shared by threads: no cache to race on
        self.book = book
        self.policy = policy
        self.connections = connections
        self.progress = progress
        # Decoding releases the GIL and each store write waits on fsync: more threads than cores pay off.
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="verify")
        self.problems: list[str] = []  # not about one row: a broken tar, say

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    async def _store(self, key: str, data: bytes, origin: str, network: bool) -> Stored | Missing:
        outcome = await asyncio.get_running_loop().run_in_executor(
            self.pool, verify_and_store, self.store, key, data, origin
        )
        if isinstance(outcome, Missing) and network and "truncated" in outcome.reason:
            outcome = Missing(key, outcome.reason, retryable=True)  # cut short in transit: ask again next time
        return outcome

    async def urls(self, wanted: dict[str, str]) -> None:
        """Fetch key → URL, verify, store, record each outcome as it comes."""
        if not wanted:
            return
        by_url: dict[str, list[str]] = {}
        for key, url in wanted.items():
            by_url.setdefault(url, []).append(key)
        pending: set[asyncio.Future[None]] = set()

        async def settle(result: Fetched) -> None:
            for key in by_url[result.url]:
                if result.data is not None:
                    outcome = await self._store(key, result.data, result.url, network=True)
                else:
                    error: DownloadError = result.error  # type: ignore[assignment]
                    outcome = Missing(key, str(error), error.retryable)
                self.book.record(outcome)
                self.progress(1)

        def on_result(result: Fetched) -> None:
            # Verification runs beside the downloads, not in their way: a download slot frees at once.
            task = asyncio.ensure_future(settle(result))
            pending.add(task)
            task.add_done_callback(pending.discard)

        async with Downloader(self.policy, self.connections) as downloader:
            await downloader.fetch_all(list(by_url), on_result)
        while pending:
            await asyncio.gather(*list(pending))

    async def open_images(self, urls: list[str], csv_path: Path, locations: list[Path]) -> list[str]:
        """Resolve source photos through the CSV and the tars/folders; returns the URLs not resolved."""
        loop = asyncio.get_running_loop()
        ids = await loop.run_in_executor(None, resolve_image_ids, csv_path, urls)
        keys_by_id: dict[str, list[str]] = {}
        for url, image_id in ids.items():
            keys_by_id.setdefault(image_id, []).append(url)
        found: set[str] = set()
        images = iter(find_images(locations, set(keys_by_id), self.problems))
        while (item := await loop.run_in_executor(None, next, images, None)) is not None:
            image_id, data = item
            found.add(image_id)
            for url in keys_by_id[image_id]:
                if isinstance(data, Exception):
                    outcome: Stored | Missing = Missing(source_key(url), f"Open Images {image_id}: {data}", False)
                else:
                    outcome = await self._store(source_key(url), data, f"openimages:{image_id}", network=False)
                self.book.record(outcome)
                self.progress(1)
        for url in urls:
            image_id = ids.get(url)
            if image_id is None or image_id not in found:
                # Not retried as such; reconsidered when the tars, CSV or fallback change (forget_local_misses).
                why = (
                    f"{url}: not in {csv_path.name} (no ImageID for this URL)"
                    if image_id is None
                    else f"{url}: Open Images {image_id}.jpg is in none of the tars/folders given"
                )
                self.book.record(Missing(source_key(url), why, retryable=False, origin="openimages"))
        return [url for url in urls if ids.get(url) not in found]
