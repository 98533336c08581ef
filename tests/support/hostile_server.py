"""A loopback site that misbehaves on purpose: the sample site, with chosen paths answering
what a test says (a status, a body, a reset connection). It logs when each request came."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    # A body made from the requested path (for routes given as a prefix: "/calendar/*").
    page: Callable[[str], bytes] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.log.append((time.monotonic(), self.path))
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
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(route.declared_length or len(route.body)))
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(route.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    site: DemoSite
    routes: dict[str, Route]
    log: list[tuple[float, str]]
    stopping: threading.Event
    counts: dict[str, int]

    @property
    def base_url(self) -> str:
        return self.site.base_url

    def paths(self) -> list[str]:
        return [path for _, path in self.log]


@contextmanager
def serve_hostile_site(routes: dict[str, Route]) -> Iterator[HostileServer]:
    """Serve the sample site with `routes` overriding its paths, on 127.0.0.1."""
    server = HostileServer(("127.0.0.1", 0), _Handler)
    server.site = DemoSite(f"http://127.0.0.1:{server.server_address[1]}")
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
