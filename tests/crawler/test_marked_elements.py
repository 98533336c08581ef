"""crawler.metadata.MarkedElements: the readers of a page (notices, datelines, breadcrumbs) find
exactly the elements that searching each element's class, id, role and aria-label would find."""

from __future__ import annotations

import re

import pytest
from lxml import html

from crawler.banners import ANY_KIND_WORD
from crawler.extraction import parse_html
from crawler.metadata import (
    BREADCRUMB_MARKS,
    BYLINE_XPATH,
    DATELINE_MARKS,
    MARK_ATTRIBUTES,
    MARKED_XPATH,
    MarkedElements,
)
from tests.crawler.test_fast_xpaths import PAGES

PATTERNS = [ANY_KIND_WORD, DATELINE_MARKS, BREADCRUMB_MARKS]


def one_by_one(tree: html.HtmlElement, pattern: re.Pattern[str]) -> list[html.HtmlElement]:
    """The elements of MARKED_XPATH whose lower-cased attributes match, searched one by one."""
    return [
        element
        for element in tree.xpath(MARKED_XPATH)
        if pattern.search(" ".join(filter(None, map(element.get, MARK_ATTRIBUTES))).lower())
    ]


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.pattern[:20])
def test_matching_finds_what_each_element_searched_alone_finds(pattern: re.Pattern[str]) -> None:
    found_any = 0
    for _, text in PAGES:
        tree = parse_html(text)
        expected = one_by_one(tree, pattern)
        assert list(MarkedElements.of(tree).matching(pattern)) == expected
        found_any += len(expected)
    assert found_any  # the sample pages do hold such elements


def test_a_match_never_runs_from_one_element_into_the_next() -> None:
    # "...-date" ends one element's marks and "time-..." opens the next: neither alone says
    # "datetime", and an element whose marks are the word split in two is not found.
    tree = html.fromstring(
        '<div><p class="up-date">a</p><p class="time-line">b</p>'
        '<p class="bread">c</p><p id="crumb">d</p><p role="navigation">e</p></div>'
    )
    marked = MarkedElements.of(tree)
    assert [e.text for e in marked.matching(re.compile("datetime"))] == []
    assert [e.text for e in marked.matching(re.compile("breadcrumb"))] == []
    assert [e.text for e in marked.matching(DATELINE_MARKS)] == ["a", "b"]


def test_each_element_is_found_once_in_document_order() -> None:
    tree = html.fromstring(
        '<div><p class="date date-time" id="published" aria-label="Date">a</p>'
        '<span role="time">b</span><p>c</p><p class="">d</p><p class="DATE">e</p></div>'
    )
    found = MarkedElements.of(tree).matching(DATELINE_MARKS)
    assert [element.text for element in found] == ["a", "b", "e"]


def test_a_page_without_marks() -> None:
    tree = html.fromstring("<div><p>plain</p></div>")
    assert list(MarkedElements.of(tree).matching(DATELINE_MARKS)) == []


def test_bylines_are_the_elements_of_the_byline_xpath():
    found = 0
    for _, text in PAGES:
        tree = parse_html(text)
        expected = tree.xpath(BYLINE_XPATH)
        assert MarkedElements.of(tree).bylines == expected
        found += len(expected)
    assert found  # the sample pages do mark up bylines
    tree = html.fromstring(
        '<html><head><meta class="author" content="x"><link rel="author" href="/a">'
        '<script class="byline">1</script></head><body>'
        '<a rel="author" href="/b">A</a><span itemprop="author">B</span>'
        '<p class="Author">not: the XPath is case-sensitive</p><p class="post-byline">C</p>'
        '<p rel="authors">not</p><div id="author">not: class only</div>'
        '<p class="x" itemprop="author">D</p></body></html>'
    )
    bylines = MarkedElements.of(tree).bylines
    assert bylines == tree.xpath(BYLINE_XPATH)
    assert [e.text for e in bylines] == ["A", "B", "C", "D"]
