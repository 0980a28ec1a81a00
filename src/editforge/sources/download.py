"""Concurrent downloads of untrusted URLs: many connections, each download under one total deadline.

Fetching photos is latency-bound, so one process keeps many requests in flight on asyncio (httpcore2,
the connection layer of httpx2) instead of one blocking request per worker. Every connection goes
through `_GuardedBackend`, which resolves the host itself, checks every address against the
`UrlPolicy` and connects to the address it checked — so a redirect to a private address, or a DNS
answer that changes between check and connect, is refused like a direct one. Redirects are followed
here, hop by hop, each URL checked before it is requested.

A failure is a `DownloadError` that says whether asking again later may help (`retryable`: a timeout,
a 5xx or 429, a reset or truncated answer) or not (a 404, a refused address, over the size cap); the
callers record the first kind so the next run tries again, and skip the second kind for good.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore2
from aiolimiter import AsyncLimiter

from editforge.sources.urlpolicy import BlockedUrlError, UrlPolicy

USER_AGENT = "editforge (+https://github.com/editforge/editforge)"
REDIRECTS = (301, 302, 303, 307, 308)
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


class DownloadError(OSError):
    """A download that failed; the message starts with the URL and says why."""

    def __init__(self, message: str, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after_s: float | None = None


@dataclass(frozen=True)
class Fetched:
    url: str
    data: bytes | None = None
    error: DownloadError | None = None


class _GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Resolve, check every address, connect to a checked one."""

    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy
        self._inner = httpcore2.AnyIOBackend()  # the backend httpcore2 itself uses on asyncio

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001, ANN201 - httpcore2's signature
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except socket.gaierror as exc:  # "try again" is the resolver's transient answer; others are final
            raise DownloadError(f"cannot resolve {host}: {exc.strerror}", exc.errno == socket.EAI_AGAIN) from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:  # every answer, not only the one we use: the resolver's order may change
            self.policy.check_address(host, address)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore2.ConnectError(f"{host}: no address")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # noqa: ANN001, ANN201
        raise BlockedUrlError("unix sockets are never used for downloads")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Downloader:
    """`async with Downloader(policy, connections=64) as d: data = await d.fetch(url)`."""

    def __init__(self, policy: UrlPolicy | None = None, connections: int = 16) -> None:
        self.policy = policy or UrlPolicy()
        self.connections = connections
        self._pool = httpcore2.AsyncConnectionPool(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=30.0,
            network_backend=_GuardedBackend(self.policy),
        )
        self._limiters: dict[str, AsyncLimiter] = {}
        self._cooldown_until: dict[str, float] = {}  # host → monotonic time its 429 asked us to wait until

    async def __aenter__(self) -> Downloader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pool.aclose()

    async def fetch(self, url: str) -> bytes:
        """The body at `url`, or DownloadError; transient failures are tried `policy.tries` times."""
        error: DownloadError | None = None
        for attempt in range(self.policy.tries):
            if error is not None:
                backoff = self.policy.retry_wait_s * 2 ** (attempt - 1)
                await asyncio.sleep(min(self.policy.max_wait_s, max(backoff, error.retry_after_s or 0)))
            try:
                return await self._attempt(url)
            except DownloadError as exc:
                error = exc
            if not error.retryable:
                break
        assert error is not None
        raise error

    async def _attempt(self, url: str) -> bytes:
        """One try under the total deadline, every failure turned into a DownloadError."""
        try:
            return await asyncio.wait_for(self._fetch_once(url), self.policy.deadline_s)
        except (TimeoutError, asyncio.TimeoutError):  # the same class from Python 3.11 on
            raise DownloadError(f"{url}: not complete within {self.policy.deadline_s:g} s", retryable=True) from None
        except DownloadError as exc:
            if str(exc).startswith(url):
                raise
            raise DownloadError(f"{url}: {exc}", exc.retryable, exc.status) from None
        except BlockedUrlError as exc:
            message = str(exc) if str(exc).startswith(url) else f"{url}: {exc}"
            raise DownloadError(message, retryable=False) from None
        except (httpcore2.UnsupportedProtocol, httpcore2.LocalProtocolError) as exc:
            raise DownloadError(f"{url}: {exc}", retryable=False) from None
        except (httpcore2.TimeoutException, httpcore2.NetworkError, httpcore2.RemoteProtocolError) as exc:
            # Refused, reset, dropped mid-answer, a socket timeout: the server may answer another time.
            raise DownloadError(f"{url}: {type(exc).__name__}: {exc or 'connection failed'}", retryable=True) from None

    async def fetch_all(self, urls: Iterable[str], on_result: Callable[[Fetched], Awaitable[None] | None]) -> None:
        """Fetch every URL with up to `connections` in flight; `on_result` sees each as it finishes."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=self.connections * 2)
        failures: list[BaseException] = []

        async def worker() -> None:
            while (url := await queue.get()) is not None:
                if failures:  # a handler failed: drain the queue without fetching, so the feeder never blocks
                    continue
                try:
                    result = Fetched(url, data=await self.fetch(url))
                except DownloadError as exc:
                    result = Fetched(url, error=exc)
                try:
                    outcome = on_result(result)
                    if asyncio.iscoroutine(outcome):
                        await outcome
                except Exception as exc:  # the caller's error (a full disk, say): surfaced below, once
                    failures.append(exc)

        workers = [asyncio.ensure_future(worker()) for _ in range(self.connections)]
        try:
            for url in urls:
                if failures:
                    break
                await queue.put(url)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
        if failures:
            raise failures[0]

    async def _fetch_once(self, url: str) -> bytes:
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            self.policy.check_url(current)
            await self._polite(current)
            async with self._request(current) as response:
                if response.status in REDIRECTS:
                    location = _header(response, b"location")
                    if not location:
                        raise DownloadError(f"{url}: HTTP {response.status} without a Location", retryable=False)
                    target = urljoin(current, location)
                    if urlsplit(target).scheme.lower() not in ("http", "https"):
                        raise DownloadError(f"{url}: refused redirect to a {urlsplit(target).scheme} URL", False)
                    current = target
                    continue
                if response.status != 200:
                    raise self._status_error(url, current, response)
                return await self._read_body(url, response)
        raise DownloadError(f"{url}: more than {self.policy.max_redirects} redirects", retryable=False)

    def _request(self, url: str) -> AbstractAsyncContextManager[httpcore2.Response]:
        # No per-read timeout: the total deadline bounds the whole download, a drip-feed included.
        timeouts = {"connect": self.policy.connect_timeout_s, "read": None, "write": None, "pool": None}
        headers = [(b"User-Agent", USER_AGENT.encode()), (b"Accept-Encoding", b"identity")]
        return self._pool.stream("GET", url, headers=headers, extensions={"timeout": timeouts})

    async def _read_body(self, url: str, response: httpcore2.Response) -> bytes:
        declared = _header(response, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise DownloadError(f"{url}: {int(declared)} bytes is over the {self.policy.max_bytes}-byte limit", False)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_stream():
                size += len(chunk)
                if size > self.policy.max_bytes:  # an undeclared or lying size stops at the cap, not later
                    raise DownloadError(f"{url}: more than the {self.policy.max_bytes}-byte limit", False)
                chunks.append(chunk)
        except (httpcore2.RemoteProtocolError, httpcore2.ReadError) as exc:
            raise DownloadError(f"{url}: answer cut short after {size} bytes ({exc})", retryable=True) from None
        return b"".join(chunks)

    def _status_error(self, url: str, current: str, response: httpcore2.Response) -> DownloadError:
        where = url if current == url else f"{url} (redirected to {current})"
        error = DownloadError(
            f"{where}: HTTP {response.status}", retryable=response.status in TRANSIENT_STATUS, status=response.status
        )
        if response.status in (429, 503):
            error.retry_after_s = _retry_after(_header(response, b"retry-after"))
            if response.status == 429:  # the whole host asked us to slow down, not only this request
                wait = min(self.policy.max_wait_s, error.retry_after_s or self.policy.retry_wait_s)
                host = urlsplit(current).netloc
                self._cooldown_until[host] = max(self._cooldown_until.get(host, 0.0), time.monotonic() + wait)
        return error

    async def _polite(self, url: str) -> None:
        host = urlsplit(url).netloc
        pause = self._cooldown_until.get(host, 0.0) - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        if self.policy.per_host_rps:
            limiter = self._limiters.get(host)
            if limiter is None:
                # A bucket of one second's worth: a burst at most that big, then the steady rate.
                rate = self.policy.per_host_rps
                limiter = self._limiters[host] = AsyncLimiter(max(1.0, rate), max(1.0, rate) / rate)
            await limiter.acquire()


def _header(response: httpcore2.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def download(url: str, policy: UrlPolicy | None = None) -> bytes:
    """One URL, synchronously (a worker reading one photo); DownloadError says why it failed."""

    async def one() -> bytes:
        async with Downloader(policy, connections=1) as downloader:
            return await downloader.fetch(url)

    return asyncio.run(one())
