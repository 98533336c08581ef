from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import html
from trafilatura.utils import INVALID_XML_CHARS, repair_faulty_html

from crawler.banners import ANY_KIND_WORD, NOTICE_WORDS, banner_kind, find_banners
from crawler.extraction import (
    INVALID_XML_CHARACTERS,
    extract_article,
    extract_article_or_reason,
    repair_html,
    strip_leading_repeats,
)
from crawler.items import ARTICLE, PageItem
from crawler.normalization import normalize_article
from tests.support.site_server import ARTICLES, NOTICE_TEXT, READERS_NOTICE, DemoSite

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pages"
FETCHED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BASE_URL = "http://news.example"


def page_from_html(text: str, url: str) -> PageItem:
    return PageItem(
        url=url, final_url=url, status=200, fetched_at=FETCHED_AT, page_kind=ARTICLE,
        body=text.encode(), text=text,
    )  # fmt: skip


def site_page(path: str) -> PageItem:
    return page_from_html(DemoSite(BASE_URL).render(path).body.decode(), f"{BASE_URL}{path}")


def extract_record(page: PageItem):
    extracted = extract_article(page)
    assert extracted is not None
    return normalize_article(extracted)


def test_embassypages_notice_is_a_banner_and_not_in_the_body():
    page = page_from_html(
        (FIXTURES / "embassypages" / "nato-air-patrols.html").read_text(),
        "https://www.embassypages.com/news/nato-steps-up-air-patrols-over-the-baltic-states",
    )
    extracted = extract_article(page)
    assert extracted is not None
    record = normalize_article(extracted)
    assert record.title == "NATO steps up air patrols over the Baltic states"
    assert record.published_at is not None
    assert record.published_at.date().isoformat() == "2014-05-30"
    assert record.body.startswith("NATO said Friday it would step up air patrols")
    assert "Consular assistance" not in record.body
    assert "Published on" not in record.body
    assert [b.kind for b in record.banners] == ["alert"]
    assert record.banners[0].text.startswith(
        "Consular assistance in Russia\n\nRussia is currently at war in Ukraine."
    )
    assert record.section == "News"
    assert record.canonical_url == (
        "https://www.embassypages.com/news/nato-steps-up-air-patrols-over-the-baltic-states"
    )


def test_notice_template_article_keeps_only_the_article():
    article = ARTICLES[0]
    record = extract_record(site_page(f"/news/{article.slug}.html"))
    assert record.title == article.title
    # One page cannot tell the readers' notice inside the text from the article: learning
    # across the site's pages does (tests/crawler/test_learning.py).
    first, notice, *rest = record.body.split("\n\n")
    assert notice == READERS_NOTICE
    assert [first, *rest] == list(article.paragraphs)
    assert record.section == article.section
    assert record.published_at is not None
    assert record.published_at.date().isoformat() == "2014-05-30"
    assert {b.kind for b in record.banners} == {"alert", "ticker", "cookie"}


def test_modern_template_article_metadata_and_mid_article_promo():
    article = next(a for a in ARTICLES if a.template == "modern")
    record = extract_record(site_page(f"/news/{article.slug}.html"))
    assert record.body == "\n\n".join(article.paragraphs)
    assert record.authors == (article.author,)
    assert record.tags == article.tags
    assert record.section == article.section
    assert record.site_name == "The Harbour Gazette"
    assert record.language == "en"
    assert record.date_source == "jsonld"
    assert record.published_at == datetime.fromisoformat(article.published).astimezone(UTC)
    kinds = {b.kind for b in record.banners}
    assert "newsletter" in kinds
    assert all("morning briefing" not in p for p in record.body.split("\n\n"))


def test_every_sample_article_body_is_free_of_the_site_notice():
    for article in ARTICLES:
        record = extract_record(site_page(f"/news/{article.slug}.html"))
        assert NOTICE_TEXT[:30] not in record.body, article.slug
        assert record.body.startswith(article.paragraphs[0][:40]), article.slug


def test_short_page_is_not_an_article():
    article, reason = extract_article_or_reason(site_page("/news/editors-note.html"))
    assert article is None
    assert "too short" in reason


@pytest.mark.parametrize("text", ["", "   ", "\x00\x00"])
def test_empty_page_is_not_an_article(text):
    article, _ = extract_article_or_reason(page_from_html(text, "http://news.example/x"))
    assert article is None


def nested_article(depth: int, before: str = "") -> PageItem:
    """An article whose second half sits `depth` elements deep."""
    first = "".join(f"<p>First half, paragraph {i}. {'Words of the first half. ' * 8}</p>"
                    for i in range(6))  # fmt: skip
    second = "".join(f"<p>Second half, paragraph {i}. {'Words of the deep half. ' * 8}</p>"
                     for i in range(6))  # fmt: skip
    text = (f"<html><head><title>Deep page</title></head><body>{before}<article>"
            f"<h1>Deep page</h1>{first}{'<div>' * depth}{second}{'</div>' * depth}"
            f"</article></body></html>")  # fmt: skip
    return page_from_html(text, f"{BASE_URL}/news/deep.html")


def test_an_article_nested_past_libxml2_s_default_depth_is_extracted_whole():
    """B02: at 256 levels libxml2 stops reading and drops the rest of the page, with no error;
    the page was archived cut short as if whole."""
    article = extract_article(nested_article(300))
    assert article is not None
    assert "First half, paragraph 0." in article.body
    assert "Second half, paragraph 5." in article.body


def test_a_page_too_deep_to_parse_whole_is_rejected_not_truncated():
    article, reason = extract_article_or_reason(nested_article(2100))
    assert article is None
    assert reason == "the page is nested too deep or too large to parse whole"


