"""Several workers share one crawl through scrapy-redis and one PostgreSQL archive (the real
Redis and PostgreSQL servers): every article archived exactly once, a killed worker loses
nothing, a stopping worker leaves the others' frontier alone, and Redis holds no pickles."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from redis import Redis
from redis.exceptions import RedisError
from scrapy import Request
from scrapy.settings import SETTINGS_PRIORITIES, Settings
from scrapy.utils.test import get_crawler
from scrapy_redis.dupefilter import RFPDupeFilter

from crawler import distributed
from crawler.spiders.news import NewsSpider
from tests.support.commands import LOCAL_SITE_OPTIONS, TIMEOUT_SECONDS, newsarchive
from tests.support.news_farm import serve_news_farm
from tests.support.redis_proxy import striking_redis_proxy

pytestmark = [pytest.mark.end_to_end, pytest.mark.postgresql]

REDIS_URL = os.environ.get("ARCHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ARTICLES = 90


@pytest.fixture
def redis() -> Iterator[Redis]:
    server = Redis.from_url(REDIS_URL)
    try:
        server.ping()
    except RedisError as exc:
        message = f"Redis test server {REDIS_URL} does not answer: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.close()


@pytest.fixture
def shared_name(redis: Redis) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    distributed.reset_shared_crawl(redis, name)


@pytest.fixture
def archive(postgresql_template) -> Iterator[str]:
    with postgresql_template.clone() as url:
        yield url


def worker_command(
    base_url: str, database_url: str, name: str, worker: str, *extra: str,
    redis_url: str = REDIS_URL,
) -> list[str]:  # fmt: skip
    return [sys.executable, "-m", "crawler", "crawl", f"{base_url}/", "--db", database_url,
            "--no-progress", "--redis", redis_url, "--shared-crawl", name, *LOCAL_SITE_OPTIONS,
            "-s", f"ARCHIVE_WORKER_NAME={worker}", "-s", "ARCHIVE_REDIS_LEASE_SECONDS=2",
            *extra]  # fmt: skip


def start_worker(*args: str, redis_url: str = REDIS_URL) -> subprocess.Popen[str]:
    return subprocess.Popen(
        worker_command(*args, redis_url=redis_url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def archived_urls(database_url: str) -> list[str]:
    lines = newsarchive("export", "--db", database_url).stdout.splitlines()
    return [json.loads(line)["url"] for line in lines]


def finish(worker: subprocess.Popen[str]) -> str:
    _, stderr = worker.communicate(timeout=TIMEOUT_SECONDS)
    assert worker.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    return stderr


def test_three_workers_archive_every_article_once_even_when_one_is_killed(
    archive, redis, shared_name
):
    with serve_news_farm(ARTICLES) as site:
        site.hold_articles_after = 30  # later article requests wait: in flight in every worker
        workers = [
            start_worker(site.farm.base_url, archive, shared_name, f"w{n}") for n in range(3)
        ]
        try:
            assert site.wait_for_article_requests(36), "the workers never got going"
            queue_key = distributed.shared_keys(shared_name)["SCHEDULER_QUEUE_KEY"]
            in_flight = [redis.hlen(f"{queue_key}:leases:w{n}") for n in range(3)]
            victim = in_flight.index(max(in_flight))
            assert in_flight[victim] > 0  # the worker about to die holds requests
            os.kill(workers[victim].pid, signal.SIGKILL)
            workers[victim].communicate(timeout=60)
        finally:
            site.hold_articles_after = None
            site.release.set()
        for worker in workers:
            if worker is not workers[victim]:
                finish(worker)
        requested = {path for path in site.requests if "/story-" in path}
        assert requested == set(site.farm.article_paths())

    urls = archived_urls(archive)
    assert len(urls) == ARTICLES  # every article...
    assert len(set(urls)) == ARTICLES  # ...exactly once
    # The crawl ran dry: its last worker cleared the shared frontier for the next crawl.
    status = distributed.shared_crawl_status(redis, shared_name)
    assert (status.queued, status.seen, status.workers) == (0, 0, [])


def test_a_worker_killed_right_after_marking_a_link_seen_loses_nothing(archive, redis, shared_name):
    """The worst moment to die: Redis has just marked an article's link as seen, the worker has
    not heard back. The link must be queued by then: every later find of it is a duplicate, so
    nobody would ever fetch it."""
    fingerprint = RFPDupeFilter(redis, "unused").request_fingerprint
    with serve_news_farm(ARTICLES) as site:
        articles = [
            fingerprint(Request(site.farm.base_url + path)).encode()
            for path in site.farm.article_paths()
        ]
        marked = 0

        def tenth_article_marked(command: bytes, answer: bytes) -> bool:
            nonlocal marked
            if answer.startswith(b":1") and any(article in command for article in articles):
                marked += 1
            return marked == 10

        with striking_redis_proxy(REDIS_URL, tenth_article_marked) as proxy:
            first = start_worker(site.farm.base_url, archive, shared_name, "first",
                                 redis_url=proxy.url)  # fmt: skip
            proxy.victim = first.pid
            assert proxy.struck.wait(TIMEOUT_SECONDS), "the worker never marked ten articles"
            first.communicate(timeout=60)
        assert first.returncode == -signal.SIGKILL
        # Another worker takes the crawl over, with the dead one's leases once they expire.
        finish(start_worker(site.farm.base_url, archive, shared_name, "second"))

    urls = archived_urls(archive)
    assert len(urls) == len(set(urls)) == ARTICLES


POP_AND_LEASE_SHA = hashlib.sha1(distributed.POP_AND_LEASE.encode()).hexdigest().encode()  # noqa: S324


def took_a_request(command: bytes, answer: bytes) -> bool:
    """Tell whether Redis has just leased a request to the worker (a take answered with one)."""
    return POP_AND_LEASE_SHA in command and answer.startswith(b"$") and answer != b"$-1\r\n"


@pytest.mark.parametrize(
    ("retries", "nth", "extra"),
    [
        ("10", 10, []),
        # The first take, without sitemaps: the home page, the only request queued. With the
        # frontier empty and nothing in flight, the crawl looks finished until asked again.
        ("0", 1, ["-a", "follow_sitemaps=false"]),
    ],
    ids=["client-retries", "scheduler-asks-again"],
)
def test_a_lost_answer_to_taking_a_request_loses_no_request(
    archive, redis, shared_name, retries, nth, extra
):
    """Redis has leased a request to the worker, and the answer that names it is lost with the
    connection (Redis shutting down, a network cut): the worker asks again (the Redis client
    at once, or, with no retries left, the scheduler once Redis answers) and must be given that
    same request, not the next one while the first stays leased to a worker that never saw it,
    and must not take the empty frontier for the end of the crawl meanwhile. A redis-server
    stopped mid-crawl lost an article this way (CI, `test_redis_outage`)."""
    taken = 0

    def nth_request_taken(command: bytes, answer: bytes) -> bool:
        nonlocal taken
        taken += took_a_request(command, answer)
        return bool(taken == nth)

    with serve_news_farm(ARTICLES) as site:
        with striking_redis_proxy(REDIS_URL, nth_request_taken, cut=True) as proxy:
            worker = start_worker(site.farm.base_url, archive, shared_name, "only",
                                  "-s", f"ARCHIVE_REDIS_RETRIES={retries}", *extra,
                                  redis_url=proxy.url)  # fmt: skip
            log = finish(worker)
            assert proxy.struck.is_set()
        if retries == "0":
            assert "Redis does not answer" in log
            assert "Redis answers again" in log
        requested = {path for path in site.requests if "/story-" in path}
        assert requested == set(site.farm.article_paths())

    urls = archived_urls(archive)
    assert len(urls) == len(set(urls)) == ARTICLES


def test_a_take_whose_answer_was_lost_keeps_the_crawl_from_looking_finished(redis, shared_name):
    """Between a take whose answer was lost and the take asked again, the frontier may look
    empty (its last request is leased to this worker): the worker must not go idle, clear its
    leases and finish, as if the request it never saw were done."""
    with striking_redis_proxy(REDIS_URL, took_a_request, cut=True) as proxy:
        given = {"ARCHIVE_REDIS_URL": proxy.url, "ARCHIVE_SHARED_CRAWL": shared_name,
                 "ARCHIVE_REDIS_RETRIES": 0}  # fmt: skip
        settings = Settings(given)
        distributed.configure(settings)
        shared = {
            name: settings[name]
            for name, value in settings.attributes.items()
            if value.priority >= SETTINGS_PRIORITIES["spider"]
        }  # what configure set
        crawler = get_crawler(NewsSpider, settings_dict={**given, **shared})
        crawler.spider = crawler._create_spider(start_urls="http://news.example/")
        scheduler = distributed.SharedScheduler.from_crawler(crawler)
        scheduler.open(crawler.spider)
        try:
            assert scheduler.enqueue_request(Request("http://news.example/last.html"))
            assert scheduler.next_request() is None  # the answer was lost: Redis "away"
            assert proxy.struck.is_set()
            assert scheduler.has_pending_requests()  # though the frontier is empty
            taken = scheduler.next_request()  # asked again: the same request
            assert taken is not None
            assert taken.url == "http://news.example/last.html"
            assert not scheduler.has_pending_requests()
        finally:
            scheduler.close("finished")


def test_a_stopping_worker_leaves_the_shared_frontier_to_the_others(archive, redis, shared_name):
    with serve_news_farm(ARTICLES) as site:
        # A worker told to stop after 15 pages ends early, with requests still queued...
        first = start_worker(site.farm.base_url, archive, shared_name, "early",
                             "-s", "CLOSESPIDER_PAGECOUNT=15")  # fmt: skip
        first.communicate(timeout=TIMEOUT_SECONDS)
        status = distributed.shared_crawl_status(redis, shared_name)
        assert status.queued > 0  # ...which it neither flushed nor took with it
        assert status.seen > status.queued
        archived_early = {urlsplit(url).path for url in archived_urls(archive)}
        assert 0 < len(archived_early) < ARTICLES
        # What `newsarchive shared status` tells the operator: the same figures.
        shown = newsarchive("shared", "status", "--redis", REDIS_URL, shared_name).stdout
        assert f"queued    {status.queued}\n" in shown
        assert f"seen      {status.seen}\n" in shown
        # A worker started later carries the same crawl on to the end, without a second
        # fetch of what the first one archived.
        finish(start_worker(site.farm.base_url, archive, shared_name, "late"))
        assert all(site.requests[path] == 1 for path in archived_early)

    assert sorted(archived_urls(archive)) == sorted(set(archived_urls(archive)))
    assert len(archived_urls(archive)) == ARTICLES


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("SCHEDULER_PERSIST=False", "SCHEDULER_PERSIST=False would let the first worker"),
        ("SCHEDULER_FLUSH_ON_START=True", "SCHEDULER_FLUSH_ON_START=True would let each worker"),
        ("SCHEDULER_SERIALIZER=scrapy_redis.picklecompat", "stores requests as JSON only"),
    ],
)
def test_settings_that_would_lose_shared_state_are_refused(
    archive, redis, shared_name, setting, message
):
    refused = newsarchive(*worker_command("http://127.0.0.1:9", archive, shared_name, "w",
                                          "-s", setting)[3:], check=False)  # fmt: skip
    assert refused.returncode == 1
    assert message in refused.stderr
    assert "Traceback" not in refused.stderr


def test_an_unreachable_redis_stops_the_worker_with_one_line(archive, tmp_path: Path):
    refused = newsarchive("crawl", "http://127.0.0.1:9/", "--db", archive,
                          "--redis", "redis://user:secret@127.0.0.1:9/0", check=False)  # fmt: skip
    assert refused.returncode == 1
    assert "redis: cannot reach redis://user:***@127.0.0.1:9/0" in refused.stderr
    assert "secret" not in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_poisoned_frontier_entry_is_rejected_not_run(archive, redis, shared_name, tmp_path):
    """S12: whoever can write to Redis cannot make a worker run code or fetch what it would
    not: a pickle, a foreign request class, a foreign callback, a file:// URL are dropped."""
    canary = tmp_path / "canary"
    queue_key = distributed.shared_keys(shared_name)["SCHEDULER_QUEUE_KEY"]
    pickled = (
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93"
        + f"touch {canary}".encode()
    )
    poisoned = [
        pickled,
        json.dumps({"url": "http://127.0.0.1:9/", "_class": "os.system"}),
        json.dumps({"url": "http://127.0.0.1:9/", "callback": "__init__"}),
        json.dumps({"url": f"file://{canary}"}),
    ]
    with serve_news_farm(5) as site:
        redis.zadd(queue_key, dict.fromkeys(poisoned, -100))
        stderr = finish(start_worker(site.farm.base_url, archive, shared_name, "w"))
    assert stderr.count("rejected a frontier entry") == len(poisoned)
    assert not canary.exists()
    assert len(archived_urls(archive)) == 5


def test_shared_reset_forgets_the_frontier_not_the_archive(archive, redis, shared_name):
    with serve_news_farm(ARTICLES) as site:
        stopped = start_worker(site.farm.base_url, archive, shared_name, "early",
                               "-s", "CLOSESPIDER_PAGECOUNT=15")  # fmt: skip
        stopped.communicate(timeout=TIMEOUT_SECONDS)
    archived = archived_urls(archive)
    assert distributed.shared_crawl_status(redis, shared_name).queued > 0
    newsarchive("shared", "reset", "--redis", REDIS_URL, shared_name, "--yes")
    status = distributed.shared_crawl_status(redis, shared_name)
    assert (status.queued, status.seen, status.workers) == (0, 0, [])
    assert archived_urls(archive) == archived  # the archive is untouched
