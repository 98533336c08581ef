"""newsarchive reextract: older articles profit from what was learned; a no-op writes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select

from crawler.extraction import extract_article_or_reason
from crawler.items import ARTICLE, PageItem
from crawler.learning import LearningSettings
from crawler.normalization import normalize_article
from crawler.reextraction import reextract_articles
from storage.database import session_scope
from storage.models import Article, ArticleBanner, Banner
from storage.queries import ArticleFilter
from storage.records import FetchRecord
from storage.writes import record_fetch, upsert_article, upsert_site
from tests.support.site_server import ARTICLES, READERS_NOTICE, DemoSite

BASE_URL = "http://news.example"
FETCHED_AT = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def archive_as_an_old_version_did(sessions, slugs: list[str]) -> None:
    """Store pages with their raw HTML, extracted by 'an older version': nothing learned, the
    page's notice boxes left in the body."""
    site = DemoSite(BASE_URL)
    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=FETCHED_AT)
        for slug in slugs:
            url = f"{BASE_URL}/news/{slug}.html"
            rendered = site.render(f"/news/{slug}.html")
            page = PageItem(
                url=url, final_url=url, status=200, fetched_at=FETCHED_AT, page_kind=ARTICLE,
                content_type=rendered.content_type, body=rendered.body, text=rendered.body.decode(),
            )  # fmt: skip
            extracted, _ = extract_article_or_reason(page)
            assert extracted is not None
            record = normalize_article(extracted)
            old = replace(
                record, body="Old version's clean-up kept this line.\n\n" + record.body,
                banners=(), extractor="trafilatura 1.0", extraction_settings="{}",
            )  # fmt: skip
            fetch_id = record_fetch(
                session,
                FetchRecord(url=url, final_url=url, status=200, fetched_at=FETCHED_AT,
                            content_type=rendered.content_type, page_kind="article",
                            body=rendered.body),
                site_id=site_id, run_id=None,
            )  # fmt: skip
            upsert_article(session, old, site_id=site_id, fetch_id=fetch_id)


def snapshot(sessions) -> list[list[tuple[object, ...]]]:
    with session_scope(sessions) as session:
        articles: list[tuple[object, ...]] = [
            (a.id, a.body, a.raw_body, a.content_hash, a.published_at, a.extractor, a.last_seen_at)
            for a in session.scalars(select(Article).order_by(Article.id))
        ]
        banners: list[tuple[object, ...]] = [
            (b.id, b.text, b.page_count, b.last_seen_at)
            for b in session.scalars(select(Banner).order_by(Banner.id))
        ]
        links: list[tuple[object, ...]] = [
            (link.article_id, link.banner_id, link.origin, link.first_seen_at, link.last_seen_at)
            for link in session.scalars(select(ArticleBanner).order_by(ArticleBanner.article_id))
        ]
    return [articles, banners, links]


def reextract(sessions, **filters):
    return reextract_articles(
        sessions, ArticleFilter(**filters), min_text_chars=200, learning=LearningSettings()
    )


def test_reextract_cleans_articles_archived_before_the_notice_was_learned(sessions):
    slugs = [a.slug for a in ARTICLES if a.template == "notice"]
    archive_as_an_old_version_did(sessions, slugs)
    report = reextract(sessions)
    assert (report.examined, report.changed, report.unchanged) == (len(slugs), len(slugs), 0)
    with session_scope(sessions) as session:
        for article in session.scalars(select(Article)):
            assert READERS_NOTICE not in article.body
            assert "Old version" not in article.body
            assert article.extractor.startswith("trafilatura 2")
            assert '"min_text_chars": 200' in article.extraction_settings
        readers = session.scalars(select(Banner).where(Banner.text == READERS_NOTICE)).one()
        assert readers.page_count == len(slugs)
        assert session.scalars(
            select(Banner).where(Banner.kind == "alert")
        ).one().page_count == len(slugs)


def test_reextract_that_changes_nothing_writes_nothing(sessions):
    archive_as_an_old_version_did(sessions, [a.slug for a in ARTICLES[:4]])
    reextract(sessions)
    before = snapshot(sessions)
    report = reextract(sessions)
    assert report.changed == 0
    assert report.unchanged == 4
    assert snapshot(sessions) == before


def test_reextract_can_be_limited_to_a_site(sessions):
    archive_as_an_old_version_did(sessions, [ARTICLES[0].slug])
    assert reextract(sessions, site="other.example").examined == 0
    assert reextract(sessions, site="news.example").examined == 1
