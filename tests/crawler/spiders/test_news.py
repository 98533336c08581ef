from __future__ import annotations

import asyncio
import gzip

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.items import ARTICLE, ERROR, FEED, LISTING, ROBOTS, SITEMAP, PageItem
from crawler.spiders.news import NEXT_PAGE_PRIORITY, InvalidSpiderArgument, NewsSpider
from tests.support.responses import BASE_URL, site_response
from tests.support.site_server import ARTICLES


def make_spider(**kwargs) -> NewsSpider:
    return NewsSpider(start_urls=f"{BASE_URL}/", **kwargs)


def split(results) -> tuple[list[PageItem], list[Request]]:
    """Run a callback's output (a generator or an async generator) to the end."""
    if hasattr(results, "__aiter__"):

        async def collect(outputs):
            return [output async for output in outputs]

        results = asyncio.run(collect(results))
    results = list(results)
    return [r for r in results if isinstance(r, PageItem)], [
        r for r in results if isinstance(r, Request)
    ]


def test_start_requests_the_start_urls_and_robots_txt():
    import asyncio

    async def collect():
        return [r async for r in make_spider().start()]

    requests = asyncio.run(collect())
    assert [r.url for r in requests] == [f"{BASE_URL}/", f"{BASE_URL}/robots.txt"]


def test_start_skips_robots_txt_when_sitemaps_are_off():
    import asyncio

    async def collect():
        return [r async for r in make_spider(follow_sitemaps="false").start()]

    assert [r.url for r in asyncio.run(collect())] == [f"{BASE_URL}/"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"start_urls": ""}, "at least one start URL"),
        ({"start_urls": "ftp://news.example/"}, r"not an http\(s\) URL"),
        ({"start_urls": "file:///etc/passwd"}, r"not an http\(s\) URL"),
        ({"start_urls": "https://news.example/", "follow_feeds": "maybe"}, "follow_feeds"),
    ],
)
def test_wrong_arguments_fail_before_any_request(arguments, message):
    with pytest.raises(InvalidSpiderArgument, match=message):
        NewsSpider(**arguments)


def test_start_urls_may_be_separated_by_commas_or_spaces():
    spider = NewsSpider(start_urls="https://a.example/, https://www.b.example/feed")
    assert spider.start_urls == ["https://a.example/", "https://www.b.example/feed"]
    assert spider.allowed_domains == ["a.example", "b.example"]


def test_home_page_is_a_listing_whose_links_and_pagination_are_followed():
    items, requests = split(make_spider().parse_start(site_response("/")))
    assert [item.page_kind for item in items] == [LISTING]
    urls = {r.url for r in requests}
    assert f"{BASE_URL}/?page=2" in urls
    assert f"{BASE_URL}/feed.xml" in urls
    assert f"{BASE_URL}/news/{ARTICLES[0].slug}.html" in urls
    assert f"{BASE_URL}/section/local/" in urls


def test_a_listing_s_next_page_is_asked_for_before_the_pages_already_waiting():
    """Each page of a pagination is found on the page before it: at the default priority each
    step waited behind every request queued before it, and the walk was left for the end."""
    _, requests = split(make_spider().parse_page(site_response("/")))
    priorities = {request.url: request.priority for request in requests}
    assert priorities.pop(f"{BASE_URL}/?page=2") == NEXT_PAGE_PRIORITY > 0
    assert set(priorities.values()) == {0}
    assert f"{BASE_URL}/news/{ARTICLES[0].slug}.html" in priorities


def test_a_link_already_followed_is_not_asked_for_again():
    """The second listing repeats the first one's menu and articles: only its new links become
    requests (Scrapy's duplicate filter would drop the others, after every middleware)."""
    spider = make_spider()
    _, first = split(spider.parse_page(site_response("/")))
    _, second = split(spider.parse_page(site_response("/?page=2")))
    assert first
    assert not {r.url for r in first} & {r.url for r in second}
    assert len({r.url for r in second}) == len(second)


def test_article_page_yields_an_article_item_and_follows_nothing():
    response = site_response(f"/news/{ARTICLES[0].slug}.html")
    items, requests = split(make_spider().parse_page(response))
    assert requests == []
    assert len(items) == 1
    assert items[0].page_kind == ARTICLE
    assert items[0].text.startswith("<!DOCTYPE html>")
    assert items[0].body == response.body


