"""The concurrent downloader against a misbehaving server on 127.0.0.1 (a private address: every test
but the refusal ones passes allow_private, as a local mirror would)."""

from __future__ import annotations

import asyncio
import time

import pytest

from editforge.sources.download import Downloader, DownloadError, Fetched, download
from editforge.sources.urlpolicy import UrlPolicy
from editforge.testing.fake_web import FakeWeb

MIRROR = UrlPolicy(allow_private=True, retry_wait_s=0.05, max_wait_s=0.2, per_host_rps=None)
BODY = bytes(range(256)) * 40  # 10 KB


@pytest.fixture
def web():
    with FakeWeb() as server:
        server.add("/a.png", BODY)
        yield server


def test_loopback_is_refused_by_default_even_through_a_redirect(web: FakeWeb) -> None:
    with pytest.raises(DownloadError, match="loopback address") as direct:
        download(web.url("/a.png"))
    assert not direct.value.retryable and web.hits["/a.png"] == 0  # refused before any connection

    # An allowed-looking first hop (here: the mirror itself, allowed) that redirects to a refused address.
    web.redirect("/hop", f"http://localhost:{web.port}/a.png")
    only_127 = UrlPolicy(allow_private=True)
    assert download(web.url("/hop"), only_127) == BODY
    hops: list[str] = []

    class OnlyFirstHop(UrlPolicy):
        def check_address(self, host: str, address: str) -> None:
            hops.append(host)
            if host == "localhost":  # the redirect's target: treat it as the private address it is
                UrlPolicy().check_address(host, address)

    with pytest.raises(DownloadError, match="localhost resolves to 127.0.0.1, a loopback") as redirected:
        download(web.url("/hop"), OnlyFirstHop())
    assert hops == ["127.0.0.1", "localhost"] and web.hits["/a.png"] == 1  # the target was never asked
    assert not redirected.value.retryable


def test_redirect_to_another_scheme_and_redirect_loops_are_permanent(web: FakeWeb) -> None:
    web.redirect("/to-file", "file:///etc/passwd")
    web.redirect("/loop", "/loop")
    with pytest.raises(DownloadError, match="refused redirect to a file URL") as scheme:
        download(web.url("/to-file"), MIRROR)
    with pytest.raises(DownloadError, match="more than 5 redirects") as loop:
        download(web.url("/loop"), MIRROR)
    assert not scheme.value.retryable and not loop.value.retryable and web.hits["/loop"] == 6


def test_a_drip_feeding_server_is_cut_off_at_the_total_deadline(web: FakeWeb) -> None:
    web.add("/drip.png", BODY, drip_s=0.05)  # every byte arrives well within any per-read timeout
    policy = MIRROR.model_copy(update={"deadline_s": 0.6, "tries": 1})
    started = time.monotonic()
    with pytest.raises(DownloadError, match="not complete within 0.6 s") as drip:
        download(web.url("/drip.png"), policy)
    assert time.monotonic() - started < 2.0 and drip.value.retryable


def test_size_cap_declared_or_not(web: FakeWeb) -> None:
    policy = MIRROR.model_copy(update={"max_bytes": len(BODY) // 2})
    with pytest.raises(DownloadError, match="over the 5120-byte limit") as declared:
        download(web.url("/a.png"), policy)
    assert not declared.value.retryable
    web.add("/endless.png", BODY, headers={"X-No-Length": "1"})  # no declared size: read until closed
    with pytest.raises(DownloadError, match="more than the 5120-byte limit") as undeclared:
        download(web.url("/endless.png"), policy)
    assert not undeclared.value.retryable
    assert download(web.url("/endless.png"), MIRROR) == BODY


def test_transient_and_permanent_failures(web: FakeWeb) -> None:
    web.add("/busy.png", BODY, script=["429", "503"])
    web.add("/cut.png", BODY, script=["truncate", "truncate"])
    web.add("/drop.png", BODY, script=["drop", "drop"])
    one_try = MIRROR.model_copy(update={"tries": 1})
    assert download(web.url("/busy.png"), MIRROR.model_copy(update={"tries": 3})) == BODY  # retried in-run
    assert web.hits["/busy.png"] == 3
    for path, pattern in (("/cut.png", "cut short"), ("/drop.png", "RemoteProtocolError|ReadError|cut short")):
        with pytest.raises(DownloadError, match=pattern) as transient:
            download(web.url(path), one_try)
        assert transient.value.retryable, path
    web.add("/gone.png", BODY, script=["500", "500"])
    with pytest.raises(DownloadError, match="HTTP 500") as server_error:
        download(web.url("/gone.png"), MIRROR)  # two tries, both failed: the next run tries again
    assert server_error.value.retryable and web.hits["/gone.png"] == 2
    with pytest.raises(DownloadError, match="HTTP 404") as missing:
        download(web.url("/missing.png"), MIRROR)
    assert not missing.value.retryable and missing.value.status == 404 and web.hits["/missing.png"] == 1


def test_a_429_cools_the_whole_host_down(web: FakeWeb) -> None:
    web.add("/limited.png", BODY, script=["429"])
    policy = MIRROR.model_copy(update={"max_wait_s": 0.5})

    async def run() -> float:
        async with Downloader(policy, connections=4) as downloader:
            await downloader.fetch(web.url("/limited.png"))  # a 429 with Retry-After: 1 (capped at 0.5 s)
            started = time.monotonic()
            await downloader.fetch(web.url("/a.png"))
            return time.monotonic() - started

    assert asyncio.run(run()) < 0.5  # the retry itself already waited the cool-down out
    assert web.hits["/limited.png"] == 2


def test_fetch_all_keeps_many_requests_in_flight() -> None:
    with FakeWeb(latency_s=0.2) as web:
        for i in range(32):
            web.add(f"/{i}.png", BODY)
        web.add("/missing-soon.png", BODY, script=["404"])
        urls = [web.url(f"/{i}.png") for i in range(32)] + [web.url("/missing-soon.png")]
        results: list[Fetched] = []

        async def run() -> None:
            async with Downloader(MIRROR, connections=16) as downloader:
                await downloader.fetch_all(urls, results.append)

        started = time.monotonic()
        asyncio.run(run())
        elapsed = time.monotonic() - started
    assert sorted(r.url for r in results) == sorted(urls)
    assert sum(r.data == BODY for r in results) == 32
    assert [r.error.status for r in results if r.error] == [404]
    assert elapsed < 33 * 0.2 / 4  # serially it would take 6.6 s; 16 at once take about 3 rounds


def test_per_host_rate_limit_spaces_requests(web: FakeWeb) -> None:
    polite = MIRROR.model_copy(update={"per_host_rps": 10.0})

    async def run() -> float:
        async with Downloader(polite, connections=8) as downloader:
            started = time.monotonic()
            await asyncio.gather(*(downloader.fetch(web.url("/a.png")) for _ in range(20)))
            return time.monotonic() - started

    assert asyncio.run(run()) >= 0.9  # 20 requests at 10/s: a one-second burst of 10, then 10 more at 10/s


def test_a_failing_handler_stops_fetch_all_with_its_error(web: FakeWeb) -> None:
    calls: list[str] = []

    def handler(result: Fetched) -> None:
        calls.append(result.url)
        raise OSError("disk full")

    async def run() -> None:
        async with Downloader(MIRROR, connections=2) as downloader:
            await downloader.fetch_all([web.url("/a.png")] * 50, handler)

    with pytest.raises(OSError, match="disk full"):
        asyncio.run(run())
    assert 1 <= len(calls) <= 4 and web.hits["/a.png"] < 10  # it stopped soon, it did not hang
