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

from sqlalchemy import Select, column, func, literal_column, select, table, text
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
# How many of a query's most recently archived matches are ranked: bounds a search's time when a
# word is in most of a large archive (issue #6: under 100 ms at 1,000,000 articles).
SEARCH_CANDIDATES = 2000


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
    session: Session,
    query: str,
    article_filter: ArticleFilter,
    *,
    limit: int = 20,
    candidates: int = SEARCH_CANDIDATES,
) -> list[SearchHit]:
    """Return the best `limit` articles matching `query`, best first.

    Ranking reads the `candidates` most recently archived matches (all of them when a query
    matches fewer), so that a search takes about the same time in an archive of a thousand
    articles or of millions, however common its words.
    """
    query = CONTROL_CHARACTERS.sub(" ", query)
    if session.get_bind().dialect.name == "postgresql":
        return _search_postgresql(session, query, article_filter, limit, candidates)
    return _search_sqlite(session, query, article_filter, limit, candidates)


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
    session: Session, query: str, article_filter: ArticleFilter, limit: int, candidates: int
) -> list[SearchHit]:
    fts = table("articles_fts", column("rowid"))
    expression = fts5_query(query)

    def matching(fts5_expression: str, *columns: Any) -> Select[Any]:
        return article_filter.apply(
            select(*columns)
            .select_from(fts)
            .join(Article, Article.id == fts.c.rowid)
            .where(text("articles_fts MATCH :match").bindparams(match=fts5_expression))
        )

    # FTS5 walks the matches newest first and stops after `candidates`: cheap at any size.
    newest = list(
        session.scalars(
            matching(expression, fts.c.rowid).order_by(fts.c.rowid.desc()).limit(candidates)
        )
    )
    if not newest:
        return []
    if len(newest) < candidates:
        # All the matches are in hand: rank them by bm25 (lower is better).
        rank: ColumnClause[float] = literal_column(
            f"bm25(articles_fts, {TITLE_WEIGHT}, {BODY_WEIGHT})"
        )
        ranked = [
            (article_id, -score)
            for article_id, score in session.execute(
                matching(expression, fts.c.rowid, rank).order_by(rank, fts.c.rowid).limit(limit)
            )
        ]
    else:
        # More matches than candidates: bm25 would first count every article holding each
        # word (most of the archive for a common word), so the newest candidates are ranked
        # by where they match: in the title first (score 1), then in the body (score 0).
        window = fts.c.rowid >= newest[-1]
        in_title = f"({expression}) AND ({{title}} : ({expression}))"
        titled = list(
            session.scalars(
                matching(in_title, fts.c.rowid).where(window)
                .order_by(fts.c.rowid.desc()).limit(limit)
            )
        )  # fmt: skip
        in_titles = set(titled)
        ranked = [(article_id, 1.0) for article_id in titled]
        ranked += [(article_id, 0.0) for article_id in newest if article_id not in in_titles]
        ranked = ranked[:limit]
    # Snippets for the best only: FTS5 finds each of them by rowid within the match.
    snippet: ColumnClause[str] = literal_column(
        f"snippet(articles_fts, 1, '{SNIPPET_START}', '{SNIPPET_END}', '…', 24)"
    )
    ids = [article_id for article_id, _ in ranked]
    snippets: dict[int, str] = dict(
        session.execute(
            matching(expression, fts.c.rowid, snippet).where(fts.c.rowid.in_(ids))
        ).all()
    )
    return _hits(session, ranked, snippets)


def _search_postgresql(
    session: Session, query: str, article_filter: ArticleFilter, limit: int, candidates: int
) -> list[SearchHit]:
    tsquery = func.websearch_to_tsquery(literal_column("'simple'::regconfig"), query)
    if session.scalar(select(func.numnode(tsquery))) == 0:
        raise InvalidSearchQuery(f"nothing to search for in {query!r}: give at least one word")
    # The stored, GIN-indexed vector of migration 0009 (title weighted A, body B).
    vector: ColumnClause[Any] = literal_column("articles.search_vector")
    # The newest `candidates` matches (the planner walks the primary key backwards for common
    # words, the GIN index for rare ones); only those are ranked.
    newest = (
        article_filter.apply(select(Article.id).where(vector.op("@@")(tsquery)))
        .order_by(Article.id.desc())
        .limit(candidates)
        .cte("newest")
        .prefix_with("MATERIALIZED")
    )
    rank = func.ts_rank_cd(vector, tsquery)
    best = session.execute(
        select(Article.id, rank)
        .join(newest, newest.c.id == Article.id)
        .order_by(rank.desc(), Article.id)
        .limit(limit)
    ).all()
    if not best:
        return []
    snippet = func.ts_headline(
        literal_column("'simple'::regconfig"),
        Article.body,
        tsquery,
        f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, MaxWords=24, MinWords=12, "
        "MaxFragments=2, FragmentDelimiter=' … '",
    )
    ids = [row[0] for row in best]
    query_snippets = select(Article.id, snippet).where(Article.id.in_(ids))
    snippets: dict[int, str] = dict(session.execute(query_snippets).all())
    return _hits(session, [(row[0], float(row[1])) for row in best], snippets)


def _hits(
    session: Session, ranked: list[tuple[int, float]], snippets: dict[int, str]
) -> list[SearchHit]:
    """The hits of the `ranked` (article id, score) pairs, in that order, with their snippets."""
    rows = {
        row[0]: row
        for row in session.execute(
            select(*HIT_COLUMNS)
            .join(Site, Site.id == Article.site_id)
            .where(Article.id.in_([article_id for article_id, _ in ranked]))
        )
    }
    return [
        _hit(rows[article_id], snippet=snippets.get(article_id, ""), score=score)
        for article_id, score in ranked
    ]


def _hit(row: Sequence[Any], *, snippet: str, score: float) -> SearchHit:
    article_id, url, host, title, published_at = row
    return SearchHit(
        article_id=article_id,
        url=url,
        site=host,
        title=title,
        published_at=published_at,
        snippet=" ".join(snippet.split()),
        score=score,
    )
