"""Alembic environment: the URL comes from the caller's config; batch mode on SQLite."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import text

from storage.database import make_engine
from storage.models import Base

# Structures that live only in migrations because SQLAlchemy cannot model them: the FTS5
# table and its shadow tables on SQLite, the stored search vector and its index on PostgreSQL.
UNMODELLED_PREFIXES = ("articles_fts", "ix_articles_search", "search_vector")
MIGRATION_LOCK = 7_105_268_972  # a PostgreSQL advisory lock key of this project's own


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def run_migrations() -> None:
    """Run the migrations in one transaction that holds the archive's migration lock, so that
    crawls started at once on a new archive (catalog F07) create it once, one after the other:
    SQLite's write lock taken at BEGIN (the others wait their busy timeout), a transaction-level
    advisory lock on PostgreSQL. Each reads the archive's revision under the lock.

    One transaction on SQLite too: alembic takes SQLite for a database without transactional
    DDL and commits after each migration, which let go of the lock between two of them, and a
    crawl that had read the revision before went on to create tables another had just made
    ("table crawl_run_sites already exists", 2 of 100 crawls started four at a time). SQLite
    does run DDL in transactions (the sqlite3 module's own transaction handling is off)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None  # noqa: S101 - storage.migrate always sets it
    engine = make_engine(url, immediate_transactions=True)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                include_name=include_name,
                compare_type=True,
                transactional_ddl=True,
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": MIGRATION_LOCK})  # fmt: skip
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
