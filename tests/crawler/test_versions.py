"""Article versions: a changed text gives exactly one new version; unchanged gives none."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crawler.learning import LearningSettings, relearn_site, store_article
from crawler.normalization import fingerprint
from crawler.versions import article_history
from storage.database import session_scope
from storage.models import Article, ArticleVersion
from storage.writes import upsert_site
from tests.support.records import FETCHED_AT, article_record

FIRST = "The council met on Monday.\n\nIt voted for the new cycle lanes by 21 to 14."
CHANGED = "The council met on Monday.\n\nIt voted for the new cycle lanes by 21 to 13."


def fetch(sessions, body: str, *, hours: int = 0, slug: str = "story", is_refetch: bool = True):
    record = article_record(
        slug, body=body, banners=(), content_hash=fingerprint(body),
        canonical_url=f"https://news.example/{slug}",
        fetched_at=FETCHED_AT + timedelta(hours=hours),
    )  # fmt: skip
    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=record.fetched_at)
        return store_article(
            session, record, site_id=site_id, fetch_id=None, is_refetch=is_refetch
        ).outcome


def versions(sessions, slug: str = "story") -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(ArticleVersion)) or 0


def history(sessions, slug: str = "story"):
    with session_scope(sessions) as session:
        article = session.scalars(
            select(Article).where(Article.canonical_url == f"https://news.example/{slug}")
        ).one()
        return article_history(session, article)


def test_unchanged_article_stores_no_new_version(sessions):
    assert fetch(sessions, FIRST) == "new"
    assert fetch(sessions, FIRST, hours=24) == "unchanged"
    assert versions(sessions) == 1
    with session_scope(sessions) as session:
        article = session.scalars(select(Article)).one()
        assert article.last_seen_at == FETCHED_AT + timedelta(hours=24)


def test_changed_article_gives_exactly_one_new_version_with_its_diff(sessions):
    fetch(sessions, FIRST)
    assert fetch(sessions, CHANGED, hours=24) == "updated"
    assert fetch(sessions, CHANGED, hours=48) == "unchanged"
    assert versions(sessions) == 2
    first, second = history(sessions)
    assert (first.version, first.diff) == (1, "")
    assert second.seen_at == FETCHED_AT + timedelta(hours=24)
    assert "-It voted for the new cycle lanes by 21 to 14." in second.diff.splitlines()
    assert "+It voted for the new cycle lanes by 21 to 13." in second.diff.splitlines()
    assert second.body == CHANGED


def test_a_version_that_differs_only_by_a_learned_notice_is_folded(sessions):
    notice = "Readers' notice: the print edition will not appear on Monday, as every year."
    for index in range(4):
        fetch(sessions, f"Story {index} has its own long text.\n\n{notice}", slug=f"s{index}")
    fetch(sessions, "Story 0 has its own long text.", slug="s0", hours=24)  # notice gone
    with session_scope(sessions) as session:
        site_id = session.scalars(select(Article.site_id)).first()
        assert site_id is not None
        relearn_site(session, site_id, LearningSettings())
    assert len(history(sessions, "s0")) == 1


def test_reextraction_refines_the_latest_version_instead_of_adding_one(sessions):
    fetch(sessions, FIRST)
    fetch(sessions, FIRST + "\n\nA paragraph a better extractor finds.", is_refetch=False)
    assert versions(sessions) == 1
    assert history(sessions)[0].body.endswith("A paragraph a better extractor finds.")
