"""crawler.fast_xpaths: each Python translation selects exactly what libxml2 selects with
trafilatura's XPath text, and extraction gives the same articles with them as without."""

from __future__ import annotations

import random
import re
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trafilatura.xpaths
from lxml import etree, html
from trafilatura.htmlprocessing import convert_tags, tree_cleaning
from trafilatura.settings import Extractor

from crawler import extraction, fast_xpaths
from crawler.extraction import extract_from_tree, parse_html
from crawler.items import ExtractedArticle
from tests.support.news_farm import NewsFarm
from tests.support.site_server import ARTICLES, DemoSite

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pages"
REGEXP = {"re": "http://exslt.org/regular-expressions"}
FETCHED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BASE_URL = "http://news.example"


def sample_pages() -> list[tuple[str, str]]:
    """(url, HTML) of pages the crawl meets: the generated farm's articles, listings and
    sections in its three templates, the demo site's templates, the embassypages page."""
    farm = NewsFarm(BASE_URL, articles=12)
    pages = [
        (f"{BASE_URL}{path}", farm.render(path)[2].decode())
        for path in farm.paths()
        if not path.endswith((".xml", ".txt"))
    ]
    demo = DemoSite(BASE_URL)
    paths = ["/", *(f"/news/{article.slug}.html" for article in ARTICLES)]
    pages += [(f"{BASE_URL}{path}", demo.render(path).body.decode()) for path in paths]
    embassy = FIXTURES / "embassypages" / "nato-air-patrols.html"
    pages.append(("https://www.embassypages.com/news/nato", embassy.read_text()))
    return pages


PAGES = sample_pages()


