"""Serve the sample news site on loopback, in a background thread.

Like a real site, it answers conditional requests: every page carries an ETag, and a request
whose If-None-Match matches it gets 304 Not Modified. Tests can also hold article pages back
(`hold_articles_after`), to kill a crawl while it has requests in flight.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crawler.demo.site import DemoSite

HOLD_TIMEOUT_SECONDS = 120  # a held request is let go after this, whatever the test does


class _SiteHandler(BaseHTTPRequestHandler):
    server: SiteServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.request_log.append(self.path)
        self.server.user_agents.add(self.headers.get("User-Agent", ""))
        if self.path.startswith("/news/"):
            self.server.count_article_request()
        response = self.server.site.render(self.path)
        etag = f'"{hashlib.sha256(response.body).hexdigest()[:16]}"'
        if response.status == 200 and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if response.status == 200:
            self.send_header("ETag", etag)
        if response.location:
            self.send_header("Location", response.location)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the demo's and the tests' output clean."""


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    site: DemoSite
    request_log: list[str]
    user_agents: set[str]
    # Article requests after the first `hold_articles_after` wait until `release` is set.
    hold_articles_after: int | None = None
    release: threading.Event
    served: threading.Condition
    article_requests: int = 0

    def count_article_request(self) -> None:
        with self.served:
            self.article_requests += 1
            number = self.article_requests
            self.served.notify_all()
        if self.hold_articles_after is not None and number > self.hold_articles_after:
            self.release.wait(timeout=HOLD_TIMEOUT_SECONDS)

    def wait_for_article_requests(self, count: int, timeout_seconds: float = 60) -> bool:
        """Block until `count` article pages were asked for; False if that took too long."""
        with self.served:
            return self.served.wait_for(lambda: self.article_requests >= count, timeout_seconds)


@contextmanager
def serve_demo_site(host: str = "127.0.0.1", port: int = 0) -> Iterator[SiteServer]:
    """Serve the sample site; yield the server until the block ends.

    `server.site.base_url` is where it answers; `request_log` (paths) and `user_agents` tell
    tests what the crawler asked for. Port 0 lets the operating system pick a free port.
    """
    server = SiteServer((host, port), _SiteHandler)
    server.site = DemoSite(f"http://{host}:{server.server_address[1]}")
    server.request_log = []
    server.user_agents = set()
    with serving(server, "demo-site"):
        yield server


@contextmanager
def serving(server: ThreadingHTTPServer, name: str) -> Iterator[None]:
    """Run `server` in a thread until the block ends; a `release` event it has is set first,
    so that requests it holds end. Its `served` condition is made here."""
    server.release = threading.Event()  # type: ignore[attr-defined]
    server.served = threading.Condition()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.release.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
