"""crawler.tree_copies: trafilatura's passes give the same text without the copies of the tree
they never read, and a trafilatura whose functions differ keeps its own."""

from __future__ import annotations

import trafilatura.core
from lxml import etree
from trafilatura.main_extractor import extract_content
from trafilatura.settings import Extractor

from crawler import tree_copies
from crawler.extraction import parse_html, run_trafilatura
from tests.crawler.test_fast_xpaths import PAGES, extract_sample_pages


def test_the_shortcut_is_in_use_with_this_trafilatura():
    """An upgrade that changes the functions it was checked against makes this fail (and the
    crawl keeps trafilatura's own copies until the shortcut is checked again)."""
    assert tree_copies.matches_checked_sources()
    assert isinstance(trafilatura.core._prepare_tree, tree_copies.LeanPrepareTree)


def test_articles_are_the_same_with_trafilatura_s_own_copies():
    lean = extract_sample_pages()
    tree_copies.uninstall()
    try:
        assert not isinstance(trafilatura.core._prepare_tree, tree_copies.LeanPrepareTree)
        own = extract_sample_pages()
    finally:
        tree_copies.install()
    assert lean == own
    assert sum(article is not None for article, _ in lean) >= 20


def test_both_passes_of_the_crawl_give_trafilatura_s_own_text():
    """The precise pass (its raw tree cleaned in place) and the balanced one (cleaned in a copy,
    which its baseline rescue and recall escalation read afterwards)."""
    texts = [text for _, text in PAGES]
    for options in ({"favor_precision": True}, {"favor_precision": False}):

        def extract_all(options=options):
            return [
                trafilatura.bare_extraction(
                    parse_html(text), include_comments=False, fast=True, **options
                )
                for text in texts
            ]

        lean = extract_all()
        tree_copies.uninstall()
        try:
            own = extract_all()
        finally:
            tree_copies.install()
        assert [d and d.text for d in lean] == [d and d.text for d in own]
        assert sum(bool(d and d.text) for d in lean) >= 20


def test_the_caller_s_tree_is_left_as_it_was():
    url, text = PAGES[0]
    tree = parse_html(text)
    before = etree.tostring(tree)
    assert run_trafilatura(tree, url) is not None
    assert etree.tostring(tree) == before


def test_passes_that_read_the_copies_go_to_trafilatura_s_own():
    """Comments on, or not fast: the backup is read (the forum path, the external comparison)."""
    calls = []

    def own(tree, options, url):
        calls.append(options)
        return "cleaned", "backup"

    lean = tree_copies.LeanPrepareTree(own)
    tree = parse_html(PAGES[0][1])
    for options in (Extractor(fast=True, comments=True), Extractor(fast=False, comments=False)):
        assert lean(tree, options, None) == ("cleaned", "backup")
    assert len(calls) == 2
    cleaned, backup = lean(tree, Extractor(fast=True, comments=False), None)
    assert backup is None
    assert cleaned is not None
    assert len(calls) == 2


def test_a_trafilatura_whose_functions_differ_keeps_its_own_copies(monkeypatch):
    tree_copies.uninstall()
    original = trafilatura.core._prepare_tree
    try:

        def _extract_and_compare(cleaned_tree, cleaned_tree_backup, tree, options):
            return extract_content(cleaned_tree_backup, options)  # reads the backup

        monkeypatch.setattr(trafilatura.core, "_extract_and_compare", _extract_and_compare)
        assert not tree_copies.matches_checked_sources()
        assert tree_copies.install() is False
        assert trafilatura.core._prepare_tree is original
    finally:
        monkeypatch.undo()
        assert tree_copies.install() is True