def test_an_article_after_a_10_mb_script_is_extracted():
    """B03: libxml2 drops a text node over 10 MB, and the rest of the page with it."""
    script = f"<script>var data = '{'x' * 11_000_000}';</script>"
    article = extract_article(nested_article(0, before=script))
    assert article is not None
    assert "Second half, paragraph 5." in article.body


def test_a_page_of_too_many_elements_is_rejected():
    page = page_from_html(f"<html><body>{'<b>x</b>' * 300_001}</body></html>", BASE_URL)
    assert extract_article_or_reason(page) == (None, "the page has over 300,000 elements")


@pytest.mark.parametrize(
    "attributes",
    ['colspan="9007199254740991"', 'rowspan="9007199254740991"',
     " ".join(f'data-a{i}="v"' for i in range(5000)), f'data-x="{"y" * 1_000_000}"'],
    ids=["colspan", "rowspan", "5000-attributes", "1-MB-attribute"],
)  # fmt: skip
def test_crafted_attributes_stay_inside_their_page(attributes):
    """B06: a huge span made trafilatura run out of memory (its issue #657)."""
    table = f"<table><tr><td {attributes}>cell</td><td>b</td></tr><tr><td>c</td></tr></table>"
    article = extract_article(nested_article(0, before=table))
    assert article is not None
    assert "Second half, paragraph 5." in article.body


def test_strip_leading_repeats_drops_title_breadcrumb_and_dateline_only_at_the_top():
    text = (
        "Home News A title\nA title\nPublished on 30/05/2014\nFirst paragraph of the story.\n"
        "A title\nPublished on 30/05/2014"
    )
    assert strip_leading_repeats(text, title="A title", breadcrumb=["Home", "News", "A title"]) == (
        "First paragraph of the story.\nA title\nPublished on 30/05/2014"
    )


def test_strip_leading_repeats_keeps_a_first_paragraph_that_mentions_a_date():
    text = "On 30/05/2014 the council met for the last time before the summer break began."
    assert strip_leading_repeats(text, title="Other", breadcrumb=[]) == text


@pytest.mark.parametrize(
    ("markup", "kind"),
    [
        ('<div class="avis-lecteurs">x</div>', "notice"),
        ('<div class="hinweis-box">x</div>', "notice"),
        ('<div id="cookie-banner">x</div>', "cookie"),
        ('<div class="gdpr-consent">x</div>', "cookie"),
        ('<div class="newsletter-promo">x</div>', "newsletter"),
        ('<div class="breaking-news-ticker">x</div>', "ticker"),
        ('<div role="alert">x</div>', "alert"),
        ('<div class="story-body">x</div>', None),
        ('<div class="tickets">x</div>', None),
    ],
)
def test_banner_kind_from_role_class_and_id(markup, kind):
    assert banner_kind(html.fragment_fromstring(markup)) == kind


def test_find_banners_skips_menus_and_the_headline_container():
    tree = html.document_fromstring(
        '<html><body><div class="notice-bar"><a href="/a">One link</a> <a href="/b">Another link'
        '</a> <a href="/c">Third link</a></div><div class="alert"><h1>Headline</h1><p>Text of '
        "the whole story goes here and it is long enough.</p></div></body></html>"
    )
    assert find_banners(tree) == []


def test_the_notice_word_pattern_finds_exactly_the_notice_words():
    """The trie-shaped pattern finds a notice word wherever the plain list of words would."""
    rng = random.Random(5)
    pieces = [*NOTICE_WORDS, *(word[: len(word) // 2] for word in NOTICE_WORDS), "-", " ", "x"]
    samples = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    samples += [word[:-1] for word in NOTICE_WORDS] + ["site-header main-nav", "", "cmpnt"]
    for sample in samples:
        assert bool(ANY_KIND_WORD.search(sample)) == any(w in sample for w in NOTICE_WORDS), sample


def test_a_page_that_is_only_a_consent_wall_is_not_an_article():
    """B05: the cookie box was most of the page, so it was taken for the article."""
    consent = "We and our partners use cookies to store and access information on your device. "
    page = page_from_html(
        '<html><head><title>Consent</title></head><body><div class="cookie-consent" '
        f'role="dialog"><h2>We value your privacy</h2><p>{consent * 4}</p><button>Accept</button>'
        "</div></body></html>",
        f"{BASE_URL}/news/walled.html",
    )
    article, reason = extract_article_or_reason(page)
    assert article is None
    assert reason.startswith("main text too short")


REPAIR_CASES = [
    "<html><body><p>plain</p></body></html>",
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x.dtd"/>\n<html><p>a</p></html>',
    "<!doctype html>\n<html/>\n<body><p>self-closing root</p></body>",
    "<html lang='en' />\n<p>b</p>",
    "<html><p>bell \x07 form feed \x0c nul \x00 and \ufffe \uffff kept out</p></html>",
    "<html><p>tab\t newline\n return\r stay</p></html>",
    "\n\n\n\n<html/>\n<p>the fifth line is not looked at</p>",
]


@pytest.mark.parametrize("text", REPAIR_CASES)
def test_repair_html_does_what_trafilatura_s_repair_does(text):
    beginning = text[:50].lower()
    assert repair_html(text, beginning) == repair_faulty_html(text, beginning)


def test_the_characters_looked_for_are_those_trafilatura_removes():
    every = (chr(code) for code in range(0x110000) if not 0xD800 <= code < 0xE000)
    assert sorted(INVALID_XML_CHARACTERS) == sorted(c for c in every if INVALID_XML_CHARS.match(c))
