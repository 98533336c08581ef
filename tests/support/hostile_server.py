"""A loopback site that misbehaves on purpose: the sample site, with chosen paths answering
what a test says (a status, a body, a reset connection). It logs when each request came."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crawler.demo.site import DemoSite


@dataclass(frozen=True)
class Route:
    """What a path answers: a status and body, or a reset connection."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # close the connection with a TCP reset, before any response
    hang: bool = False  # accept the request and never answer (until the server stops)
    declared_length: int | None = None  # a Content-Length that is not the body's
    times: int | None = None  # answer like this only the first `times` requests...
    then: Route | None = None  # ...and like this (or as the sample site) afterwards
    # Send the body as chunks, `body` again and again, `chunk_pause` seconds apart, without end
    # (until the client gives up or the server stops): a stream that never finishes.
    endless: bool = False
    chunk_pause: float = 0.0
    # A body made from the requested path (for routes given as a prefix: "/calendar/*").
    page: Callable[[str], bytes] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.log.append((time.monotonic(), self.path))
        self.server.headers_log.append((self.path, dict(self.headers.items())))
        path = self.path.split("?")[0]
        route = self.server.routes.get(path) or next(
            (r for key, r in self.server.routes.items()
             if key.endswith("*") and path.startswith(key[:-1])),
            None,
        )  # fmt: skip
        if route is not None and route.page is not None:
            route = replace(route, body=route.page(self.path), page=None)
        served = self.server.counts.get(path, 0)
        self.server.counts[path] = served + 1
        if route is not None and route.times is not None and served >= route.times:
            route = route.then
        if route is not None and route.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if route is not None and route.hang:
            self.server.stopping.wait()
            return
        if route is None:
            rendered = self.server.site.render(self.path)
            route = Route(rendered.status, rendered.body, rendered.content_type,
                          {"Location": rendered.location} if rendered.location else {})  # fmt: skip
        if route.endless:
            self._stream_forever(route)
            return
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(route.declared_length or len(route.body)))
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(route.body)

    def _stream_forever(self, route: Route) -> None:
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"%x\r\n%s\r\n" % (len(route.body), route.body)
        try:
            while not self.server.stopping.wait(route.chunk_pause):
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:  # the client hung up: what a capped download does
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    site: DemoSite
    routes: dict[str, Route]
    log: list[tuple[float, str]]
    stopping: threading.Event
    counts: dict[str, int]
    headers_log: list[tuple[str, dict[str, str]]]

    @property
    def base_url(self) -> str:
        return self.site.base_url

    def paths(self) -> list[str]:
        return [path for _, path in self.log]


@contextmanager
def serve_hostile_site(
    routes: dict[str, Route], *, host: str = "127.0.0.1", certificate: Path | None = None
) -> Iterator[HostileServer]:
    """Serve the sample site with `routes` overriding its paths, on `host` (127.0.0.1), over
    https if given a `certificate` (a PEM file holding the key and the certificate)."""
    server = HostileServer((host, 0), _Handler)
    scheme = "http"
    if certificate is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    server.site = DemoSite(f"{scheme}://{host}:{server.server_address[1]}")
    server.headers_log = []
    server.routes = routes
    server.log = []
    server.stopping = threading.Event()
    server.counts = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
