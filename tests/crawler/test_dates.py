"""Date candidates, the rule that chooses among them, and each site's order of day and month."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.extraction import extract_article, parse_html
from crawler.items import DateCandidate, PageItem
from crawler.learning import LearningSettings, relearn_site, store_article
from crawler.metadata import published_candidates
from crawler.normalization import choose_date, normalize_article, numeric_date_order
from storage.database import session_scope
from storage.models import Article, Site
from storage.writes import upsert_site
from tests.support.records import article_record

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pages"


@pytest.mark.parametrize(
    ("value", "order"),
    [("30/05/2014", "dmy"), ("05/30/2014", "mdy"), ("05/06/2014", "ambiguous"),
     ("30.05.14", "dmy"), ("2014-05-30", None), ("May 30, 2014", None), ("13/13/2014", None)],
)  # fmt: skip
def test_numeric_date_order(value, order):
    assert numeric_date_order(value) == order


def test_every_candidate_is_kept_best_first():
    page = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", "headline": "x",'
        ' "datePublished": "2014-05-30T09:40:00+02:00"}</script>'
        '<meta property="article:published_time" content="2014-05-30T07:40:00Z"></head><body>'
        '<time datetime="2014-05-29">Thursday</time><p class="post-date">Published on 30/05/2014'
        "</p></body></html>"
    )
    candidates = published_candidates(parse_html(page), "https://news.example/2014/05/30/story")
    assert [(c.source, c.value) for c in candidates] == [
        ("jsonld", "2014-05-30T09:40:00+02:00"),
        ("meta", "2014-05-30T07:40:00Z"),
        ("time", "2014-05-29"),
        ("dateline", "30/05/2014"),
        ("url", "2014-05-30"),
    ]


FETCHED = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "chosen"),
    [
        # A template's placeholder year and the Unix epoch are passed over for the next one.
        (["2099-05-01T10:00:00Z", "2026-11-20"], datetime(2026, 11, 20, tzinfo=UTC)),
        (["1970-01-01T00:00:00Z", "30/05/2014"], datetime(2014, 5, 30, tzinfo=UTC)),
        # Half a day ahead is a time zone, not the future; two days ahead is not believed.
        (["2026-11-26T14:00:00-01:00"], datetime(2026, 11, 26, 15, tzinfo=UTC)),
        (["2026-11-28T09:00:00Z"], None),
        (["1994-12-31"], None),
    ],
)  # fmt: skip
def test_implausible_dates_are_not_believed(values, chosen):
    """B09: a publication date before 1995 or over a day after the page was fetched."""
    candidates = tuple(DateCandidate(source="meta", value=value) for value in values)
    assert choose_date(candidates, seen_at=FETCHED)[0] == chosen


def test_a_future_date_is_kept_among_the_candidates_only():
    page = ('<html><head><meta property="article:published_time" content="2099-01-01">'
            f"<title>t</title></head><body><article><h1>t</h1>{'<p>Some words. </p>' * 40}"
            "</article></body></html>")  # fmt: skip
    article = extract_article(
        PageItem(url="http://news.example/a", final_url="http://news.example/a", status=200,
                 fetched_at=FETCHED, page_kind="article", body=page.encode(), text=page)
    )  # fmt: skip
    assert article is not None
    record = normalize_article(article)
    assert record.published_at is None
    assert record.date_candidates == (("meta", "2099-01-01"),)


def test_embassypages_dateline_is_a_candidate():
    tree = parse_html((FIXTURES / "embassypages" / "nato-air-patrols.html").read_text())
    candidates = published_candidates(tree, "https://www.embassypages.com/news/nato")
    assert ("dateline", "30/05/2014") in [(c.source, c.value) for c in candidates]


def store_dated(sessions, slug: str, dateline: str, host: str = "news.example") -> None:
    record = article_record(
        slug, host=host, canonical_url=f"https://{host}/{slug}", banners=(),
        date_candidates=(("dateline", dateline),), body=f"A story called {slug}, told at length.",
    )  # fmt: skip
    with session_scope(sessions) as session:
        site_id = upsert_site(session, host, seen_at=record.fetched_at)
        store_article(session, record, site_id=site_id, fetch_id=None)


def published(
    sessions, slug: str, host: str = "news.example"
) -> tuple[datetime | None, str | None]:
    with session_scope(sessions) as session:
        article = session.scalars(
            select(Article).where(Article.canonical_url == f"https://{host}/{slug}")
        ).one()
        return article.published_at, article.date_source


def relearn(sessions, host: str = "news.example") -> None:
    with session_scope(sessions) as session:
        site = session.scalars(select(Site).where(Site.host == host)).one()
        relearn_site(session, site.id, LearningSettings())


def test_ambiguous_dates_follow_the_sites_day_first_evidence(sessions):
    store_dated(sessions, "ambiguous", "05/06/2014")
    store_dated(sessions, "clear", "30/05/2014")
    relearn(sessions)
    assert published(sessions, "ambiguous") == (datetime(2014, 6, 5, tzinfo=UTC), "dateline")


def test_ambiguous_dates_are_reread_when_the_site_shows_month_first(sessions):
    store_dated(sessions, "ambiguous", "05/06/2014")  # read day first while nothing is known
    assert published(sessions, "ambiguous")[0] == datetime(2014, 6, 5, tzinfo=UTC)
    store_dated(sessions, "clear-1", "05/30/2014")
    store_dated(sessions, "clear-2", "12/31/2013")
    relearn(sessions)  # end of the first crawl: the site writes month first
    assert published(sessions, "ambiguous")[0] == datetime(2014, 5, 6, tzinfo=UTC)
    store_dated(sessions, "later", "07/08/2014")
    assert published(sessions, "later")[0] == datetime(2014, 7, 8, tzinfo=UTC)


def test_date_order_is_per_site(sessions):
    store_dated(sessions, "us-clear", "05/30/2014", host="us.example")
    store_dated(sessions, "us-ambiguous", "05/06/2014", host="us.example")
    store_dated(sessions, "eu-clear", "30/05/2014", host="eu.example")
    store_dated(sessions, "eu-ambiguous", "05/06/2014", host="eu.example")
    relearn(sessions, "us.example")
    relearn(sessions, "eu.example")
    assert published(sessions, "us-ambiguous", "us.example")[0] == datetime(2014, 5, 6, tzinfo=UTC)
    assert published(sessions, "eu-ambiguous", "eu.example")[0] == datetime(2014, 6, 5, tzinfo=UTC)


def test_a_recrawl_does_not_vote_twice(sessions):
    for _ in range(3):
        store_dated(sessions, "clear", "05/30/2014")
    store_dated(sessions, "other-1", "30/05/2014")
    store_dated(sessions, "other-2", "31/05/2014")
    with session_scope(sessions) as session:
        site = session.scalars(select(Site)).one()
        assert (site.dayfirst_votes, site.monthfirst_votes) == (2, 1)
