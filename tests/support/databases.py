"""Test databases: SQLite files and PostgreSQL databases cloned from a migrated template.

The PostgreSQL server comes from ARCHIVE_TEST_POSTGRESQL_URL (default: the local server of the
project's machines). Where it does not answer, PostgreSQL tests are skipped, except in CI
(`CI` set), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from storage.migrate import upgrade

DEFAULT_POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgresql_admin_url() -> str:
    """Return the URL of a PostgreSQL maintenance database, or skip (fail in CI)."""
    url = os.environ.get("ARCHIVE_TEST_POSTGRESQL_URL", DEFAULT_POSTGRESQL_URL)
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        message = f"PostgreSQL test server {url} does not answer: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _execute_autocommit(url: str, *statements: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


class PostgreSQLTemplate:
    """A migrated template database, cloned once per test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"newsarchive_template_{uuid.uuid4().hex[:8]}"
        _execute_autocommit(admin_url, f'CREATE DATABASE "{self.name}"')
        upgrade(_with_database(admin_url, self.name))

    @contextmanager
    def clone(self) -> Iterator[str]:
        name = f"newsarchive_test_{uuid.uuid4().hex[:12]}"
        _execute_autocommit(self.admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        try:
            yield _with_database(self.admin_url, name)
        finally:
            _execute_autocommit(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop(self) -> None:
        _execute_autocommit(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class SQLiteTemplate:
    """A migrated SQLite file, copied once per test."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "template.db"
        upgrade(f"sqlite:///{self.path}")

    def clone(self, folder: Path) -> str:
        target = folder / "archive.db"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"


@contextmanager
def empty_postgresql_database(admin_url: str) -> Iterator[str]:
    """Yield the URL of a new, empty PostgreSQL database, dropped afterwards."""
    name = f"newsarchive_empty_{uuid.uuid4().hex[:12]}"
    _execute_autocommit(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin_url, name)
    finally:
        _execute_autocommit(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
