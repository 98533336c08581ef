"""A crawl's batch of pages written together: the archive is the one page-by-page writes make.

`crawler.learning.store_articles` writes the articles new to the archive with one statement per
table for the whole batch; these tests store the same pages both ways, on SQLite and
PostgreSQL, and compare every row a user can see or that later crawls count on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from crawler.learning import (
    FetchedArticle,
    LearningSettings,
    relearn_site,
    store_article,
    store_articles,
)
from crawler.normalization import banner_fingerprint, fingerprint
from storage.models import (
    Article,
    ArticleBanner,
    ArticleBlock,
    ArticleVersion,
    Banner,
    Fetch,
    Site,
    SiteBlock,
)
from storage.records import BannerRecord
from storage.writes import record_fetch, record_fetches, upsert_site
from tests.crawler.test_learning import NOTICE_EN, PROMO, story
from tests.support.records import NOTICE, article_record, fetch_record

START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
COOKIES = BannerRecord(
    kind="cookie",
    text="We use cookies to give you the best experience on our website.",
    text_hash=banner_fingerprint("We use cookies to give you the best experience on our website."),
)


def page(index: int, host: str = "news.example", *, body: str | None = None, **changes: Any):
    """An article page: a unique body with the site's notice and promo paragraphs in it."""
    body = body or story(index, (1, NOTICE_EN), (3, PROMO))
    fields: dict[str, Any] = {
        "host": host,
        "canonical_url": f"https://{host}/story-{index}",
        "url": f"https://{host}/story-{index}",
        "content_hash": fingerprint(body),
        "fetched_at": START + timedelta(minutes=index),
        "banners": (NOTICE, COOKIES) if index % 2 else (NOTICE,),
        "date_candidates": (("meta", f"0{index % 9 + 1}/05/2014"),),  # ambiguous: votes
        **changes,
    }
    return article_record(f"story-{index}", body=body, **fields)


def archived_before(session: Session) -> None:
    """What the archive holds before the batch: articles that teach news.example its notice
    and promo (learned as boilerplate), one article the batch sees unchanged, one it sees
    changed."""
    site_id = upsert_site(session, "news.example", seen_at=START)
    for index in range(100, 106):
        store_article(session, page(index), site_id=site_id, fetch_id=None)
    relearn_site(session, site_id, LearningSettings(min_pages=3))


def batch() -> list[Any]:
    """A batch as a crawl hands it over: new pages of two sites (sharing blocks and banners),
    one URL twice (new, then changed), an archived article unchanged and one changed."""
    pages = [page(index) for index in range(12)]
    pages += [page(index, "other.example", banners=(COOKIES,)) for index in range(3)]
    pages.insert(5, page(3, body=story(3, (1, NOTICE_EN)) + "\n\nA correction was added."))
    pages.append(page(100))  # unchanged
    pages.append(page(101, body=story(101, (1, NOTICE_EN), (3, PROMO)) + "\n\nAn update."))
    return pages


def store_batch(session: Session, records: list[Any], *, together: bool) -> list[str]:
    sites = [upsert_site(session, record.host, seen_at=record.fetched_at) for record in records]
    fetches = [
        (fetch_record(record.url, fetched_at=record.fetched_at), site_id)
        for record, site_id in zip(records, sites, strict=True)
    ]
    if together:
        fetch_ids = record_fetches(session, fetches, run_id=None)
        articles = [
            FetchedArticle(record, site_id, fetch_id)
            for record, site_id, fetch_id in zip(records, sites, fetch_ids, strict=True)
        ]
        return [str(write.outcome) for write in store_articles(session, articles)]
    outcomes: list[str] = []
    for (fetch, site_id), record in zip(fetches, records, strict=True):
        fetch_id = record_fetch(session, fetch, site_id=site_id, run_id=None)
        outcomes.append(store_article(session, record, site_id=site_id, fetch_id=fetch_id).outcome)
    return outcomes


