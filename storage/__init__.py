"""The archive: SQLAlchemy models, Alembic migrations, idempotent writes, queries and search.

Knows nothing of Scrapy or the crawler: it takes database URLs, sessions and the records of
`storage.records`.
"""

from __future__ import annotations

from storage.database import (
    DEFAULT_DATABASE_URL,
    DatabaseURLError,
    make_engine,
    make_session_factory,
    normalize_database_url,
    session_scope,
)
from storage.queries import (
    ArticleFilter,
    archive_stats,
    article_by_id,
    article_by_url,
    iter_articles,
)
from storage.records import ArticleRecord, BannerRecord, FetchRecord
from storage.search import InvalidSearchQuery, SearchHit, search_articles
from storage.writes import record_fetch, upsert_article, upsert_site

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ArticleFilter",
    "ArticleRecord",
    "BannerRecord",
    "DatabaseURLError",
    "FetchRecord",
    "InvalidSearchQuery",
    "SearchHit",
    "archive_stats",
    "article_by_id",
    "article_by_url",
    "iter_articles",
    "make_engine",
    "make_session_factory",
    "normalize_database_url",
    "record_fetch",
    "search_articles",
    "session_scope",
    "upsert_article",
    "upsert_site",
]
