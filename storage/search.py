"""Full-text search over titles and bodies: one function hiding FTS5 versus PostgreSQL.

A query is words, "quoted phrases", OR between alternatives and -word to exclude, as in web
search engines. Nothing a user types reaches the database as query syntax: the words are
re-written as quoted FTS5 strings on SQLite and go through `websearch_to_tsquery` on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import column, func, literal_column, select, table, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from storage.models import Article, Site
from storage.queries import ArticleFilter

SNIPPET_START = "**"
SNIPPET_END = "**"
WORD = re.compile(r"\w+")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
QUERY_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')
# Weights of title and body in the ranking, as in the PostgreSQL setweight() of the index.
TITLE_WEIGHT, BODY_WEIGHT = 4.0, 1.0


# What a hit shows of its article; the snippet and the score follow, per backend.
HIT_COLUMNS = (Article.id, Article.canonical_url, Site.host, Article.title, Article.published_at)


class InvalidSearchQuery(ValueError):
    """The search query has nothing to search for."""


@dataclass(frozen=True, kw_only=True)
class SearchHit:
    """One matching article, with a snippet of its body with the matches marked by `**`."""

    article_id: int
    url: str
    site: str
    title: str | None
    published_at: datetime | None
    snippet: str
    score: float


def search_articles(
    session: Session, query: str, article_filter: ArticleFilter, *, limit: int = 20
) -> list[SearchHit]:
    """Return the best `limit` articles matching `query`, best first."""
    query = CONTROL_CHARACTERS.sub(" ", query)
    if session.get_bind().dialect.name == "postgresql":
        return _search_postgresql(session, query, article_filter, limit)
    return _search_sqlite(session, query, article_filter, limit)


def fts5_query(query: str) -> str:
    """Rewrite a web-style query as an FTS5 expression that FTS5 cannot misread.

    Every word or phrase becomes a quoted FTS5 string; `OR` joins alternatives; `-x` excludes.
    """
    positive: list[str] = []
    negative: list[str] = []
    pending_or = False
    for match in QUERY_PART.finditer(query):
        negated, phrase, bare = match.groups()
        if bare == "OR":
            pending_or = bool(positive)
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        words = WORD.findall(phrase if phrase is not None else bare)
        if not words:
            continue
        term = '"' + " ".join(words) + '"'
        if negated:
            negative.append(term)
        elif pending_or:
            positive[-1] = f"{positive[-1]} OR {term}"
            pending_or = False
        else:
            positive.append(term)
    if not positive:
        raise InvalidSearchQuery(f"nothing to search for in {query!r}: give at least one word")
    expression = " AND ".join(f"({term})" for term in positive)
    for term in negative:
        expression = f"{expression} NOT {term}"
    return expression


def _search_sqlite(
    session: Session, query: str, article_filter: ArticleFilter, limit: int
) -> list[SearchHit]:
    fts = table("articles_fts", column("rowid"))
    match = fts5_query(query)
    rank: ColumnClause[float] = literal_column(f"bm25(articles_fts, {TITLE_WEIGHT}, {BODY_WEIGHT})")
    snippet: ColumnClause[str] = literal_column(
        f"snippet(articles_fts, 1, '{SNIPPET_START}', '{SNIPPET_END}', '…', 24)"
    )
    statement = (
        select(*HIT_COLUMNS, snippet, rank)
        .select_from(fts)
        .join(Article, Article.id == fts.c.rowid)
        .join(Site, Site.id == Article.site_id)
        .where(text("articles_fts MATCH :match").bindparams(match=match))
        .order_by(rank, Article.id)
        .limit(limit)
    )
    rows = session.execute(article_filter.apply(statement)).all()
    # bm25() is lower for better matches; turn it into a score where higher is better.
    return [_hit(row, score=-row[6]) for row in rows]


def _search_postgresql(
    session: Session, query: str, article_filter: ArticleFilter, limit: int
) -> list[SearchHit]:
    tsquery = func.websearch_to_tsquery(literal_column("'simple'::regconfig"), query)
    if session.scalar(select(func.numnode(tsquery))) == 0:
        raise InvalidSearchQuery(f"nothing to search for in {query!r}: give at least one word")
    vector: ColumnClause[Any] = literal_column(
        # The same expression as the GIN index ix_articles_search (migration 0001).
        "(setweight(to_tsvector('simple'::regconfig, coalesce(articles.title, '')), 'A') || "
        "setweight(to_tsvector('simple'::regconfig, coalesce(articles.body, '')), 'B'))"
    )
    rank = func.ts_rank_cd(vector, tsquery)
    matches = (
        article_filter.apply(select(Article.id, rank.label("score")))
        .where(vector.op("@@")(tsquery))
        .order_by(rank.desc(), Article.id)
        .limit(limit)
        .subquery()
    )
    snippet = func.ts_headline(
        literal_column("'simple'::regconfig"),
        Article.body,
        tsquery,
        f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, MaxWords=24, MinWords=12, "
        "MaxFragments=2, FragmentDelimiter=' … '",
    )
    statement = (
        select(*HIT_COLUMNS, snippet, matches.c.score)
        .join(matches, matches.c.id == Article.id)
        .join(Site, Site.id == Article.site_id)
        .order_by(matches.c.score.desc(), Article.id)
    )
    return [_hit(row, score=float(row[6])) for row in session.execute(statement).all()]


def _hit(row: Sequence[Any], *, score: float) -> SearchHit:
    article_id, url, host, title, published_at, snippet, _ = row
    return SearchHit(
        article_id=article_id,
        url=url,
        site=host,
        title=title,
        published_at=published_at,
        snippet=" ".join(snippet.split()),
        score=score,
    )
