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

# Where the names of __all__ live, searched in this order when one is first used.
_MODULES = ("storage.database", "storage.queries", "storage.records", "storage.search",
            "storage.writes")  # fmt: skip
_MISSING = object()

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
    if name in __all__:
        for module in _MODULES:
            value = getattr(importlib.import_module(module), name, _MISSING)
            if value is not _MISSING:
                globals()[name] = value
                return value
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
