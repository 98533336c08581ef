"""The slow suite (`python -m pytest -m slow`; CI leaves it out): crawls killed again and again
at random moments, on a larger generated site, then resumed; nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import uuid

import pytest

from crawler import distributed
from tests.support.commands import LOCAL_SITE_OPTIONS, TIMEOUT_SECONDS, newsarchive
from tests.support.news_farm import serve_news_farm

pytestmark = [pytest.mark.slow, pytest.mark.end_to_end, pytest.mark.timeout(1800)]

REDIS_URL = os.environ.get("ARCHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def archived_urls(database_url: str) -> list[str]:
    lines = newsarchive("export", "--db", database_url).stdout.splitlines()
    return [json.loads(line)["url"] for line in lines]


def kill_after_articles(command: list[str], site, articles: int) -> None:
    """Start `command`, SIGKILL it once the site has served `articles` more article pages."""
    target = site.article_requests + articles
    crawl = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        site.wait_for_article_requests(target, timeout_seconds=TIMEOUT_SECONDS)
    finally:
        os.kill(crawl.pid, signal.SIGKILL)
        crawl.wait(timeout=60)


def test_a_crawl_killed_five_times_at_random_then_resumed_archives_everything_once(tmp_path):
    rng = random.Random(2026)
    path = tmp_path / "archive.db"
    database_url = f"sqlite:///{path}"
    with serve_news_farm(400) as site:
        command = [sys.executable, "-m", "crawler", "crawl", f"{site.farm.base_url}/",
                   "--db", database_url, "--no-progress", *LOCAL_SITE_OPTIONS]  # fmt: skip
        for _ in range(5):
            kill_after_articles(command, site, rng.randint(20, 120))
            integrity = sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()
            assert integrity == ("ok",)
        assert len(archived_urls(database_url)) < 400  # every run was killed before the end
        newsarchive(*command[3:])
    urls = archived_urls(database_url)
    assert len(urls) == len(set(urls)) == 400


@pytest.mark.postgresql
def test_shared_workers_killed_and_restarted_at_random_archive_everything_once(
    postgresql_template,
):
    from redis import Redis

    rng = random.Random(7)
    name = f"slow-{uuid.uuid4().hex[:12]}"
    redis = Redis.from_url(REDIS_URL)
    try:
        with postgresql_template.clone() as database_url, serve_news_farm(1500) as site:

            def worker(number: int) -> subprocess.Popen[bytes]:
                command = [sys.executable, "-m", "crawler", "crawl", f"{site.farm.base_url}/",
                           "--db", database_url, "--no-progress", "--redis", REDIS_URL,
                           "--shared-crawl", name, *LOCAL_SITE_OPTIONS,
                           "-s", f"ARCHIVE_WORKER_NAME=w{number}-{uuid.uuid4().hex[:6]}",
                           "-s", "ARCHIVE_REDIS_LEASE_SECONDS=3"]  # fmt: skip
                return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

            workers = [worker(n) for n in range(3)]
            for _ in range(4):  # kill one at random, start a new one in its place
                site.wait_for_article_requests(site.article_requests + rng.randint(50, 200))
                victim = rng.randrange(3)
                os.kill(workers[victim].pid, signal.SIGKILL)
                workers[victim].communicate(timeout=60)
                workers[victim] = worker(victim)
            for process in workers:
                _, stderr = process.communicate(timeout=TIMEOUT_SECONDS * 2)
                assert b"Traceback" not in stderr
            urls = archived_urls(database_url)
            assert len(urls) == len(set(urls)) == 1500
    finally:
        distributed.reset_shared_crawl(redis, name)
        redis.close()
