"""A long spider output (a sitemap of thousands of URLs) lets the rest of the crawl run between
its slices instead of holding the reactor until its last request is queued."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

from scrapy import Request
from scrapy.core.spidermw import SpiderMiddlewareManager
from scrapy.http import Response
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.middlewares import OutputSlicesMiddleware
from crawler.spiders.news import NewsSpider

SITEMAP = Response("https://news.example/sitemap.xml")


def ticking(step: float) -> Callable[[], float]:
    """A clock that moves `step` seconds each time it is read: each request the output makes
    costs the reactor that long."""
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]

    return clock


def listed(count: int) -> list[Request]:
    return [Request(f"https://news.example/story-{n}.html") for n in range(count)]


async def spider_output(requests: list[Request]) -> AsyncIterator[Any]:
    for request in requests:
        yield request


def run_beside_other_work(
    middleware: OutputSlicesMiddleware, requests: list[Request]
) -> tuple[list[Any], list[int]]:
    """Consume the middleware's output while another task of the loop (a download, a page back
    from a worker) asks to run; return the output and how far it had got each time that task
    ran."""
    passed: list[Any] = []
    seen_at: list[int] = []

    async def consume() -> None:
        async for output in middleware.process_spider_output(SITEMAP, spider_output(requests)):
            passed.append(output)

    async def other_work() -> None:
        while len(passed) < len(requests):
            seen_at.append(len(passed))
            await asyncio.sleep(0)

    async def both() -> None:
        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0)  # the output starts first, as a parsed sitemap's would
        await asyncio.gather(consumer, other_work())

    asyncio.run(both())
    return passed, seen_at


def test_a_long_output_lets_the_rest_of_the_crawl_run_between_slices():
    requests = listed(50)
    # Each request costs 6 ms: a slice (20 ms) is 4 requests, so the other task runs every 4.
    middleware = OutputSlicesMiddleware(slice_seconds=0.02, clock=ticking(0.006))
    passed, seen_at = run_beside_other_work(middleware, requests)
    assert passed == requests  # nothing lost, nothing reordered
    between = [count for count in seen_at if 0 < count < len(requests)]
    assert len(between) >= 10
    assert all(later - earlier <= 4 for earlier, later in itertools.pairwise(between))


def test_a_quick_output_passes_in_one_go():
    requests = listed(50)
    middleware = OutputSlicesMiddleware(slice_seconds=0.02, clock=ticking(0.0))
    passed, seen_at = run_beside_other_work(middleware, requests)
    assert passed == requests
    assert [count for count in seen_at if 0 < count < len(requests)] == []


def test_the_crawl_times_every_output_of_its_spider():
    """Enabled in the project's settings before every other spider middleware (Scrapy calls
    the highest order first), so it sees the outputs the others drop too (past a site's
    budget, the rest of a sitemap), and its slices include the work they do."""
    middlewares = get_project_settings().getdict("SPIDER_MIDDLEWARES")
    crawler = get_crawler(NewsSpider, settings_dict={"SPIDER_MIDDLEWARES": middlewares})
    manager = SpiderMiddlewareManager.from_crawler(crawler)
    first = manager.methods["process_spider_output"][0]
    assert getattr(first, "__self__", None).__class__ is OutputSlicesMiddleware
