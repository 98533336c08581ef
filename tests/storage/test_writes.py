from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from storage.database import session_scope
from storage.models import Article, ArticleBanner, Banner, Fetch, Site, SiteBlock
from storage.models import Article as ArticleModel
from storage.queries import article_banners, article_by_url
from storage.records import BannerRecord
from storage.writes import (
    fetch_body,
    record_article_blocks,
    record_fetch,
    upsert_article,
    upsert_site,
)
from tests.support.records import FETCHED_AT, NOTICE, article_record, fetch_record


def store(sessions, record):
    with session_scope(sessions) as session:
        site_id = upsert_site(session, record.host, seen_at=record.fetched_at)
        return upsert_article(session, record, site_id=site_id)


def stored(session, url: str) -> ArticleModel:
    article = article_by_url(session, url)
    assert article is not None
    return article


def count(sessions, model) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_upsert_article_is_idempotent(sessions):
    first = store(sessions, article_record())
    second = store(sessions, article_record())
    assert first.outcome == "new"
    assert second.outcome == "unchanged"
    assert first.article_id == second.article_id
    assert count(sessions, Article) == 1
    assert count(sessions, Banner) == 1
    assert count(sessions, ArticleBanner) == 1
    assert count(sessions, Site) == 1


def test_upsert_article_keeps_first_seen_and_moves_last_seen_forward(sessions):
    store(sessions, article_record())
    later = FETCHED_AT + timedelta(days=3)
    store(sessions, article_record(fetched_at=later))
    store(sessions, article_record(fetched_at=FETCHED_AT - timedelta(days=1)))
    with session_scope(sessions) as session:
        article = stored(session, "https://news.example/story")
        assert article.first_seen_at == FETCHED_AT - timedelta(days=1)
        assert article.last_seen_at == later


def test_changed_body_is_reported_as_updated_and_replaces_the_text(sessions):
    store(sessions, article_record())
    result = store(sessions, article_record(body="A corrected body of the story."))
    assert result.outcome == "updated"
    with session_scope(sessions) as session:
        assert (
            stored(session, "https://news.example/story").body == "A corrected body of the story."
        )


def test_banner_is_stored_once_per_site_and_linked_to_every_article(sessions):
    for slug in ("one", "two", "three"):
        store(sessions, article_record(slug))
    assert count(sessions, Banner) == 1
    assert count(sessions, ArticleBanner) == 3
    with session_scope(sessions) as session:
        banner = session.scalars(select(Banner)).one()
        assert banner.page_count == 3
        assert banner.text == NOTICE.text
        article = stored(session, "https://news.example/two")
        assert [b.text for b in article_banners(article)] == [NOTICE.text]


def test_same_banner_on_two_sites_is_two_banners(sessions):
    store(sessions, article_record("one"))
    store(
        sessions, article_record("x", canonical_url="https://other.example/x", host="other.example")
    )
    assert count(sessions, Banner) == 2


def test_banner_last_seen_moves_with_later_pages(sessions):
    store(sessions, article_record("one"))
    store(sessions, article_record("two", fetched_at=FETCHED_AT + timedelta(hours=5)))
    with session_scope(sessions) as session:
        banner = session.scalars(select(Banner)).one()
        assert banner.first_seen_at == FETCHED_AT
        assert banner.last_seen_at == FETCHED_AT + timedelta(hours=5)


def test_article_without_banners_has_none(sessions):
    store(sessions, article_record(banners=()))
    assert count(sessions, Banner) == 0


def test_record_fetch_keeps_the_raw_body_compressed(sessions):
    body = b"<html>" + b"<p>repeated text</p>" * 500 + b"</html>"
    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=FETCHED_AT)
        fetch_id = record_fetch(session, fetch_record(body=body), site_id=site_id, run_id=None)
    with session_scope(sessions) as session:
        fetch = session.get_one(Fetch, fetch_id)
        assert fetch_body(fetch) == body
        assert len(fetch.body_zstd or b"") < len(body) / 10
        assert fetch.body_size == len(body)


def test_dates_come_back_aware_in_utc(sessions):
    record = article_record()
    store(sessions, record)
    with session_scope(sessions) as session:
        article = stored(session, record.canonical_url)
        assert article.published_at == record.published_at
        assert article.published_at is not None
        assert article.published_at.utcoffset() == timedelta(0)


def test_upsert_site_adds_the_name_once_known(sessions):
    with session_scope(sessions) as session:
        first = upsert_site(session, "news.example", seen_at=FETCHED_AT)
        second = upsert_site(session, "news.example", seen_at=FETCHED_AT, name="News")
        assert first == second
        assert session.get_one(Site, first).name == "News"


