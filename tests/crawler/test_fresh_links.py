"""Incremental crawls: links to articles archived less than ARCHIVE_REVISIT ago are dropped as
they are queued, a batch of them with one statement; the downloader checks only the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, event, text

from crawler.middlewares import (
    FRESH_BATCH,
    FreshArticle,
    SkipFreshArticlesMiddleware,
    SkipFreshLinksMiddleware,
)
from crawler.spiders.news import NewsSpider
from storage.database import session_scope
from storage.writes import upsert_article, upsert_site
from tests.support.records import FETCHED_AT, article_record

NOW = FETCHED_AT + timedelta(days=1)
PAGE = Response("https://news.example/")


@pytest.fixture
def crawler(database_url: str, sessions: Any) -> Crawler:
    """A crawl of news.example a day after "fresh" was archived; "old" was archived 30 days
    before that (ARCHIVE_REVISIT: 7 days)."""
    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=FETCHED_AT)
        upsert_article(session, article_record("fresh"), site_id=site_id)
        old = FETCHED_AT - timedelta(days=30)
        upsert_article(session, article_record("old", fetched_at=old), site_id=site_id)
    settings = {"ARCHIVE_DATABASE_URL": database_url, "ARCHIVE_REVISIT": "7d",
                "ARCHIVE_NOW": NOW.isoformat()}  # fmt: skip
    crawler = get_crawler(NewsSpider, settings)
    crawler.spider = crawler._create_spider(start_urls="https://news.example/")
    crawler.stats.open_spider()
    return crawler


def opened(middleware: SkipFreshArticlesMiddleware, crawler: Crawler) -> list[str]:
    """Open the middleware's archive connection; return the list its statements go to."""
    assert crawler.spider is not None
    middleware.spider_opened(crawler.spider)
    statements: list[str] = []

    def sent(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(middleware.engine, "before_cursor_execute", sent)
    return statements


def closed(middleware: SkipFreshArticlesMiddleware, crawler: Crawler) -> None:
    assert crawler.spider is not None
    middleware.spider_closed(crawler.spider)


def page_output() -> list[Any]:
    return [
        Request("https://news.example/fresh"),
        Request("https://news.example/old?utm_source=feed"),  # canonical: .../old
        Request("https://news.example/new"),
        Request("https://news.example/feed.xml", meta={"conditional": True}),  # a listing
        {"the page's item": "last"},
    ]


# What goes on of that output, in that order: the fresh article's link is dropped.
KEPT = [
    "https://news.example/old?utm_source=feed",
    "https://news.example/new",
    "https://news.example/feed.xml",
    {"the page's item": "last"},
]


def shown(output: list[Any]) -> list[Any]:
    return [item.url if isinstance(item, Request) else item for item in output]


def test_links_to_fresh_articles_are_dropped_with_one_statement(crawler):
    links = SkipFreshLinksMiddleware.from_crawler(crawler)
    statements = opened(links, crawler)
    try:
        output = list(links.process_spider_output(PAGE, page_output()))
    finally:
        closed(links, crawler)
    assert shown(output) == KEPT
    assert len(statements) == 1
    assert crawler.stats.get_value("archive/skipped_fresh") == 1

    # The downloader does not ask again for a request that was checked...
    downloads = SkipFreshArticlesMiddleware.from_crawler(crawler)
    sent = opened(downloads, crawler)
    try:
        for request in output[:3]:
            downloads.process_request(request)
        assert sent == []
        # ...unless it was redirected: a fresh article behind a redirect is still not fetched.
        redirected = output[0].replace(url="https://news.example/fresh")
        with pytest.raises(FreshArticle):
            downloads.process_request(redirected)
        assert len(sent) == 1
    finally:
        closed(downloads, crawler)


def test_the_async_output_of_a_page_is_checked_the_same_way(crawler):
    links = SkipFreshLinksMiddleware.from_crawler(crawler)
    statements = opened(links, crawler)

    async def spider_output() -> AsyncIterator[Any]:
        for item in page_output():
            yield item

    async def collect() -> list[Any]:
        return [item async for item in links.process_spider_output_async(PAGE, spider_output())]

    try:
        output = asyncio.run(collect())
    finally:
        closed(links, crawler)
    assert shown(output) == KEPT
    assert len(statements) == 1


def test_a_sitemap_of_thousands_of_articles_costs_a_statement_per_batch(crawler):
    links = SkipFreshLinksMiddleware.from_crawler(crawler)
    statements = opened(links, crawler)
    listed = [Request(f"https://news.example/{n}") for n in range(2 * FRESH_BATCH + 100)]
    listed[FRESH_BATCH + 7] = Request("https://news.example/fresh")
    try:
        output = list(links.process_spider_output(PAGE, listed))
    finally:
        closed(links, crawler)
    assert len(statements) == 3
    assert [request.url for request in output] == [
        request.url for request in listed if request.url != "https://news.example/fresh"
    ]


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_connection_dropped_in_the_middle_of_a_check_is_replaced(crawler, database_url):
    """F10: the server ends the crawl's session just as a page's links are checked (after the
    pool's pre-ping found it alive): the check is made again on a new connection, rather than
    failing the page and losing the links it found."""
    links = SkipFreshLinksMiddleware.from_crawler(crawler)
    opened(links, crawler)
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    ended: list[int] = []

    def end_it(conn: Any, cursor: Any, statement: str, *args: object) -> None:
        if "last_seen_at" in statement and not ended:  # the check's first statement only
            backend = cursor.connection.info.backend_pid
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            ended.append(backend)

    event.listen(links.engine, "before_cursor_execute", end_it)
    try:
        output = list(links.process_spider_output(PAGE, page_output()))
    finally:
        closed(links, crawler)
        admin.dispose()
    assert ended  # the connection was ended under the check
    assert shown(output) == KEPT
    assert crawler.stats.get_value("archive/reads_reconnected") == 1