def test_error_page_is_recorded_with_its_status():
    items, requests = split(make_spider().parse_page(site_response("/missing/")))
    assert requests == []
    assert [(i.page_kind, i.status) for i in items] == [(ERROR, 404)]


def test_robots_txt_leads_to_its_sitemaps():
    items, requests = split(make_spider().parse_start(site_response("/robots.txt")))
    assert [i.page_kind for i in items] == [ROBOTS]
    assert [r.url for r in requests] == [f"{BASE_URL}/sitemap.xml"]


def test_sitemap_index_leads_to_its_sitemaps():
    items, requests = split(make_spider().parse_start(site_response("/sitemap.xml")))
    assert [i.page_kind for i in items] == [SITEMAP]
    assert [r.url for r in requests] == [
        f"{BASE_URL}/sitemap-news.xml.gz",
        f"{BASE_URL}/sitemap-pages.xml",
    ]


def test_sitemap_indexes_are_followed_three_deep_only():
    """B12: a chain of indexes (each on its own URL, so the duplicate filter does not stop it)."""
    crawler = get_crawler(NewsSpider)
    spider = NewsSpider.from_crawler(crawler, start_urls=f"{BASE_URL}/")
    followed = []
    for depth in range(5):
        meta = {"sitemap_depth": depth} if depth else None
        _, requests = split(spider.parse_sitemap(site_response("/sitemap.xml", meta=meta)))
        followed.append([r.meta["sitemap_depth"] for r in requests])
    assert followed == [[1, 1], [2, 2], [3, 3], [], []]
    assert crawler.stats.get_value("archive/sitemaps_too_deep") == 2


def test_gzipped_news_sitemap_lists_articles_with_their_dates():
    response = site_response("/sitemap-news.xml.gz")
    assert response.body[:2] == b"\x1f\x8b"
    items, requests = split(make_spider().parse_sitemap(response))
    assert [i.page_kind for i in items] == [SITEMAP]
    assert len(requests) == len(ARTICLES)
    assert requests[0].meta["listed_dates"][0].value == ARTICLES[0].published


def test_feed_links_lose_their_tracking_parameters():
    items, requests = split(make_spider().parse_start(site_response("/feed.xml")))
    assert [i.page_kind for i in items] == [FEED]
    assert requests
    assert all("utm_" not in r.url for r in requests)
    assert requests[0].meta["listed_dates"][0].source == "feed"


def test_a_feed_s_unusable_links_are_skipped_and_the_rest_followed():
    """B08, B10: a relative link is read against the feed; a link with a port out of range,
    credentials or another scheme is counted and skipped, and the entries after it are kept
    (a bad one used to end the whole feed)."""
    links = ["/news/relative.html", "http://news.example:99999/bad-port.html",
             "http://user:secret@news.example/credentials.html", "mailto:desk@news.example",
             f"{BASE_URL}/news/after.html"]  # fmt: skip
    items = "".join(f"<item><title>t</title><link>{link}</link></item>" for link in links)
    body = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()
    url = f"{BASE_URL}/section/feed.xml"
    crawler = get_crawler(NewsSpider)
    spider = NewsSpider.from_crawler(crawler, start_urls=f"{BASE_URL}/")
    response = Response(url, body=body, request=Request(url))
    _, requests = split(spider.parse_feed(response))
    assert [r.url for r in requests] == [f"{BASE_URL}/news/relative.html",
                                         f"{BASE_URL}/news/after.html"]  # fmt: skip
    assert crawler.stats.get_value("archive/unfollowable_links") == 3


def test_links_to_other_sites_are_not_followed():
    spider = make_spider()
    assert spider.is_on_site(f"{BASE_URL}/x")
    assert spider.is_on_site("http://www.news.example/x")
    assert spider.is_on_site("http://sport.news.example/x")
    assert not spider.is_on_site("http://othernews.example/x")
    assert not spider.is_on_site("http://news.example.evil.test/x")


def test_corrupt_gzip_sitemap_is_recorded_and_followed_no_further():
    body = gzip.compress(b"<urlset>")[:-6]
    response = Response(
        f"{BASE_URL}/broken.xml.gz", body=body, request=Request(f"{BASE_URL}/broken.xml.gz")
    )
    items, requests = split(make_spider().parse_sitemap(response))
    assert [i.page_kind for i in items] == [SITEMAP]
    assert requests == []
