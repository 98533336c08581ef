from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crawler.analysis import analyze_page
from crawler.classification import classify_page
from crawler.extraction import parse_html
from crawler.items import ARTICLE, LISTING, OTHER, AnalysisRequest
from tests.support.site_server import ARTICLES, DemoSite


def kind_of(path: str) -> str:
    return classify_page(parse_html(DemoSite("http://news.example").render(path).body.decode()))


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", LISTING),
        ("/?page=2", LISTING),
        ("/section/local/", LISTING),
        ("/tag/harbour/", LISTING),
        ("/about/", OTHER),
        (f"/news/{ARTICLES[0].slug}.html", ARTICLE),
        (f"/news/{ARTICLES[3].slug}.html", ARTICLE),
        (f"/print/news/{ARTICLES[2].slug}.html", ARTICLE),
    ],
    ids=[
        "home",
        "home-page-2",
        "section",
        "tag",
        "about",
        "notice-article",
        "modern-article",
        "print-version",
    ],
)
def test_classify_sample_site_pages(path, kind):
    assert kind_of(path) == kind


def test_undeclared_long_text_page_is_an_article():
    paragraphs = "".join(f"<p>{f'Sentence of the story number {i}. ' * 6}</p>" for i in range(5))
    page = f"<html><body><h1>Title</h1>{paragraphs}</body></html>"
    assert classify_page(parse_html(page)) == ARTICLE


def test_an_article_whose_sidebar_lists_other_stories_as_articles_is_an_article():
    """An undeclared article page with a "most read" sidebar of <article> teasers, stories in
    its header and footer: those teasers are not the page's own, as a listing's are."""
    paragraphs = "".join(f"<p>{f'Sentence of the story number {i}. ' * 6}</p>" for i in range(5))
    teasers = "".join(
        f"<article class='teaser'><h3><a href='/news/{i}.html'>Story {i}</a></h3></article>"
        for i in range(20)
    )
    page = (
        f"<html><body><header><nav><h3><a href='/'>Home</a></h3></nav>{teasers}</header>"
        f"<main><h1>Title</h1>{paragraphs}</main><aside><div>{teasers}</div></aside>"
        f"<footer>{teasers}</footer></body></html>"
    )
    assert classify_page(parse_html(page)) == ARTICLE
    listing = f"<html><body><main>{teasers}</main><aside>{paragraphs}</aside></body></html>"
    assert classify_page(parse_html(listing)) == LISTING


def test_page_declaring_a_collection_is_a_listing():
    page = (
        '<html><head><script type="application/ld+json">{"@type": "CollectionPage"}</script>'
        "</head><body><p>x</p></body></html>"
    )
    assert classify_page(parse_html(page)) == LISTING


def test_a_listing_with_a_malformed_link_keeps_its_other_links():
    """B10: one link with a port out of range made the whole listing's analysis fail."""
    teasers = "".join(f'<article><h2><a href="/news/story-{i}.html">Story {i}</a></h2>'
                      f"<p>{'Teaser words. ' * 5}</p></article>" for i in range(12))  # fmt: skip
    page = (f'<html><head><title>News</title></head><body>{teasers}'
            '<a href="http://news.example:99999/bad.html">bad</a></body></html>')  # fmt: skip
    request = AnalysisRequest(
        text=page, url="http://news.example/", fetched_at=datetime.now(UTC), min_text_chars=200
    )
    analysis = analyze_page(request)
    assert analysis.kind == LISTING
    assert analysis.rejection == ""
    assert list(analysis.links) == [f"http://news.example/news/story-{i}.html" for i in range(12)]


def test_a_listing_s_links_to_its_next_page_are_told_apart_and_followed():
    """Pagination is marked with rel="next" (a token among others, any case), on a link or on
    a `<link>` of the head, which is no `<a>` but is followed too."""
    teasers = "".join(f'<article><h2><a href="/news/story-{i}.html">Story {i}</a></h2>'
                      f"<p>{'Teaser words. ' * 5}</p></article>" for i in range(4))  # fmt: skip
    page = (
        '<html><head><link rel="next" href="/page/2/"><link rel="stylesheet" href="/s.css">'
        f"</head><body>{teasers}"
        '<a rel="Next nofollow" href="/page/2/#top">Older</a> <a rel="prev" href="/page/0/">'
        'Newer</a> <a rel="nofollow" href="/page/9/">Archive</a></body></html>'
    )
    request = AnalysisRequest(text=page, url="http://news.example/page/1/",
                              fetched_at=datetime.now(UTC), min_text_chars=200)  # fmt: skip
    analysis = analyze_page(request)
    assert analysis.kind == LISTING
    assert analysis.next_pages == ("http://news.example/page/2/",)
    assert "http://news.example/page/2/" in analysis.links
    assert "http://news.example/page/0/" in analysis.links  # followed, not the next page

    head_only = page.replace('<a rel="Next nofollow" href="/page/2/#top">Older</a>', "")
    analysis = analyze_page(replace(request, text=head_only))
    assert analysis.next_pages == ("http://news.example/page/2/",)
    assert analysis.links[-1] == "http://news.example/page/2/"  # from the head's <link>
