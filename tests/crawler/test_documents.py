from __future__ import annotations

import pytest

from crawler.documents import (
    document_kind,
    parse_feed,
    parse_sitemap,
    parse_xml,
    robots_sitemaps,
)
from crawler.items import FEED, ROBOTS, SITEMAP

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>https://news.example/one?utm_source=rss</link>
<pubDate>Fri, 30 May 2014 09:40:00 +0200</pubDate></item>
<item><title>Two</title><guid>https://news.example/two</guid></item>
<item><title>No link</title></item></channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>T</title><entry><title>One</title><link rel="alternate" href="https://news.example/a"/>
<link rel="enclosure" href="https://news.example/a.mp3"/><published>2014-05-30T09:40:00Z</published>
</entry></feed>"""
SITEMAP_INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.example/s1.xml.gz</loc></sitemap>
<sitemap><loc> https://news.example/s2.xml </loc></sitemap>
</sitemapindex>"""
NEWS_SITEMAP = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://news.example/a</loc>
<news:news><news:publication_date>2014-05-30T09:40:00+02:00</news:publication_date>
<news:title>A title</news:title></news:news></url><url><loc>https://news.example/b</loc>
<lastmod>2014-01-01</lastmod></url></urlset>"""


def test_parse_rss_feed():
    pages = parse_feed(RSS)
    assert [p.url for p in pages] == [
        "https://news.example/one?utm_source=rss",
        "https://news.example/two",
    ]
    assert pages[0].dates[0].value == "Fri, 30 May 2014 09:40:00 +0200"
    assert pages[0].dates[0].source == "feed"
    assert pages[0].title == "One"


def test_parse_atom_feed_takes_the_alternate_link():
    pages = parse_feed(ATOM)
    assert [p.url for p in pages] == ["https://news.example/a"]
    assert pages[0].dates[0].value == "2014-05-30T09:40:00Z"


def test_parse_sitemap_index():
    sitemap = parse_sitemap(SITEMAP_INDEX)
    assert sitemap.is_index
    assert sitemap.sitemap_urls == ("https://news.example/s1.xml.gz", "https://news.example/s2.xml")


def test_parse_news_sitemap_keeps_publication_dates_and_titles():
    sitemap = parse_sitemap(NEWS_SITEMAP)
    assert not sitemap.is_index
    assert [p.url for p in sitemap.pages] == ["https://news.example/a", "https://news.example/b"]
    assert sitemap.pages[0].dates[0].value == "2014-05-30T09:40:00+02:00"
    assert sitemap.pages[0].dates[0].source == "news-sitemap"
    assert sitemap.pages[0].title == "A title"
    assert sitemap.pages[1].dates == ()


def test_robots_sitemap_lines():
    body = b"User-agent: *\nDisallow: /x\nSitemap: https://news.example/s.xml\nsitemap:https://news.example/t.xml\n"
    assert robots_sitemaps(body) == ["https://news.example/s.xml", "https://news.example/t.xml"]


@pytest.mark.parametrize(
    ("url", "body", "kind"),
    [
        ("https://news.example/robots.txt", b"User-agent: *", ROBOTS),
        ("https://news.example/feed", RSS, FEED),
        ("https://news.example/atom", ATOM, FEED),
        ("https://news.example/sitemap", SITEMAP_INDEX, SITEMAP),
        ("https://news.example/sitemap", NEWS_SITEMAP, SITEMAP),
        ("https://news.example/", b"<!DOCTYPE html><html><body>x</body></html>", None),
        ("https://news.example/x.xml", b"<?xml version='1.0'?><svg/>", None),
    ],
    ids=["robots", "rss", "atom", "index", "urlset", "html", "other-xml"],
)
def test_document_kind(url, body, kind):
    assert document_kind(url, body) == kind


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<rss><channel><item><link>https://news.example/&x;</link></item></channel></rss>"
    ).encode()
    pages = parse_feed(body)
    assert all("TOP-SECRET-TOKEN" not in p.url for p in pages)


def test_entity_expansion_bomb_is_not_expanded():
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [{entities}]><urlset><url><loc>&i;</loc></url></urlset>'
    )
    root = parse_xml(body.encode())
    text = "" if root is None else "".join(root.itertext())
    assert len(text) < 1000
