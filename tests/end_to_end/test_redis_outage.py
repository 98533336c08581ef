"""A shared crawl's Redis goes away mid-crawl (catalog F12, F13), on a Redis server of the
test's own (a real redis-server on a free loopback port): a restart costs a wait, not the
crawl; a Redis that does not come back stops the worker in bounded time with one line, and the
next worker finishes the crawl without losing or repeating an article; a Redis that comes back
empty (no persistence) costs a second look at the listings, not the frontier it lost."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from redis import Redis

from crawler import distributed
from tests.support.commands import Crawl, newsarchive
from tests.support.news_farm import serve_news_farm
from tests.support.redis_proxy import striking_redis_proxy

pytestmark = pytest.mark.end_to_end

ARTICLES = 60


class RedisServer:
    """A redis-server process of this test, stopped and started again on the same port and
    the same append-only file (a restart keeps the frontier, as a production Redis does), or
    with no persistence at all (a restart empties it)."""

    def __init__(self, folder: Path, *, persistent: bool = True) -> None:
        self.persistent = persistent
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        process = self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--appendonly", "yes" if self.persistent else "no",
             "--save", ""],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:  # its log, until it accepts connections
            if "Ready to accept connections" in line:
                break
        else:
            raise AssertionError("redis-server did not start")
        self.drain = threading.Thread(target=process.stdout.read, daemon=True)
        self.drain.start()  # the rest of its log
        client = Redis.from_url(self.url)
        assert client.ping()
        client.close()

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()  # SIGTERM: the append-only file is flushed
        self.process.wait(timeout=60)
        self.drain.join(timeout=60)
        assert self.process.stdout is not None
        self.process.stdout.close()


def running_redis(folder: Path, *, persistent: bool) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(folder, persistent=persistent)
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from running_redis(tmp_path, persistent=True)


@pytest.fixture
def forgetful_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from running_redis(tmp_path, persistent=False)


def start_worker(base_url: str, database_url: str, redis_url: str, *extra: str) -> Crawl:
    return Crawl(base_url, database_url, "--redis", redis_url, "--shared-crawl", "outage",
                 "-s", "ARCHIVE_REDIS_LEASE_SECONDS=2", "-s", "ARCHIVE_REDIS_RETRIES=1",
                 *extra)  # fmt: skip


def archived_urls(database_url: str) -> list[str]:
    lines = newsarchive("export", "--db", database_url).stdout.splitlines()
    return [json.loads(line)["url"] for line in lines]


def test_a_redis_restart_mid_crawl_costs_a_wait_not_the_crawl(redis_server, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_news_farm(ARTICLES) as site:
        site.hold_articles_after = 20  # the worker is mid-crawl, requests in flight
        worker = start_worker(site.farm.base_url, database_url, redis_server.url)
        try:
            assert site.wait_for_article_requests(24), "the worker never got going"
            redis_server.stop()
            # Past the client's retries: the worker notices, and waits.
            assert worker.wait_for_line("Redis does not answer")
            redis_server.start()
        finally:
            site.hold_articles_after = None
            site.release.set()
            code, log = worker.finish()
    assert code == 0, log[-3000:]
    assert "Redis answers again" in log
    assert "Traceback" not in log
    urls = archived_urls(database_url)
    assert sorted(urls) == sorted(set(urls))  # each article once...
    assert len(urls) == ARTICLES  # ...and every one


def test_a_redis_that_stays_away_stops_the_worker_and_the_next_one_finishes(redis_server, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_news_farm(ARTICLES) as site:
        site.hold_articles_after = 20
        first = start_worker(site.farm.base_url, database_url, redis_server.url,
                             "-s", "ARCHIVE_REDIS_OUTAGE_SECONDS=3")  # fmt: skip
        try:
            assert site.wait_for_article_requests(24), "the worker never got going"
            redis_server.stop()
            assert first.wait_for_line("Redis has not answered for 3 s: this worker stops")
        finally:
            site.hold_articles_after = None
            site.release.set()
            code, log = first.finish()
        assert code == 1
        assert log.rstrip().splitlines()[-1].endswith("ended early: redis_unreachable")
        assert "Traceback" not in log

        redis_server.start()  # back, with the frontier and the first worker's leases
        second = start_worker(site.farm.base_url, database_url, redis_server.url)
        code, log = second.finish()
        assert code == 0, log[-3000:]
    urls = archived_urls(database_url)
    assert sorted(urls) == sorted(set(urls))
    assert len(urls) == ARTICLES


@pytest.mark.parametrize("lost_answer", [False, True], ids=["", "answer-to-the-new-mark-lost"])
def test_a_redis_that_comes_back_empty_costs_the_listings_again_not_the_frontier(
    forgetful_redis_server, tmp_path, lost_answer
):
    """With `lost_answer`, the worker talks to Redis through a proxy that cuts the connection
    as Redis answers the worker's new mark of the crawl as started (the mark that tells it the
    frontier is gone): asked again, the mark must still say so."""
    redis_server = forgetful_redis_server
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    started = distributed.started_key(distributed.shared_keys("outage")["SCHEDULER_QUEUE_KEY"])
    marks = 0

    def second_mark(command: bytes, answer: bytes) -> bool:
        nonlocal marks
        if started.encode() in command and answer == b":1\r\n":
            marks += 1  # the first at the worker's start, the second once Redis is back empty
        return lost_answer and marks == 2

    with (
        serve_news_farm(ARTICLES) as site,
        striking_redis_proxy(redis_server.url, second_mark, cut=True) as proxy,
    ):
        site.hold_articles_after = 20
        worker = start_worker(site.farm.base_url, database_url, proxy.url)
        try:
            assert site.wait_for_article_requests(24), "the worker never got going"
            archived_before = archived_urls(database_url)
            for _ in range(120):  # each look is an export run: until the 20 served are in
                if len(archived_before) >= 20:
                    break
                archived_before = archived_urls(database_url)
            redis_server.stop()
            assert worker.wait_for_line("Redis does not answer")
            redis_server.start()  # empty: the frontier, the seen-set and the leases are gone
        finally:
            site.hold_articles_after = None
            site.release.set()
            code, log = worker.finish()
        requests = dict(site.requests)
    assert code == 0, log[-3000:]
    assert proxy.struck.is_set() == lost_answer
    assert "the shared frontier is gone" in log
    assert "Traceback" not in log
    urls = archived_urls(database_url)
    assert sorted(urls) == sorted(set(urls))  # each article once...
    assert len(urls) == ARTICLES  # ...and every one, the lost frontier's included
    assert len(archived_before) == 20  # archived before Redis went...
    for url in archived_before:  # ...and not fetched again
        assert requests[urlsplit(url).path] == 1, url
