"""Requests stored in the shared frontier: JSON that round-trips, entries checked on the way in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy import Request
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler

from crawler import distributed
from crawler.items import DateCandidate
from crawler.spiders.news import NewsSpider


def spider() -> NewsSpider:
    crawler = get_crawler(NewsSpider)
    news = crawler._create_spider(start_urls="http://news.example/")
    assert isinstance(news, NewsSpider)
    return news


def test_a_request_round_trips_through_json():
    news = spider()
    # As the spider lists an article from a feed or a sitemap: the dates the listing gave.
    listed = (DateCandidate(value="2024-05-30T08:00:00+00:00", source="feed"),)
    request = Request("http://news.example/a.html", callback=news.parse_page, errback=news.on_error,
                      headers={"If-None-Match": '"v1"'}, body=b"\x00\xff", priority=3,
                      meta={"listed_dates": listed, "listed_title": "A", "depth": 2,
                            "fetched": datetime(2024, 5, 30, 8, tzinfo=UTC)})  # fmt: skip
    # What the shared frontier (LeasedQueue) stores: Scrapy's to_dict, made directly.
    assert distributed.request_dict(request, news) == request.to_dict(spider=news)
    data = distributed.dumps(distributed.request_dict(request, news))
    assert isinstance(data, str)
    assert "pickle" not in data
    restored = request_from_dict(distributed.check_entry(distributed.loads(data)), spider=news)
    assert restored.url == request.url
    assert restored.callback == news.parse_page
    assert restored.errback == news.on_error
    assert restored.headers[b"If-None-Match"] == b'"v1"'
    assert restored.body == b"\x00\xff"
    assert restored.priority == 3
    assert tuple(restored.meta["listed_dates"]) == listed
    assert restored.meta["fetched"] == datetime(2024, 5, 30, 8, tzinfo=UTC)
    assert restored.meta["depth"] == 2


def test_objects_json_cannot_hold_are_refused_when_queued():
    with pytest.raises(TypeError, match="cannot store a object"):
        distributed.dumps({"url": "http://news.example/", "meta": {"x": object()}})


@pytest.mark.parametrize(
    "entry",
    [
        {"url": "http://news.example/", "_class": "os.system"},
        {"url": "http://news.example/", "callback": "__init__"},
        {"url": "http://news.example/", "errback": "close"},
        {"url": "file:///etc/passwd"},
        ["http://news.example/"],
    ],
)
def test_entries_the_spider_would_not_make_are_rejected(entry):
    with pytest.raises(distributed.RejectedEntry):
        distributed.check_entry(entry)


def test_a_password_is_never_shown():
    shown = distributed.redis_url_for_display("redis://user:secret@cache:6379/0")
    assert shown == "redis://user:***@cache:6379/0"
    assert distributed.redis_url_for_display("redis://cache:6379/0") == "redis://cache:6379/0"
