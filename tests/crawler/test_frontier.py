"""The frontier of a crawl on one machine: a stack of requests whose older part waits on disk."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawler.distributed import request_dict
from crawler.frontier import SpillingLifoQueue
from crawler.items import DateCandidate
from crawler.spiders.news import NewsSpider


def spider() -> NewsSpider:
    crawler = get_crawler(NewsSpider)
    news = crawler._create_spider(start_urls="http://news.example/")
    assert isinstance(news, NewsSpider)
    return news


def listed(news: NewsSpider, number: int) -> Request:
    """A request as the spider makes it for an article a sitemap lists."""
    return Request(f"http://news.example/{number}.html", callback=news.parse_page,
                   errback=news.on_error, priority=-number % 3,
                   meta={"listed_dates": (DateCandidate(value=f"2024-05-{1 + number % 28:02d}",
                                                        source="sitemap"),),
                         "listed_title": f"Story {number}", "depth": 1})  # fmt: skip


def take(queue: SpillingLifoQueue) -> Request:
    request = queue.pop()
    assert request is not None, "the queue ran out"
    return request


def test_requests_come_out_newest_first_with_everything_they_carried():
    news = spider()
    queue = SpillingLifoQueue(news, memory_requests=10)
    for number in range(100):
        queue.push(listed(news, number))
    assert len(queue) == 100
    assert len(queue.memory) <= 10  # the other 90 wait in the queue's database
    peeked = queue.peek()
    assert peeked is not None
    assert peeked.url == "http://news.example/99.html"

    out = [take(queue) for _ in range(100)]
    assert [request.url for request in out] == [
        f"http://news.example/{number}.html" for number in reversed(range(100))
    ]
    for number, request in zip(reversed(range(100)), out, strict=True):
        assert request.callback == news.parse_page
        assert request.errback == news.on_error
        assert request.priority == -number % 3
        assert tuple(request.meta["listed_dates"]) == listed(news, number).meta["listed_dates"]
        assert request.meta["listed_title"] == f"Story {number}"
    assert queue.pop() is None
    assert len(queue) == 0


def test_pushes_and_pops_in_any_order_match_a_stack():
    news = spider()
    queue = SpillingLifoQueue(news, memory_requests=8)
    stack: list[str] = []
    chance = random.Random(6)
    pushed = 0
    for _ in range(3000):
        if chance.random() < 0.55:
            request = listed(news, pushed)
            pushed += 1
            queue.push(request)
            stack.append(request.url)
        else:
            popped = queue.pop()
            assert (popped.url if popped else None) == (stack.pop() if stack else None)
        assert len(queue) == len(stack)
        assert len(queue.memory) <= 8
    assert [take(queue).url for _ in range(len(stack))] == stack[::-1]
    assert queue.spilled == 0


def test_a_request_json_cannot_carry_stays_in_memory_and_is_not_lost():
    news = spider()
    queue = SpillingLifoQueue(news, memory_requests=4)
    odd = Request("http://news.example/odd.html", callback=news.parse_page,
                  meta={"handle": object()})  # fmt: skip
    queue.push(odd)
    for number in range(20):
        queue.push(listed(news, number))
    urls = [take(queue).url for _ in range(21)]
    assert sorted(urls) == sorted(["http://news.example/odd.html"] +
                                  [f"http://news.example/{n}.html" for n in range(20)])  # fmt: skip
    assert queue.pop() is None


def test_the_spilled_requests_live_in_a_file_no_one_can_find_and_go_with_the_queue():
    """The queue's file is unlinked as soon as SQLite creates it: a crawl killed at any moment
    leaves nothing on disk, and no other process can open it by name."""
    news = spider()
    queue = SpillingLifoQueue(news, memory_requests=100)
    before = open_files()
    for number in range(8000):  # more than the queue's page cache: written to its file
        queue.push(listed(news, number))
    files = [name for name in open_files() - before if name.startswith("/")]
    assert files, "the spilled requests are in a file"
    assert all(name.endswith("(deleted)") for name in files), files
    assert len(queue) == 8000
    queue.close()
    assert not set(files) & open_files()
    assert len(queue) == 0


def open_files() -> set[str]:
    """What this process's file descriptors point to ("/path (deleted)" for unlinked files)."""
    targets = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            targets.add(str(fd.readlink()))
        except OSError:  # the descriptor that listed the folder, closed since
            continue
    return targets


def test_the_crawl_counts_the_requests_it_moved_out_of_memory():
    crawler = get_crawler(NewsSpider, {"ARCHIVE_FRONTIER_MEMORY_REQUESTS": 10})
    news = crawler._create_spider(start_urls="http://news.example/")
    assert isinstance(news, NewsSpider)
    crawler.spider = news
    crawler.stats.open_spider()
    queue = SpillingLifoQueue.from_crawler(crawler, "unused key")
    for number in range(30):
        queue.push(listed(news, number))
    assert queue.memory_requests == 10
    assert queue.spilled == 30 - len(queue.memory) > 0
    assert crawler.stats.get_value("archive/frontier_spilled") == queue.spilled


def test_requests_are_written_as_scrapy_itself_would_write_them():
    news = spider()
    feed = Request("http://news.example/feed.xml", callback=news.parse_feed, meta={"ok": True})
    requests = [
        listed(news, 3),
        feed,
        Request("http://news.example/", headers={"If-None-Match": '"v1"'}),
        Request("http://news.example/p", callback=news.parse_page, cb_kwargs={"page": 2},
                cookies={"a": "b"}, dont_filter=True, flags=["x"]),
    ]  # fmt: skip
    for request in requests:
        assert request_dict(request, news) == request.to_dict(spider=news)
    # A callback that is not a method of the spider takes Scrapy's way, and fails as it does.
    foreign = Request("http://news.example/", callback=print)
    with pytest.raises(ValueError, match="Function"):
        request_dict(foreign, news)


def test_a_full_disk_keeps_the_requests_in_memory_and_loses_none(caplog):
    """SQLite's own limit on the file's size stands in for a full disk: the same error."""
    news = spider()
    queue = SpillingLifoQueue(news, memory_requests=10)
    for number in range(20):
        queue.push(listed(news, number))
    assert queue.database is not None
    pages = queue.database.execute("PRAGMA page_count").fetchone()[0]
    queue.database.execute(f"PRAGMA max_page_count = {pages}")
    for number in range(20, 2000):
        queue.push(listed(news, number))
    assert "the frontier's temporary file cannot grow" in caplog.text
    assert len(queue) == 2000
    urls = [take(queue).url for _ in range(2000)]
    assert sorted(urls) == sorted(f"http://news.example/{n}.html" for n in range(2000))
    assert urls[:1000] == [f"http://news.example/{n}.html" for n in reversed(range(1000, 2000))]
    assert queue.pop() is None