def contexts(tree: html.HtmlElement) -> list[html.HtmlElement]:
    """The page and some of its containers: trafilatura evaluates on both."""
    containers = list(tree.iter("div", "article", "section", "main", "body"))
    return [tree, *containers[:: max(1, len(containers) // 6)]]


def trees_of(text: str) -> list[html.HtmlElement]:
    """The page as parsed, and as trafilatura's cleaning and tag conversion leave it."""
    raw = parse_html(text)
    options = Extractor(precision=True, tables=True, fast=True, comments=False)
    cleaned = convert_tags(tree_cleaning(deepcopy(raw), options), options, BASE_URL)
    return [raw, cleaned]


# -- random trees built from the expressions' own words ---------------------------------------

TAGS = (
    "div", "p", "span", "section", "article", "main", "aside", "list", "item", "ol", "ul",
    "details", "h1", "a", "header", "td",
)  # fmt: skip
ATTRIBUTES = (
    "id", "class", "style", "role", "aria-hidden", "itemprop", "data-component",
    "data-lp-replacement-content",
)  # fmt: skip


def vocabulary() -> list[str]:
    words = set()
    for _, _, translation in fast_xpaths.TRANSLATIONS:
        words.update(re.findall(r"[A-Za-z][A-Za-z_:-]*", translation.xpath))
    # what the expressions' regular expressions match whole, beyond their literal words
    words.update({"true", "false", "ad", "display:none", "display: none", "Commentary", ""})
    words.update({"mvp-post-add-box", "mvp-post-add-wrap", "infinite-scroll", "infinitescroll"})
    return sorted(words)


def random_value(rng: random.Random, words: list[str]) -> str:
    parts = [rng.choice(words) for _ in range(rng.choice((1, 1, 2, 3)))]
    value = rng.choice((" ", "-", "_", "", "  ")).join(parts)
    if rng.random() < 0.2:
        value = value.swapcase() if rng.random() < 0.5 else value.capitalize()
    if rng.random() < 0.1:
        value = f" {value} "
    return value


def random_tree(rng: random.Random, words: list[str]) -> html.HtmlElement:
    root = html.Element("body")
    open_elements = [root]
    for _ in range(rng.randint(5, 60)):
        parent = rng.choice(open_elements)
        element = etree.SubElement(parent, rng.choice(TAGS))
        for name in rng.sample(ATTRIBUTES, rng.randint(0, 4)):  # in random source order
            element.set(name, random_value(rng, words))
        element.text = rng.choice(("", "text"))
        open_elements.append(element)
    return root


def test_every_translation_is_in_use_with_this_trafilatura():
    """An upgrade that changes one of the expressions makes this fail (and the crawl keeps
    trafilatura's own expression for it until the translation is brought up to date)."""
    in_use = [
        f"{name}[{index}]"
        for name, index, _ in fast_xpaths.TRANSLATIONS
        if isinstance(getattr(trafilatura.xpaths, name)[index], fast_xpaths.FastXPath)
    ]
    assert in_use == [f"{name}[{index}]" for name, index, _ in fast_xpaths.TRANSLATIONS]
    assert len(in_use) == 12


@pytest.mark.parametrize(
    "translation",
    [translation for _, _, translation in fast_xpaths.TRANSLATIONS],
    ids=[f"{name}[{index}]" for name, index, _ in fast_xpaths.TRANSLATIONS],
)
def test_a_translation_selects_what_libxml2_selects(translation):
    xpath = etree.XPath(translation.xpath, namespaces=REGEXP)
    compared = selected = 0
    for _, text in PAGES:
        for tree in trees_of(text):
            for context in contexts(tree):
                expected = xpath(context)
                assert translation.select(context) == expected
                compared += 1
                selected += len(expected)
    rng, words = random.Random(26), vocabulary()
    for _ in range(400):
        tree = random_tree(rng, words)
        for context in [tree, *rng.sample(list(tree.iter()), 3)]:
            expected = xpath(context)
            assert translation.select(context) == expected, etree.tostring(context)
            selected += len(expected)
    assert compared > 100
    assert selected > 0  # the pages and trees exercise the expression, not only its misses


def test_attribute_order_decides_which_of_two_attributes_an_expression_reads():
    """`@id|@class` as a string is the one that comes first in the element's source."""
    tree = html.fromstring(
        '<div><div class="cookie-box" id="main">a</div><div id="main" class="cookie-box">b</div>'
        '<div id="reply-1" class="x">c</div><div class="x" id="reply-1">d</div></div>'
    )
    assert [e.text for e in fast_xpaths.OVERALL_DISCARD.select(tree)] == ["a"]
    assert [e.text for e in fast_xpaths.OVERALL_DISCARD_HIDDEN.select(tree)] == ["c"]


def test_a_whole_document_is_left_to_libxml2():
    """trafilatura passes elements; a document (an ElementTree) goes to the XPath itself."""
    tree = parse_html(PAGES[0][1])
    expression = trafilatura.xpaths.OVERALL_DISCARD_XPATH[0]
    assert isinstance(expression, fast_xpaths.FastXPath)
    document = tree.getroottree()
    assert expression(document) == expression.original(document) == expression(tree) != []


def test_an_expression_trafilatura_changed_keeps_trafilatura_s_own(monkeypatch):
    changed = etree.XPath(".//*[self::div][contains(@class, 'newer-rule')]")
    expressions = list(trafilatura.xpaths.TEASER_DISCARD_XPATH)
    expressions[0] = changed
    monkeypatch.setattr(trafilatura.xpaths, "TEASER_DISCARD_XPATH", expressions)
    replaced = fast_xpaths.install()
    assert "TEASER_DISCARD_XPATH[0]" not in replaced
    assert expressions[0] is changed
    assert "OVERALL_DISCARD_XPATH[0]" in replaced


def extract_sample_pages() -> list[tuple[ExtractedArticle | None, str]]:
    """What the crawl's extraction finds in each sample page: (article or None, reason)."""
    return [
        extract_from_tree(parse_html(text), url=url, fetched_at=FETCHED_AT) for url, text in PAGES
    ]


def test_articles_are_the_same_with_trafilatura_s_own_expressions_and_element_classes(
    monkeypatch,
):
    fast = extract_sample_pages()
    fast_xpaths.uninstall()
    try:
        monkeypatch.setattr(extraction, "ELEMENT_CLASSES", html.HtmlElementClassLookup())
        own = extract_sample_pages()
    finally:
        fast_xpaths.install()
    assert fast == own
    assert sum(article is not None for article, _ in fast) >= 20
