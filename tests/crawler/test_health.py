"""Each crawl's health per site, and the warning when a site's figures jump."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.health import ArticleSample, SiteFigures, health_warnings, measure, record_crawl_health
from storage.database import session_scope
from storage.writes import record_fetch, start_run, upsert_article, upsert_site
from tests.support.records import article_record, fetch_record

STARTED = datetime(2026, 11, 1, tzinfo=UTC)


def figures(**changes) -> SiteFigures:
    values = {
        "article_count": 20,
        "median_body_chars": 3000,
        "banner_share": 0.05,
        "dated_share": 1.0,
    }
    return SiteFigures(**{**values, **changes})


def test_measure_a_sites_articles():
    samples = [
        ArticleSample(body_chars=1000, raw_body_chars=1100, page_banner_chars=100, is_dated=True),
        ArticleSample(body_chars=3000, raw_body_chars=3000, page_banner_chars=100, is_dated=False),
        ArticleSample(body_chars=2000, raw_body_chars=2000, page_banner_chars=0, is_dated=True),
    ]
    result = measure(samples)
    assert result.article_count == 3
    assert result.median_body_chars == 2000
    assert result.banner_share == 300 / 6300
    assert result.dated_share == 2 / 3


def test_steady_site_gives_no_warning():
    assert health_warnings(figures(median_body_chars=2600), figures()) == []


def test_jumps_are_flagged():
    warnings = health_warnings(
        figures(median_body_chars=900, dated_share=0.4, banner_share=0.5), figures()
    )
    assert warnings == [
        "median body length 3000 → 900 characters",
        "articles with a date 100% → 40%",
        "text taken out as banners 5% → 50%",
    ]


def test_no_warning_without_enough_articles_or_history():
    assert health_warnings(figures(median_body_chars=10), None) == []
    assert health_warnings(figures(median_body_chars=10, article_count=3), figures()) == []


def crawl(sessions, body: str, *, dated: bool) -> list[tuple[object, ...]]:
    with session_scope(sessions) as session:
        run_id = start_run(session, ["https://news.example/"], started_at=STARTED)
        site_id = upsert_site(session, "news.example", seen_at=STARTED)
        for index in range(6):
            url = f"https://news.example/{index}"
            fetch_id = record_fetch(session, fetch_record(url), site_id=site_id, run_id=run_id)
            record = article_record(
                str(index), body=f"{body} {index}", banners=(),
                published_at=STARTED if dated else None,
            )  # fmt: skip
            upsert_article(session, record, site_id=site_id, fetch_id=fetch_id)
        return [
            (row.article_count, row.median_body_chars, row.dated_share, row.warnings)
            for row in record_crawl_health(session, run_id)
        ]


def test_second_crawl_flags_a_site_whose_layout_changed(sessions):
    first = crawl(sessions, "A long article body. " * 100, dated=True)
    assert first == [(6, 2102, 1.0, [])]
    second = crawl(sessions, "Cookie settings", dated=False)
    assert second[0][3] == [
        "median body length 2102 → 17 characters",
        "articles with a date 100% → 0%",
    ]
