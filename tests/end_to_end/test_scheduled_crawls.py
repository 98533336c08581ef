"""Scheduled incremental crawls through the command line: due sources, leases, revisits,
conditional requests, and a crawl killed half-way then resumed. The clock is passed in with
--now; nothing sleeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.database import make_engine, make_session_factory, session_scope
from storage.models import Fetch
from storage.scheduling import acquire_lease
from tests.support.commands import Crawl, crawl_local_site, newsarchive
from tests.support.news_farm import serve_news_farm
from tests.support.site_server import ARTICLES

pytestmark = pytest.mark.end_to_end


def sources_file(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f"""
[sources.gazette]
start_urls = ["{base_url}/"]
schedule = "every 1h"
[sources.gazette.politeness]
allow_private_addresses = true
autothrottle = false
download_delay = 0
concurrent_requests_per_domain = 8
""",
        encoding="utf-8",
    )
    return path


def at(moment: datetime) -> list[str]:
    return ["--now", moment.isoformat()]


def run_list(database_url: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads(
        newsarchive("runs", "--db", database_url, "--format", "json").stdout
    )
    return runs


def exported(database_url: str) -> list[dict[str, Any]]:
    lines = newsarchive("export", "--db", database_url).stdout.splitlines()
    return [json.loads(line) for line in lines]


def test_due_source_runs_then_waits_for_its_next_time_then_fetches_only_what_changed(
    news_site_server, tmp_path
):
    sources = sources_file(tmp_path, news_site_server.site.base_url)
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    common = ["--sources", str(sources), "--db", database_url]
    now = datetime.now(UTC)

    first = newsarchive("crawl", "--due", *common, *at(now))
    assert "gazette: crawl 1 finished" in first.stderr
    assert len(exported(database_url)) == len(ARTICLES)

    not_yet = newsarchive("crawl", "--due", *common, *at(now + timedelta(minutes=30)))
    assert "no source is due" in not_yet.stderr
    listed = json.loads(newsarchive("sources", *common, "--format", "json",
                                    *at(now + timedelta(minutes=30))).stdout)  # fmt: skip
    assert listed[0]["last_outcome"] == "finished"
    assert listed[0]["due"] is False

    requests_before = len(news_site_server.request_log)
    again = newsarchive("crawl", "--due", *common, *at(now + timedelta(minutes=61)))
    assert "gazette: crawl 2 finished" in again.stderr
    second_requests = news_site_server.request_log[requests_before:]
    assert not [path for path in second_requests if path.startswith("/news/")]  # all fresh
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        not_modified = session.scalar(select(func.count()).where(Fetch.status == 304))
    engine.dispose()
    assert not_modified  # the unchanged home page cost a 304
    runs = run_list(database_url)
    assert [(r["source"], r["status"]) for r in runs] == [("gazette", "finished")] * 2
    assert (runs[0]["articles_new"], runs[0]["articles_updated"]) == (0, 0)


def test_an_overlapping_start_is_refused(news_site_server, tmp_path):
    sources = sources_file(tmp_path, news_site_server.site.base_url)
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    from storage.migrate import upgrade

    upgrade(database_url)
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        assert acquire_lease(session, "gazette", owner="other-machine:4242",
                             now=datetime.now(UTC), ttl=timedelta(minutes=10)) is None  # fmt: skip
    engine.dispose()
    refused = newsarchive("crawl", "--due", "--sources", str(sources), "--db", database_url,
                          check=False)  # fmt: skip
    assert refused.returncode == 3
    assert "source gazette: another run holds it (other-machine:4242" in refused.stderr
    assert not [path for path in news_site_server.request_log if path.startswith("/news/")]


def test_a_run_killed_midway_is_resumed_with_nothing_lost_or_duplicated(news_site_server, tmp_path):
    sources = sources_file(tmp_path, news_site_server.site.base_url)
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    command = [sys.executable, "-m", "crawler", "crawl", "--due", "--no-progress",
               "--sources", str(sources), "--db", database_url]  # fmt: skip
    news_site_server.hold_articles_after = 4  # article pages after the 4th hang: in flight
    crawl = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert news_site_server.wait_for_article_requests(6), "the crawl never got going"
    finally:
        os.kill(crawl.pid, signal.SIGKILL)
        crawl.communicate(timeout=60)
    news_site_server.hold_articles_after = None
    news_site_server.release.set()

    stored_before = len(exported(database_url))
    assert stored_before < len(ARTICLES)
    resumed = newsarchive("crawl", "--source", "gazette", "--sources", str(sources),
                          "--db", database_url)  # fmt: skip
    assert "gazette: crawl 2 finished" in resumed.stderr

    records = exported(database_url)
    assert sorted(r["title"] for r in records) == sorted(a.title for a in ARTICLES)
    runs = run_list(database_url)
    assert [r["status"] for r in runs] == ["finished", "interrupted"]
    assert runs[0]["articles_new"] == len(ARTICLES) - stored_before


def test_a_sources_politeness_and_extraction_hints_apply_to_its_crawl(news_site_server, tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(
        f"""
