"""A site that misbehaves on some pages: each bad page ends in bounded time with a clear error
entry in the run, and the rest of the crawl is unharmed."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.support.commands import crawl_local_site, newsarchive
from tests.support.hostile_server import Route, serve_hostile_site
from tests.support.site_server import ARTICLES

pytestmark = pytest.mark.end_to_end

BAD_PATHS = ["/hang", "/huge", "/bomb", "/limited", "/reset", "/lying-length"]
START = "/hostile/"


def start_page() -> Route:
    good = [f"/news/{article.slug}.html" for article in ARTICLES[:3]]
    links = "".join(f'<li><a href="{path}">{path}</a></li>' for path in [*good, *BAD_PATHS])
    return Route(body=f"<html><body><h1>Links</h1><ul>{links}</ul></body></html>".encode(),
                 content_type="text/html")  # fmt: skip


def test_hostile_pages_end_with_an_error_and_harm_nothing_else(tmp_path):
    bomb = gzip.compress(b"\0" * 60_000_000)  # 60 MB of zeros in about 60 KB
    routes = {
        START: start_page(),
        "/hang": Route(hang=True),
        "/huge": Route(body=b"x" * 1000, declared_length=50_000_000),
        "/bomb": Route(body=bomb, content_type="text/html", headers={"Content-Encoding": "gzip"}),
        "/limited": Route(status=429, body=b"slow down", headers={"Retry-After": "3600"}),
        "/reset": Route(reset=True),
        "/lying-length": Route(
            body=b"<html>short</html>", declared_length=100_000, content_type="text/html"
        ),
    }
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_hostile_site(routes) as server:
        crawl_local_site(
            server.base_url + START.rstrip("/"), database_url,
            "-a", "follow_sitemaps=false", "-s", "DOWNLOAD_TIMEOUT=3",
            "-s", "DOWNLOAD_MAXSIZE=10000000", "-s", "RETRY_TIMES=0",
        )  # fmt: skip
    exported = newsarchive("export", "--db", database_url).stdout.splitlines()
    assert len(exported) == 3  # the good articles are all archived
    (run,) = json.loads(newsarchive("runs", "--db", database_url, "--format", "json").stdout)
    assert run["errors_by_kind"] == {
        "DownloadTimeoutError": 2,  # /hang, and /lying-length waiting for bytes never sent
        "DownloadCancelledError": 1,  # /huge: declared larger than DOWNLOAD_MAXSIZE
        "DownloadFailedError": 1,  # /reset
        "IgnoreRequest": 1,  # /bomb: inflating it would pass DOWNLOAD_MAXSIZE
        "HTTP 429": 1,
    }


def test_retry_after_is_honoured_for_the_whole_site(tmp_path):
    article = f"/news/{ARTICLES[0].slug}.html"
    routes = {
        START: Route(body=f'<html><body><a href="{article}">a</a></body></html>'.encode(),
                     content_type="text/html"),
        article: Route(status=429, headers={"Retry-After": "2"}, times=1),
    }  # fmt: skip
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_hostile_site(routes) as server:
        crawl_local_site(server.base_url + START.rstrip("/"), database_url,
                         "-a", "follow_sitemaps=false")  # fmt: skip
        asked = [moment for moment, path in server.log if path == article]
    assert len(asked) == 2  # once answered 429, once after the wait
    assert asked[1] - asked[0] >= 1.9
    exported = newsarchive("export", "--db", database_url).stdout.splitlines()
    assert len(exported) == 1


def test_a_retry_after_beyond_the_cap_is_left_to_a_later_run(tmp_path):
    article = f"/news/{ARTICLES[0].slug}.html"
    routes = {
        START: Route(body=f'<html><body><a href="{article}">a</a></body></html>'.encode(),
                     content_type="text/html"),
        article: Route(status=503, headers={"Retry-After": "86400"}),
    }  # fmt: skip
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_hostile_site(routes) as server:
        crawl_local_site(server.base_url + START.rstrip("/"), database_url,
                         "-a", "follow_sitemaps=false", "-s", "RETRY_TIMES=0")  # fmt: skip
        assert server.paths().count(article) == 1
    (run,) = json.loads(newsarchive("runs", "--db", database_url, "--format", "json").stdout)
    assert run["errors_by_kind"] == {"HTTP 503": 1}
