"""Shared fixtures: the local news site, and archives on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.database import make_engine, make_session_factory
from tests.support.databases import (
    PostgreSQLTemplate,
    SQLiteTemplate,
    empty_postgresql_database,
    postgresql_admin_url,
)
from tests.support.site_server import serve_demo_site


@pytest.fixture(scope="session")
def news_site() -> Iterator[str]:
    """Serve the sample news site on 127.0.0.1 and yield its base URL."""
    with serve_demo_site() as server:
        yield server.site.base_url


@pytest.fixture
def news_site_server() -> Iterator[object]:
    """A fresh sample-site server for one test, with its request log."""
    with serve_demo_site() as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SQLiteTemplate:
    return SQLiteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgresql_template() -> Iterator[PostgreSQLTemplate]:
    template = PostgreSQLTemplate(postgresql_admin_url())
    yield template
    template.drop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated archive, fresh for each test, on each backend."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_template").clone(tmp_path)
        return
    template: PostgreSQLTemplate = request.getfixturevalue("postgresql_template")
    with template.clone() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an archive that does not exist yet: an SQLite file, or an empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with empty_postgresql_database(postgresql_admin_url()) as url:
        yield url


@pytest.fixture
def sessions(database_url: str):
    """A session factory on the test archive (the caller commits, as in the crawler)."""
    engine = make_engine(database_url, immediate_transactions=True)
    yield make_session_factory(engine)
    engine.dispose()