def archive_rows(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row, by its natural keys (ids differ between the two runs)."""
    host = {site.id: site.host for site in session.scalars(select(Site))}
    url = {article.id: article.canonical_url for article in session.scalars(select(Article))}
    banner = {b.id: (host[b.site_id], b.text_hash) for b in session.scalars(select(Banner))}
    block = {b.id: (host[b.site_id], b.block_hash) for b in session.scalars(select(SiteBlock))}
    fetch_url = {
        fetch.id: (fetch.url, fetch.fetched_at) for fetch in session.scalars(select(Fetch))
    }
    return {
        "sites": sorted(
            (s.host, s.dayfirst_votes, s.monthfirst_votes, s.date_order)
            for s in session.scalars(select(Site))
        ),
        "fetches": sorted(
            (f.url, f.fetched_at, f.site_id in host, f.body_sha256)
            for f in session.scalars(select(Fetch))
        ),
        "articles": sorted(
            (
                a.canonical_url,
                a.title,
                a.body,
                a.raw_body,
                a.content_hash,
                a.published_at,
                a.date_source,
                a.first_seen_at,
                a.last_seen_at,
                fetch_url[a.fetch_id] if a.fetch_id is not None else None,
            )
            for a in session.scalars(select(Article))
        ),
        "banners": sorted(
            (*banner[b.id], b.kind, b.text, b.page_count, b.first_seen_at, b.last_seen_at)
            for b in session.scalars(select(Banner))
        ),
        "banner links": sorted(
            (
                url[link.article_id],
                banner[link.banner_id],
                link.origin,
                link.first_seen_at,
                link.last_seen_at,
            )
            for link in session.scalars(select(ArticleBanner))
        ),
        "versions": sorted(
            (url[v.article_id], v.version, v.seen_at, v.title, v.raw_body)
            for v in session.scalars(select(ArticleVersion))
        ),
        "site blocks": sorted(
            (*block[b.id], b.text, b.page_count, b.is_boilerplate, b.first_seen_at, b.last_seen_at)
            for b in session.scalars(select(SiteBlock))
        ),
        "block links": sorted(
            (url[link.article_id], block[link.block_id])
            for link in session.scalars(select(ArticleBlock))
        ),
    }


def stored(sessions, *, together: bool) -> tuple[list[str], dict[str, list[tuple[Any, ...]]]]:
    """Store the batch on the archive as `archived_before` left it; return the outcomes and
    the rows, then roll everything back (the other way runs on the same database)."""
    with sessions() as session:
        session.begin()
        try:
            archived_before(session)
            outcomes = store_batch(session, batch(), together=together)
            session.flush()
            return outcomes, archive_rows(session)
        finally:
            session.rollback()


def test_a_batch_stored_together_leaves_the_archive_of_page_by_page_writes(sessions):
    one_by_one, rows = stored(sessions, together=False)
    together, rows_together = stored(sessions, together=True)
    assert together == one_by_one
    assert together.count("new") == 15
    assert together[5] == "updated"  # story-3 again, changed, after its first page
    assert together[-2:] == ["unchanged", "updated"]
    for table, expected in rows.items():
        assert rows_together[table] == expected, table
    # What the comparison covers: learned notices linked, blocks counted on both sites.
    assert any(link[2] == "learned" for link in rows["banner links"])
    assert {block[0] for block in rows["site blocks"]} == {"news.example", "other.example"}
    assert max(block[3] for block in rows["site blocks"]) > 10  # the promo, on most pages


def test_a_batch_of_new_articles_is_written_in_a_few_statements(sessions):
    """Fifty new articles, each with banners, blocks and a version, are written with one
    statement per table (page by page, about nine each: on PostgreSQL a round trip apiece)."""
    statements: list[str] = []
    with sessions() as session, session.begin():
        records = [page(index) for index in range(50)]
        site_id = upsert_site(session, "news.example", seen_at=START)
        event.listen(
            session.get_bind(),
            "before_cursor_execute",
            lambda conn, cursor, statement, *_: statements.append(" ".join(statement.split()[:3])),
        )
        fetches = [(fetch_record(record.url), site_id) for record in records]
        fetch_ids = record_fetches(session, fetches, run_id=None)
        writes = store_articles(
            session,
            [FetchedArticle(r, site_id, f) for r, f in zip(records, fetch_ids, strict=True)],
        )
    assert [write.outcome for write in writes] == ["new"] * 50
    assert len(set(fetch_ids)) == 50
    assert len(statements) <= 12, statements
