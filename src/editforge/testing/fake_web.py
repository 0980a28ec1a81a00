"""A misbehaving web server on 127.0.0.1 for download tests and benchmarks: a CDN, Flickr, a mirror.

    with FakeWeb(latency_s=0.05) as web:
        web.add("/a.png", png_bytes)
        web.add("/busy.png", png_bytes, script=["429", "503", None])   # two failures, then the photo
        web.add("/drip.png", png_bytes, drip_s=1.0)                    # one byte a second
        web.redirect("/old.png", "http://127.0.0.1:1/x")
        url = web.url("/a.png")

A route answers with its body, unless its `script` says otherwise for the next request: "429" (with a
Retry-After), "500"/"502"/"503", "404", "truncate" (declares the full length, sends half, closes),
"drop" (closes without a reply), "slow" (waits `slow_s` before answering). `None` in a script means
"answer normally". Unknown paths get 404. `hits[path]` counts requests. HTTP/1.1 with keep-alive, so
a client can reuse connections as with a real CDN. Run it in another process (`python -m
editforge.testing.fake_web`) for benchmarks, so that the server's work does not share the client's GIL.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    script: list[str | None] = field(default_factory=list)
    drip_s: float = 0.0  # seconds between single bytes of the body
    slow_s: float = 5.0  # what a "slow" answer waits


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 64 connections opening at once must not be refused by the backlog


class FakeWeb:
    def __init__(self, latency_s: float = 0.0, port: int = 0) -> None:
        self.latency_s = latency_s
        self.routes: dict[str, Route] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, body: bytes, **kwargs: object) -> None:
        self.routes[path] = Route(body=body, **kwargs)  # type: ignore[arg-type]

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Route(status=status, headers={"Location": location})

    def __enter__(self) -> FakeWeb:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_fault(self, path: str) -> tuple[Route | None, str | None]:
        with self._lock:
            self.hits[path] += 1
            route = self.routes.get(path)
            fault = route.script.pop(0) if route and route.script else None
        return route, fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, as a real server sends them

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                route, fault = web._next_fault(path)
                if web.latency_s:
                    time.sleep(web.latency_s)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(route, fault)

            def _answer(self, route: Route | None, fault: str | None) -> None:
                if route is None or fault == "404":
                    return self._send(404, {}, b"not found")
                if fault == "drop":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if fault == "slow":
                    time.sleep(route.slow_s)
                if fault in ("429", "500", "502", "503"):
                    return self._send(int(fault), {"Retry-After": "1"} if fault in ("429", "503") else {}, b"busy")
                if fault == "truncate":
                    self._send(route.status, route.headers, route.body[: len(route.body) // 2], len(route.body))
                    self.close_connection = True
                    return None
                if route.drip_s:
                    self._send(route.status, route.headers, b"", len(route.body))
                    for i in range(len(route.body)):
                        self.wfile.write(route.body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(route.drip_s)
                    return None
                return self._send(route.status, route.headers, route.body)

            def _send(self, status: int, headers: dict[str, str], body: bytes, length: int | None = None) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "X-No-Length" in headers:  # the body runs until the connection closes
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _serve_folder() -> None:
    """`python -m editforge.testing.fake_web ROOT LATENCY_S`: serve ROOT's files; prints the port."""
    import sys
    from pathlib import Path

    root, latency = Path(sys.argv[1]), float(sys.argv[2])
    web = FakeWeb(latency_s=latency)
    for file in root.rglob("*"):
        if file.is_file():
            web.add("/" + file.relative_to(root).as_posix(), file.read_bytes())
    print(web.port, flush=True)
    with web, contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


if __name__ == "__main__":
    _serve_folder()