def test_records_are_frozen_and_replaceable():
    record = article_record()
    assert replace(record, title="x").title == "x"


def block_counts(sessions) -> dict[str, tuple[int, object]]:
    with session_scope(sessions) as session:
        rows = session.execute(select(SiteBlock.text, SiteBlock.page_count, SiteBlock.last_seen_at))
        return {text: (count, seen) for text, count, seen in rows}


def test_a_sites_blocks_count_the_articles_that_hold_them(sessions):
    """New articles count their blocks as they insert them; an article stored again moves the
    counts of the blocks it gained or lost only, and the last-seen time forward only."""
    later = FETCHED_AT + timedelta(days=1)
    bodies = {"a": ["shared", "only a"], "b": ["shared", "only b"], "c": ["shared"]}
    ids = {}
    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=FETCHED_AT)
        for name, paragraphs in bodies.items():
            record = article_record(name)
            ids[name] = upsert_article(session, record, site_id=site_id).article_id
            blocks = {f"hash {text}": text for text in paragraphs}
            seen = later if name == "c" else FETCHED_AT
            record_article_blocks(
                session, ids[name], blocks, site_id=site_id, seen_at=seen, is_new=True
            )
    assert block_counts(sessions) == {
        "shared": (3, later), "only a": (1, FETCHED_AT), "only b": (1, FETCHED_AT),
    }  # fmt: skip
    for _ in range(2):  # b now holds "only a" instead of "only b"; the second time, no change
        with session_scope(sessions) as session:
            blocks = {"hash shared": "shared", "hash only a": "only a"}
            record_article_blocks(session, ids["b"], blocks, site_id=site_id, seen_at=FETCHED_AT)
        assert block_counts(sessions) == {
            "shared": (3, later), "only a": (2, FETCHED_AT), "only b": (0, FETCHED_AT),
        }  # fmt: skip


def banner_counts(sessions) -> dict[str, tuple[int, int]]:
    """Each banner's page_count, beside the number of articles linked to it."""
    with session_scope(sessions) as session:
        links = (
            select(func.count())
            .where(ArticleBanner.banner_id == Banner.id)
            .correlate(Banner)
            .scalar_subquery()
        )
        rows = session.execute(select(Banner.text, Banner.page_count, links))
        return {text: (page_count, linked) for text, page_count, linked in rows}


def test_a_banners_page_count_is_the_number_of_articles_showing_it(sessions):
    """Counted as articles are linked to it, never recounted: new articles add one each, an
    article stored again adds nothing, learned banners an article loses take theirs back."""
    alert = BannerRecord(kind="alert", text="Strike on Tuesday: no trains.", text_hash="alert")
    cookie = BannerRecord(kind="learned", text="We use cookies.", text_hash="cookie")
    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=FETCHED_AT)
        for slug in ("a", "b", "c"):
            upsert_article(session, article_record(slug), site_id=site_id,
                           learned_banners=(cookie,) if slug != "c" else ())  # fmt: skip
    assert banner_counts(sessions) == {NOTICE.text: (3, 3), cookie.text: (2, 2)}
    for _ in range(2):  # b again: it shows the alert now, the cookie box no longer
        later = FETCHED_AT + timedelta(hours=1)
        with session_scope(sessions) as session:
            record = article_record("b", banners=(NOTICE, alert), fetched_at=later)
            upsert_article(session, record, site_id=site_id)
        assert banner_counts(sessions) == {
            NOTICE.text: (3, 3), cookie.text: (1, 1), alert.text: (1, 1),
        }  # fmt: skip
    with session_scope(sessions) as session:  # a again, with the same banners: no change
        upsert_article(session, article_record("a"), site_id=site_id, learned_banners=(cookie,))
        notice_seen = dict(
            session.execute(
                select(Article.canonical_url, ArticleBanner.last_seen_at)
                .join(ArticleBanner.article)
                .join(ArticleBanner.banner)
                .where(Banner.text == NOTICE.text)
            ).all()
        )
    assert banner_counts(sessions) == {NOTICE.text: (3, 3), cookie.text: (1, 1), alert.text: (1, 1)}
    assert notice_seen == {  # an old link's last sighting moves with the page showing it again
        "https://news.example/a": FETCHED_AT,
        "https://news.example/b": FETCHED_AT + timedelta(hours=1),
        "https://news.example/c": FETCHED_AT,
    }
