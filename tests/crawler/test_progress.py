from __future__ import annotations

from crawler.progress import progress_line


def test_progress_line_counts_pages_articles_and_errors():
    line = progress_line(
        {
            "archive/pages_fetched": 29,
            "archive/articles_new": 10,
            "archive/articles_unchanged": 1,
            "item_dropped_reasons_count/NotAnArticle": 18,
            "archive/fetch_errors": 2,
            "spider_exceptions/count": 1,
        }
    )
    assert line == (
        "pages fetched 29 · articles new 10, updated 0, unchanged 1 · not articles 18 · errors 3"
    )


def test_progress_line_before_the_first_page():
    assert progress_line({}).endswith("· starting")
