"""Serve the sample news site on loopback, in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crawler.demo.site import DemoSite


class _SiteHandler(BaseHTTPRequestHandler):
    server: _SiteServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.request_log.append(self.path)
        self.server.user_agents.add(self.headers.get("User-Agent", ""))
        response = self.server.site.render(self.path)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if response.location:
            self.send_header("Location", response.location)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the demo's and the tests' output clean."""


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    site: DemoSite
    request_log: list[str]
    user_agents: set[str]


@contextmanager
def serve_demo_site(host: str = "127.0.0.1", port: int = 0) -> Iterator[_SiteServer]:
    """Serve the sample site; yield the server until the block ends.

    `server.site.base_url` is where it answers; `request_log` (paths) and `user_agents` tell
    tests what the crawler asked for.

    Port 0 lets the operating system pick a free port.
    """
    server = _SiteServer((host, port), _SiteHandler)
    server.site = DemoSite(f"http://{host}:{server.server_address[1]}")
    server.request_log = []
    server.user_agents = set()
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def base_url(server: _SiteServer) -> str:
    """Return the base URL of a running demo site server."""
    return server.site.base_url
