"""A site that misbehaves on some pages: each bad page ends in bounded time with a clear error
entry in the run, and the rest of the crawl is unharmed."""

from __future__ import annotations

import gzip
import json
import sqlite3
import uuid

import pytest

from tests.support.commands import LOCAL_SITE_OPTIONS, crawl_local_site, newsarchive
from tests.support.hostile_server import Route, serve_hostile_site
from tests.support.site_server import ARTICLES

pytestmark = pytest.mark.end_to_end

BAD_PATHS = ["/hang", "/huge", "/bomb", "/limited", "/reset", "/lying-length", "/endless",
             "/trickle"]  # fmt: skip
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
        "/endless": Route(
            body=b"<p>" + b"x" * 65536 + b"</p>", content_type="text/html", endless=True
        ),
        "/trickle": Route(body=b"x", content_type="text/html", endless=True, chunk_pause=0.5),
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
        # /hang, /lying-length waiting for bytes never sent, /trickle: a byte every 0.5 s
        "DownloadTimeoutError": 3,
        # /huge: declared larger than DOWNLOAD_MAXSIZE; /endless: a chunked body past it
        "DownloadCancelledError": 2,
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


def calendar_page(path: str) -> bytes:
    """An endless calendar: each month links the next and previous month and the next year,
    past month 12 and forever."""
    year, month = (int(part) for part in path.strip("/").split("/")[1:3])
    links = [(year, month + 1), (year, month - 1), (year + 1, month)]
    items = "".join(f'<h3><a href="/calendar/{y}/{m}/">{y}-{m}</a></h3>' for y, m in links)
    return f"<html><body><h1>Events {year}-{month}</h1>{items}</body></html>".encode()


def session_page(path: str) -> bytes:
    """Every visit hands out new links, each with a fresh session ID."""
    token = uuid.uuid4().hex
    links = "".join(
        f'<h3><a href="/session/list?page={n}&PHPSESSID={token}">page {n}</a></h3>'
        f'<h3><a href="/session/list;jsessionid={token}?page={n}">page {n}</a></h3>'
        f'<h3><a href="/session/list?page={n}&sid={token}">page {n}</a></h3>'
        for n in range(3)
    )
    return f"<html><body><h1>Session</h1>{links}</body></html>".encode()


def growing_path_page(path: str) -> bytes:
    """A relative-link bug: every page links `more/`, one level deeper each time."""
    return (
        b'<html><body><h1>Deeper</h1><h3><a href="more/">more</a></h3>'
        b'<h3><a href="more/x/">x</a></h3><h3><a href="more/y/">y</a></h3></body></html>'
    )


def trap_routes() -> dict[str, Route]:
    def start(*links: str) -> Route:
        items = "".join(f'<h3><a href="{link}">{link}</a></h3>' for link in links)
        return Route(body=f"<html><body><h1>Start</h1>{items}</body></html>".encode(),
                     content_type="text/html")  # fmt: skip

    good = [f"/news/{article.slug}.html" for article in ARTICLES[:3]]
    return {
        "/calendar-start/": start(*good, "/calendar/2024/1/"),
        "/other-start/": start(*good, "/session/list?page=0", "/deep/"),
        "/calendar/*": Route(page=calendar_page, content_type="text/html"),
        "/session/*": Route(page=session_page, content_type="text/html"),
        "/deep/*": Route(page=growing_path_page, content_type="text/html"),
    }


def test_an_endless_calendar_ends_at_the_sites_budget_and_is_reported(tmp_path):
    """H05: a calendar that branches forever takes the site's page budget for the run, no
    more; the site is named as a suspected trap, and its articles are archived."""
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_hostile_site(trap_routes()) as server:
        options = [*LOCAL_SITE_OPTIONS, "-s", "ARCHIVE_MAX_PAGES_PER_SITE=150"]
        result = newsarchive("crawl", f"{server.base_url}/calendar-start/", "--db", database_url,
                             *options)  # fmt: skip
        calendar = [path for path in server.paths() if path.startswith("/calendar/")]
    assert 50 < len(calendar) <= 150  # the site's budget for the run
    assert "127.0.0.1: 150 pages queued in this run" in result.stderr
    assert "a spider trap?" in result.stderr
    exported = newsarchive("export", "--db", database_url).stdout.splitlines()
    assert len(exported) == len(ARTICLES)  # the site's own articles, from its sitemaps too


def test_session_ids_and_growing_paths_take_a_bounded_number_of_requests(tmp_path):
    """H05, H06: links that differ only by a session ID are one page; a relative-link bug
    that grows the path stops before any segment repeats a third time."""
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_hostile_site(trap_routes()) as server:
        newsarchive("crawl", f"{server.base_url}/other-start/", "--db", database_url,
                    *LOCAL_SITE_OPTIONS)  # fmt: skip
        paths = server.paths()
    session = [path for path in paths if path.startswith("/session/")]
    deep = [path for path in paths if path.startswith("/deep/")]
    assert len(session) == 3  # one page per `page`, whatever the session ID
    assert all("PHPSESSID" not in path and "jsessionid" not in path and "sid=" not in path
               for path in session)  # fmt: skip
    assert max(path.count("/more") for path in deep) == 2  # a third `more` is never queued
    assert all(path.count("/x/") <= 2 and path.count("/y/") <= 2 for path in deep)
    assert len(deep) < 40  # finite: every mix of more, x and y with none three times


def test_a_page_in_windows_1252_served_as_utf_8_is_archived_readable(tmp_path):
    """B07: the header says UTF-8, the page (and its <meta>) Windows-1252: Scrapy follows the
    header and every accented letter became U+FFFD in the archive."""
    french = ("Le président a déclaré jeudi que l'économie française était plus forte qu'à "
              "l'été dernier, grâce à la hausse des exportations. ") * 3  # fmt: skip
    paragraphs = "".join(f"<p>{french} Paragraphe {i}.</p>" for i in range(5))
    page = (
        f'<html><head><meta charset="windows-1252"><title>Économie</title></head><body>'
        f"<article><h1>L'économie française</h1>{paragraphs}</article></body></html>"
    )
    path = "/news/economie.html"
    routes = {
        START: Route(body=f'<html><body><a href="{path}">a</a></body></html>'.encode(),
                     content_type="text/html"),
        path: Route(body=page.encode("cp1252"), content_type="text/html; charset=utf-8"),
    }  # fmt: skip
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_hostile_site(routes) as server:
        crawl_local_site(server.base_url + START.rstrip("/"), database_url,
                         "-a", "follow_sitemaps=false")  # fmt: skip
    (article,) = map(json.loads, newsarchive("export", "--db", database_url).stdout.splitlines())
    assert article["title"] == "L'économie française"
    assert "Le président a déclaré jeudi" in article["body"]
    assert "\ufffd" not in article["body"]
    with sqlite3.connect(tmp_path / "archive.db") as archive:
        encodings = dict(archive.execute("SELECT url, encoding FROM fetches").fetchall())
    assert encodings[server.base_url + path] == "cp1252"  # recorded, as catalog B07 asks
