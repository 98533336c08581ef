"""robots.txt as RFC 9309 says: 5xx or unreachable means crawl nothing, 4xx means crawl all;
Crawl-delay is honoured. Checked at the server."""

from __future__ import annotations

import itertools

import pytest

from tests.support.commands import crawl_local_site
from tests.support.hostile_server import Route, serve_hostile_site

pytestmark = pytest.mark.end_to_end
FAST = ["-s", "RETRY_TIMES=0", "-a", "follow_sitemaps=false"]


@pytest.mark.parametrize(
    "robots",
    [Route(status=503, body=b"Service Unavailable"), Route(status=500, body=b"<html>oops</html>"),
     Route(reset=True)],
    ids=["503", "500-html", "connection-reset"],
)  # fmt: skip
def test_unavailable_robots_txt_means_nothing_is_crawled(robots, tmp_path):
    with serve_hostile_site({"/robots.txt": robots}) as server:
        result = crawl_local_site(server.base_url, f"sqlite:///{tmp_path / 'a.db'}", *FAST)
        assert set(server.paths()) == {"/robots.txt"}
    assert "0 new articles" in result.stderr


def test_missing_robots_txt_means_everything_may_be_crawled(tmp_path):
    with serve_hostile_site({"/robots.txt": Route(status=404)}) as server:
        result = crawl_local_site(server.base_url, f"sqlite:///{tmp_path / 'a.db'}", *FAST)
        assert "/private/staff.html" in server.paths()  # nothing is disallowed now
    assert "10 new articles" in result.stderr


def test_crawl_delay_is_honoured(tmp_path):
    robots = Route(body=b"User-agent: *\nCrawl-delay: 1\n")
    with serve_hostile_site({"/robots.txt": robots}) as server:
        crawl_local_site(server.base_url, f"sqlite:///{tmp_path / 'a.db'}", *FAST,
                         "-s", "CLOSESPIDER_PAGECOUNT=4")  # fmt: skip
        times = [moment for moment, path in server.log if path != "/robots.txt"]
    assert len(times) >= 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.9, gaps
