"""The archive: SQLAlchemy models, Alembic migrations, idempotent writes, queries and search.

Knows nothing of Scrapy or the crawler: it takes database URLs, sessions and the records of
`storage.records`.

The names below are imported when first used (PEP 562), not with the package: the crawl's
worker processes import `storage.records` alone, and would otherwise load SQLAlchemy and the
models for nothing (about 0.3 s of each worker's start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULES = {
    "storage.database": (
        "DEFAULT_DATABASE_URL", "DatabaseURLError", "make_engine", "make_session_factory",
        "normalize_database_url", "session_scope",
    ),
    "storage.queries": (
        "ArticleFilter", "archive_stats", "article_by_id", "article_by_url", "iter_articles",
    ),
    "storage.records": ("ArticleRecord", "BannerRecord", "FetchRecord"),
    "storage.search": ("InvalidSearchQuery", "SearchHit", "search_articles"),
    "storage.writes": ("record_fetch", "upsert_article", "upsert_site"),
}  # fmt: skip
_HOME = {name: module for module, names in _MODULES.items() for name in names}

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


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
