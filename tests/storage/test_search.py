from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.database import session_scope
from storage.queries import ArticleFilter
from storage.search import InvalidSearchQuery, fts5_query, search_articles
from storage.writes import upsert_article, upsert_site
from tests.support.records import article_record

STORIES = {
    "dredging": ("Harbour dredging to start", "Work to deepen the harbour channel begins in June."),
    "library": ("Library reopens", "The library has a reading room overlooking the harbour."),
    "ferry": ("Ferry adds night crossings", "The ferry company adds crossings at night."),
    "regatta": ("Sailing regatta", "A record fleet of boats entered the regatta this spring."),
}


@pytest.fixture
def archive(sessions):
    with session_scope(sessions) as session:
        for index, (slug, (title, body)) in enumerate(STORIES.items()):
            host = "other.example" if slug == "regatta" else "news.example"
            record = article_record(
                slug, body=body, title=title, host=host,
                canonical_url=f"https://{host}/{slug}",
                published_at=datetime(2014, 5, 1 + index * 7, tzinfo=UTC),
            )  # fmt: skip
            upsert_article(
                session, record, site_id=upsert_site(session, host, seen_at=record.fetched_at)
            )
    return sessions


def titles(sessions, query, **filters):
    with session_scope(sessions) as session:
        return [hit.title for hit in search_articles(session, query, ArticleFilter(**filters))]


def test_search_ranks_title_matches_first(archive):
    assert titles(archive, "harbour") == ["Harbour dredging to start", "Library reopens"]


def test_search_needs_every_word(archive):
    assert titles(archive, "harbour reading") == ["Library reopens"]


def test_search_phrase_or_and_exclusion(archive):
    assert titles(archive, '"night crossings"') == ["Ferry adds night crossings"]
    assert set(titles(archive, "ferry OR regatta")) == {
        "Ferry adds night crossings",
        "Sailing regatta",
    }
    assert titles(archive, "harbour -library") == ["Harbour dredging to start"]


def test_search_filters_by_site_and_dates(archive):
    assert titles(archive, "regatta OR harbour", site="other.example") == ["Sailing regatta"]
    assert titles(archive, "harbour", since=datetime(2014, 5, 5, tzinfo=UTC)) == ["Library reopens"]
    assert titles(archive, "harbour", until=datetime(2014, 5, 5, tzinfo=UTC)) == [
        "Harbour dredging to start"
    ]


def test_search_marks_matches_in_the_snippet(archive):
    with session_scope(archive) as session:
        hit = search_articles(session, "reading", ArticleFilter())[0]
    assert "**reading**" in hit.snippet
    assert hit.url == "https://news.example/library"
    assert hit.site == "news.example"


@pytest.mark.parametrize(
    "query",
    ['"', "'; DROP TABLE articles; --", "harbour AND OR NOT", "NEAR(harbour", "harb*", "title:x",
     "(((", "-", "\\", "harbour\x00"],
)  # fmt: skip
def test_search_syntax_in_queries_is_never_an_sql_error(archive, query):
    with session_scope(archive) as session:
        try:
            hits = search_articles(session, query, ArticleFilter())
        except InvalidSearchQuery:
            return
    assert isinstance(hits, list)


def test_search_of_nothing_is_refused(archive):
    with session_scope(archive) as session, pytest.raises(InvalidSearchQuery):
        search_articles(session, "  -- ", ArticleFilter())


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("harbour", '("harbour")'),
        ("harbour town", '("harbour") AND ("town")'),
        ('"night crossings"', '("night crossings")'),
        ("ferry OR regatta", '("ferry" OR "regatta")'),
        ("harbour -library", '("harbour") NOT "library"'),
        ("e-mail", '("e mail")'),
        ('NEAR(a b) "x', '("NEAR a") AND ("b") AND ("x")'),
    ],
)
def test_fts5_query_quotes_every_term(query, expression):
    assert fts5_query(query) == expression


def test_csv_cells_a_spreadsheet_would_run_are_neutralised():
    """S11: a title like `=HYPERLINK(...)` is text in the CSV, not a formula."""
    import csv
    import io

    from storage.exports import EXPORT_FIELDS, LIST_FIELDS, write_csv

    record: dict[str, object] = dict.fromkeys(EXPORT_FIELDS, "")
    record.update({key: [] for key in LIST_FIELDS})
    record.update(title='=HYPERLINK("http://evil.example","x")', body="+1 then -1", site="@host")
    out = io.StringIO()
    write_csv([record], out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["title"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["body"] == "'+1 then -1"
    assert row["site"] == "'@host"


def test_search_ranks_the_most_recently_archived_matches_when_there_are_many(archive):
    """Only the `candidates` newest matches are ranked: "harbour" is in the title of the first
    story and the body of the second, archived after it; with one candidate only the second
    can be found, with two the title match ranks first again."""
    with session_scope(archive) as session:
        newest_only = search_articles(session, "harbour", ArticleFilter(), candidates=1)
        both = search_articles(session, "harbour", ArticleFilter(), candidates=2)
    assert [hit.title for hit in newest_only] == ["Library reopens"]
    assert [hit.title for hit in both] == ["Harbour dredging to start", "Library reopens"]
    assert "**harbour**" in newest_only[0].snippet


def test_search_filters_before_it_bounds_the_candidates(archive):
    """A filter narrows the matches before the newest are taken: a site's matches are found
    however many newer matches other sites have (the regatta, on another site, is newest)."""
    with session_scope(archive) as session:
        hits = search_articles(
            session, "harbour OR regatta", ArticleFilter(site="news.example"), candidates=1
        )
    assert [hit.title for hit in hits] == ["Library reopens"]