[sources.limited]
start_urls = ["{news_site_server.site.base_url}/"]
[sources.limited.politeness]
allow_private_addresses = true
autothrottle = false
download_delay = 0
page_limit = 3
[sources.hinted]
start_urls = ["{news_site_server.site.base_url}/section/local/"]
[sources.hinted.politeness]
allow_private_addresses = true
autothrottle = false
download_delay = 0
concurrent_requests_per_domain = 8
[sources.hinted.extraction]
banner_selectors = ["div.ticker-bar"]
date_order = "mdy"
""",
        encoding="utf-8",
    )
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    newsarchive("crawl", "--source", "limited", "--sources", str(path), "--db", database_url)
    (limited,) = run_list(database_url)
    assert limited["finish_reason"] == "closespider_pagecount"
    assert limited["status"] == "finished"
    assert limited["pages_fetched"] <= 3 + 8  # the limit, plus what was already in flight

    newsarchive("crawl", "--source", "hinted", "--sources", str(path), "--db", database_url,
                "-s", "ARCHIVE_REVISIT=0")  # fmt: skip
    banners = json.loads(newsarchive("banners", "--db", database_url, "--format", "json").stdout)
    ticker = next(b for b in banners if b["text"].startswith("Breaking: ferry timetable"))
    assert ticker["kind"] == "ticker"
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        from storage.models import Site

        assert session.scalars(select(Site.date_order)).one() == "mdy"
    engine.dispose()


def test_schedule_runs_what_is_due_in_the_foreground(news_site_server, tmp_path):
    sources = sources_file(tmp_path, news_site_server.site.base_url)
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    newsarchive("schedule", "--sources", str(sources), "--db", database_url, "--max-cycles", "1")
    assert [r["status"] for r in run_list(database_url)] == ["finished"]


def test_a_malformed_sources_file_stops_with_one_line(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text('[sources.a]\nstart_urls = ["https://x.example/"]\nschedule = "hourly"\n')
    for command in (["sources"], ["crawl", "--due"], ["schedule", "--max-cycles", "1"]):
        result = newsarchive(*command, "--sources", str(path), "--db",
                             f"sqlite:///{tmp_path / 'a.db'}", check=False)  # fmt: skip
        assert result.returncode == 1, command
        assert "line 3: source 'a': not a schedule: 'hourly'" in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_page_that_failed_is_asked_for_again_by_the_next_run(tmp_path):
    from tests.support.commands import crawl_local_site
    from tests.support.hostile_server import Route, serve_hostile_site

    flaky = f"/news/{ARTICLES[3].slug}.html"
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_hostile_site({flaky: Route(status=502, times=1)}) as server:
        crawl_local_site(server.base_url, database_url, "-s", "RETRY_TIMES=0")
        assert len(exported(database_url)) == len(ARTICLES) - 1
        before = len(server.log)
        later = (datetime.now(UTC) + timedelta(minutes=40)).isoformat()  # past its backoff
        crawl_local_site(server.base_url, database_url, "-s", "RETRY_TIMES=0",
                         "-s", f"ARCHIVE_NOW={later}")  # fmt: skip
        articles_asked = {path for _, path in server.log[before:] if path.startswith("/news/")}
    # The others are archived and fresh; the failed one is asked for again directly.
    assert flaky in articles_asked
    assert not articles_asked & {f"/news/{a.slug}.html" for a in ARTICLES if a is not ARTICLES[3]}
    assert len(exported(database_url)) == len(ARTICLES)


def test_a_crawl_stopped_with_sigterm_ends_cleanly_and_the_next_run_carries_on(tmp_path):
    """F03: the crawl stops fetching, archives what it fetched, says so in one line and exits
    0 (it used to exit 1, as if it had failed); the next run archives the rest, nothing twice."""
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_news_farm(60) as site:
        site.hold_articles_after = 20  # the crawl is mid-way, pages in flight
        first = Crawl(site.farm.base_url, database_url, "-s", "LOG_LEVEL=INFO")
        try:
            assert site.wait_for_article_requests(24), "the crawl never got going"
            first.process.send_signal(signal.SIGTERM)
            assert first.wait_for_line("Received SIGTERM, shutting down gracefully")
        finally:
            site.hold_articles_after = None
            site.release.set()
            code, log = first.finish()
        assert code == 0, log[-3000:]
        assert log.rstrip().splitlines()[-1] == (
            "crawl 1 stopped on request: what it fetched is archived, the next run carries on"
        )
        runs = json.loads(newsarchive("runs", "--db", database_url, "--format", "json").stdout)
        assert [(run["status"], run["finish_reason"]) for run in runs] == [
            ("interrupted", "shutdown")
        ]
        archived_first = len(newsarchive("export", "--db", database_url).stdout.splitlines())
        assert 0 < archived_first < 60

        crawl_local_site(site.farm.base_url, database_url)
    urls = [json.loads(line)["url"] for line in
            newsarchive("export", "--db", database_url).stdout.splitlines()]  # fmt: skip
    assert len(urls) == len(set(urls)) == 60
