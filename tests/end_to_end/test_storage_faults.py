"""An SQLite archive held by another process: the crawl waits, then stops with one clear line,
leaves nothing half-written, and a later crawl archives everything."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.migrate import upgrade
from tests.support.commands import (
    LOCAL_SITE_OPTIONS,
    TIMEOUT_SECONDS,
    Crawl,
    crawl_local_site,
    newsarchive,
)
from tests.support.news_farm import serve_news_farm
from tests.support.site_server import ARTICLES

pytestmark = pytest.mark.end_to_end

HOLD_LOCK = (
    "import sqlite3, sys\n"
    "connection = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "connection.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


@contextmanager
def another_writer(path: Path) -> Iterator[None]:
    """Hold the write lock of an SQLite file from another process until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_locked_archive_stops_the_crawl_clearly_and_loses_nothing(news_site_server, tmp_path):
    path = tmp_path / "archive.db"
    database_url = f"sqlite:///{path}"
    upgrade(database_url)
    with another_writer(path):
        locked = newsarchive("crawl", f"{news_site_server.site.base_url}/", "--db", database_url,
                             "-s", "ARCHIVE_SQLITE_BUSY_TIMEOUT=0.5",
                             "-s", "ARCHIVE_ALLOW_PRIVATE_ADDRESSES=1", check=False)  # fmt: skip
    assert locked.returncode == 1
    assert "storage: the archive" in locked.stderr
    assert "database is locked" in locked.stderr
    assert "Traceback" not in locked.stderr
    assert newsarchive("export", "--db", database_url).stdout == ""  # nothing half-written

    crawl_local_site(news_site_server.site.base_url, database_url)
    exported = newsarchive("export", "--db", database_url).stdout.splitlines()
    assert len(exported) == len(ARTICLES)


@pytest.mark.postgresql
def test_postgresql_connections_dropped_mid_crawl_lose_nothing(
    news_site_server, postgresql_template
):
    """F10: an administrator (or a server restart) ends every connection of a running crawl;
    the crawl reconnects and archives every article exactly once."""
    with postgresql_template.clone() as database_url:
        command = [sys.executable, "-m", "crawler", "crawl", f"{news_site_server.site.base_url}/",
                   "--db", database_url, "--no-progress", *LOCAL_SITE_OPTIONS]  # fmt: skip
        news_site_server.hold_articles_after = 3
        crawl = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert news_site_server.wait_for_article_requests(5), "the crawl never got going"
            ended = end_connections(database_url)
            assert ended >= 1  # the crawl's own connections
        finally:
            news_site_server.hold_articles_after = None
            news_site_server.release.set()
            _, stderr = crawl.communicate(timeout=TIMEOUT_SECONDS)
        assert crawl.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr
        records = [
            json.loads(line)
            for line in newsarchive("export", "--db", database_url).stdout.splitlines()
        ]
        assert sorted(record["url"] for record in records) == sorted(
            {record["url"] for record in records}
        )
        assert len(records) == len(ARTICLES)


def end_connections(database_url: str) -> int:
    """End every session of the crawler's database, as `pg_ctl restart` would; return how many."""
    database = make_url(database_url).database
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :database AND pid <> pg_backend_pid()"
                    ),
                    {"database": database},
                ).all()
            )
    finally:
        engine.dispose()


# Runs in its own mount namespace (unshare), on a 4 MB tmpfs: a real full disk, for this script
# only, whether the tests run as root or not.
DISK_FULL_SCRIPT = r"""
set -u
DIR=$1; URL=$2; shift 2
mount -t tmpfs -o size=4m tmpfs "$DIR"
DB="sqlite:///$DIR/archive.db"
python -c "from storage.migrate import upgrade; upgrade('$DB')"
fill() { dd if=/dev/zero of="$DIR/filler" bs=4K 2>/dev/null; truncate -s -"$1" "$DIR/filler"; }
fill 96K
python -m crawler crawl "$URL" --db "$DB" --no-progress "$@" 2>"$DIR/../first.err"
echo "first-exit $?"
python -c "import sqlite3; print('integrity', \
  sqlite3.connect('$DIR/archive.db').execute('PRAGMA integrity_check').fetchone()[0])"
rm "$DIR/filler"
python -m crawler crawl "$URL" --db "$DB" --no-progress "$@" >/dev/null 2>&1
echo "second-exit $?"
python -m crawler export --db "$DB" | wc -l | sed 's/^/archived /'
OUT="$DIR/../small"; mkdir -p "$OUT"; mount -t tmpfs -o size=16k tmpfs "$OUT"
python -m crawler export --db "$DB" -o "$OUT/articles.jsonl" 2>"$DIR/../export.err"
echo "export-exit $?"
ls -a "$OUT" | grep -c articles | sed 's/^/export-files /'
"""


def test_a_full_disk_stops_the_crawl_clearly_and_the_next_run_resumes(news_site_server, tmp_path):
    """F08: the archive's disk fills up mid-crawl: one line and exit status 5, the archive
    stays consistent, and once space is freed the next crawl archives everything. An export
    to a disk that fills up fails with one line and leaves no partial file behind."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "disk-full.sh"
    script.write_text(DISK_FULL_SCRIPT)
    result = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "bash", str(script), str(disk),
         f"{news_site_server.site.base_url}/", *LOCAL_SITE_OPTIONS],
        capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    first_error = (tmp_path / "first.err").read_text()
    assert report["first-exit"] == "5"
    assert "disk full: the archive" in first_error
    assert "database or disk is full" in first_error
    assert "Traceback" not in first_error
    assert "PageItem(" not in first_error  # one line, not the dropped item
    assert report["integrity"] == "ok"
    assert report["second-exit"] == "0"
    assert report["archived"] == str(len(ARTICLES))
    assert report["export-exit"] == "1"
    assert "No space left on device" in (tmp_path / "export.err").read_text()
    assert report["export-files"] == "0"


def test_crawls_started_at_once_on_a_empty_database_url_all_archive_their_sites(empty_database_url):
    """F07: four crawls of four sites into one archive that none has created yet. They created
    it at the same time: on SQLite one of them stopped with "database is locked" and its site
    was not archived."""
    with contextlib.ExitStack() as stack:
        sites = [stack.enter_context(serve_news_farm(15, seed=seed)) for seed in range(4)]
        crawls = [Crawl(site.farm.base_url, empty_database_url,
                        "-s", "ARCHIVE_EXTRACTION_PROCESSES=1") for site in sites]  # fmt: skip
        results = [crawl.finish() for crawl in crawls]
    assert [code for code, _ in results] == [0, 0, 0, 0], [log[-500:] for _, log in results]
    urls = [json.loads(line)["url"] for line in
            newsarchive("export", "--db", empty_database_url).stdout.splitlines()]  # fmt: skip
    assert len(urls) == len(set(urls)) == 60
    assert {urlsplit(url).netloc for url in urls} == {
        urlsplit(site.farm.base_url).netloc for site in sites
    }
