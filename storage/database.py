"""Engines and sessions: connection options per database, in one place."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///archive.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseURLError(ValueError):
    """The database URL cannot be used."""


def normalize_database_url(url: str) -> str:
    """Return `url` as an SQLAlchemy URL; a bare file path means an SQLite file.

    `postgresql://` URLs get the psycopg 3 driver, which is the one we install.
    """
    if "://" not in url:
        return f"sqlite:///{url}"
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError and ValueError alike
        raise DatabaseURLError(f"not a database URL: {url!r}") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseURLError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    *,
    immediate_transactions: bool = False,
    autocommit: bool = False,
    busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_MS / 1000,
    **kwargs: Any,
) -> Engine:
    """Return an engine for `url` with the archive's connection options.

    On SQLite: foreign keys on, WAL journal, a busy timeout, and, for writers
    (`immediate_transactions=True`), `BEGIN IMMEDIATE`, so a transaction that reads and then
    writes waits for the lock instead of failing with "database is locked" half-way.
    On PostgreSQL: `pool_pre_ping`, so connections dropped by a server restart are replaced.
    `autocommit=True` is for readers that run one statement at a time (the crawl's checks
    before each request): no transaction is begun and rolled back around each statement.
    """
    url = normalize_database_url(url)
    if autocommit:
        kwargs["isolation_level"] = "AUTOCOMMIT"
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": busy_timeout_seconds}, **kwargs)
        _configure_sqlite(
            engine,
            immediate_transactions=immediate_transactions,
            autocommit=autocommit,
            busy_timeout_ms=int(busy_timeout_seconds * 1000),
        )
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(
    engine: Engine, *, immediate_transactions: bool, autocommit: bool, busy_timeout_ms: int
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash or power
        # loss can lose the last transactions, never corrupt the file.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    if autocommit:
        return  # each statement is its own transaction, as the sqlite3 module runs it
    begin = "BEGIN IMMEDIATE" if immediate_transactions else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to `engine`; objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def transaction_cache(session: Session, name: str) -> dict[Any, Any]:
    """A dict named `name` that lives as long as the session's current transaction: for what a
    transaction reads once and then keeps up to date itself (the crawl stores a batch of pages
    in one; the next transaction, which may follow another crawler's writes, reads again)."""
    transaction = session.get_transaction()
    held = session.info.get(name)
    if held is None or held[0] is not transaction:
        held = session.info[name] = (transaction, {})
    cache: dict[Any, Any] = held[1]
    return cache


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session in a transaction: committed on success, rolled back on error."""
    with factory() as session, session.begin():
        yield session
