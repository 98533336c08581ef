"""Crawl the local news site through the command line, then check the archive through export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.database import make_engine, make_session_factory, session_scope
from storage.models import ArticleBanner, Banner, CrawlRun, Fetch
from tests.support.commands import LOCAL_SITE_OPTIONS, Crawl, crawl_local_site, newsarchive
from tests.support.news_farm import serve_news_farm
from tests.support.site_server import ARTICLES, NOTICE_TEXT, NOTICE_TITLE, READERS_NOTICE

pytestmark = pytest.mark.end_to_end


def export_jsonl(database_url: str, *filters: str) -> list[dict[str, Any]]:
    output = newsarchive("export", "--db", database_url, "--format", "jsonl", *filters).stdout
    return [json.loads(line) for line in output.splitlines()]


def archive_counts(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return {
                "banners": session.scalar(select(func.count()).select_from(Banner)) or 0,
                "links": session.scalar(select(func.count()).select_from(ArticleBanner)) or 0,
                "fetches": session.scalar(select(func.count()).select_from(Fetch)) or 0,
            }
    finally:
        engine.dispose()


def last_run(database_url: str) -> CrawlRun:
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return session.scalars(
                select(CrawlRun).order_by(CrawlRun.id.desc())
            ).first() or pytest.fail("no crawl run")
    finally:
        engine.dispose()


def test_crawl_archives_every_article_once_with_notice_as_banner(news_site_server, database_url):
    base_url = news_site_server.site.base_url
    result = crawl_local_site(base_url, database_url)
    assert "crawl 1 finished" in result.stderr

    records = export_jsonl(database_url)
    assert sorted(r["title"] for r in records) == sorted(a.title for a in ARTICLES)
    assert len({r["url"] for r in records}) == len(ARTICLES)
    by_title = {r["title"]: r for r in records}
    for article in ARTICLES:
        record = by_title[article.title]
        assert record["url"] == f"{base_url}/news/{article.slug}.html"
        published = datetime.fromisoformat(article.published)
        assert record["published"][:10] == f"{published:%Y-%m-%d}"
        assert record["body"] == "\n\n".join(article.paragraphs)
        assert NOTICE_TEXT[:40] not in record["body"]
        assert NOTICE_TITLE not in record["body"]
        assert {"kind": "alert", "text": f"{NOTICE_TITLE}\n\n{NOTICE_TEXT}"} in record["banners"]
        # Learned across the site's pages within this first crawl: out of every body.
        assert "Readers' notice" not in record["body"]
        if article.template == "notice":
            assert {"kind": "notice", "text": READERS_NOTICE} in record["banners"]
        assert record["section"] == article.section
        assert len(record["content_hash"]) == 64

    counts = archive_counts(database_url)
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        notice = session.scalars(select(Banner).where(Banner.kind == "alert")).one()
        assert notice.page_count == len(ARTICLES)
    engine.dispose()

    run = last_run(database_url)
    assert run.articles_new_count == len(ARTICLES)
    assert run.stats is not None
    assert run.stats["item_dropped_reasons_count/NotAnArticle"] > 0
    assert run.error_count == 2  # the 500 and the 404 of the sample site
    assert "/private/staff.html" not in news_site_server.request_log  # robots.txt obeyed
    assert len(news_site_server.user_agents) == 1
    assert next(iter(news_site_server.user_agents)).startswith("newsarchive/")

    # A second crawl of the same site adds no article, banner or link.
    second = crawl_local_site(base_url, database_url)
    assert "crawl 2 finished" in second.stderr
    assert len(export_jsonl(database_url)) == len(ARTICLES)
    after = archive_counts(database_url)
    assert after["banners"] == counts["banners"]
    assert after["links"] == counts["links"]
    assert after["fetches"] > counts["fetches"]  # every fetch is still recorded
    rerun = last_run(database_url)
    assert rerun.articles_new_count == 0
    assert rerun.articles_updated_count == 0


def test_crawl_from_a_feed_or_a_sitemap_only(news_site, tmp_path):
    feed_db = f"sqlite:///{tmp_path / 'feed.db'}"
    newsarchive("crawl", f"{news_site}/feed.xml", "--db", feed_db, *LOCAL_SITE_OPTIONS)
    # The feed lists the 6 latest articles; its site's robots.txt sitemaps give the rest.
    assert len(export_jsonl(feed_db)) == len(ARTICLES)

    sitemap_db = f"sqlite:///{tmp_path / 'sitemap.db'}"
    newsarchive(
        "crawl", f"{news_site}/sitemap-news.xml.gz", "--db", sitemap_db, *LOCAL_SITE_OPTIONS
    )
    records = export_jsonl(sitemap_db)
    assert len(records) == len(ARTICLES)
    assert all(r["published"] for r in records)


def test_query_commands_on_a_crawled_archive(news_site, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    crawl_local_site(news_site, database_url)

    hits = json.loads(
        newsarchive("search", "harbour master", "--db", database_url, "--format", "json").stdout
    )
    assert [h["title"] for h in hits] == ["Sailing regatta draws a record number of entries"]
    assert "**harbour**" in hits[0]["snippet"] or "**master**" in hits[0]["snippet"]

    limited = json.loads(
        newsarchive("search", "harbour", "--db", database_url, "--format", "json", "--limit", "2",
                    "--since", "2014-05-01", "--until", "2014-05-28").stdout
    )  # fmt: skip
    assert len(limited) == 2
    assert all("2014-05-01" <= h["published"][:10] <= "2014-05-28" for h in limited)

    table = newsarchive("search", "lighthouse", "--db", database_url).stdout
    assert "Old lighthouse to become a maritime museum" in table

    nato = ARTICLES[0]
    shown = json.loads(
        newsarchive("show", f"{news_site}/news/{nato.slug}.html?utm_source=x", "--db", database_url,
                    "--format", "json").stdout
    )  # fmt: skip
    assert shown["title"] == nato.title
    assert shown["published"].startswith("2014-05-30")
    text = newsarchive("show", str(shown["id"]), "--db", database_url).stdout
    assert nato.title in text
    assert "NATO said Friday" in text
    assert "[alert] Travel notice for the coast." in text

    may = export_jsonl(database_url, "--since", "2014-05-01", "--until", "2014-05-31")
    assert sorted(r["title"] for r in may) == sorted(
        a.title for a in ARTICLES if a.published.startswith("2014-05")
    )

    csv_path = tmp_path / "out" / "articles.csv"
    csv_path.parent.mkdir()
    newsarchive("export", "--db", database_url, "--format", "csv", "-o", str(csv_path))
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert len(rows) == len(ARTICLES)
    assert json.loads(rows[0]["banners"])[0]["kind"] in {"alert", "cookie", "newsletter", "ticker"}
    again = newsarchive("export", "--db", database_url, "--format", "csv", "-o", str(csv_path),
                        check=False)  # fmt: skip
    assert again.returncode == 1
    assert "exists (--force replaces it)" in again.stderr
    newsarchive("export", "--db", database_url, "--format", "csv", "-o", str(csv_path), "--force")
    link = tmp_path / "out" / "link.csv"
    link.symlink_to(tmp_path / "elsewhere.csv")
    linked = newsarchive("export", "--db", database_url, "-o", str(link), "--force", check=False)
    assert "symbolic link, not followed" in linked.stderr
    assert not (tmp_path / "elsewhere.csv").exists()

    banners = json.loads(newsarchive("banners", "--db", database_url, "--format", "json").stdout)
    notice = next(b for b in banners if b["kind"] == "alert")
    assert (notice["pages"], notice["text"]) == (len(ARTICLES), f"{NOTICE_TITLE}\n\n{NOTICE_TEXT}")
    assert {b["text"] for b in banners if b["kind"] == "notice"} == {READERS_NOTICE}

    reextracted = newsarchive("reextract", "--db", database_url).stderr
    assert (
        f"re-extracted {len(ARTICLES)} articles: 0 changed, {len(ARTICLES)} unchanged"
        in reextracted
    )

    stats = newsarchive("stats", "--db", database_url).stdout
    assert f"articles  {len(ARTICLES)}" in stats
    assert "sites     1" in stats
    assert "last crawl  #1 finished" in stats


def test_demo_builds_an_archive_in_the_working_folder(tmp_path):
    result = newsarchive("demo", cwd=tmp_path)
    assert (tmp_path / "archive.db").is_file()
    assert f"{len(ARTICLES)} articles archived" in result.stdout
    assert "NATO to boost its presence in Eastern Europe" in result.stdout
    assert "alert      on 10 pages: Travel notice for the coast." in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["crawl", "not-a-url"], "not an http(s) URL"),
        (["crawl", "https://news.example/", "-s", "NOEQUALS"], "-s takes NAME=VALUE"),
        (["search", "harbour", "--since", "last tuesday-ish"], "not a date"),
        (["search", "--", "---"], "nothing to search for"),
        (["show", "not a url"], "not an article id or http(s) URL"),
        (["export", "-o", "/no/such/folder/out.jsonl"], "does not exist"),
        (["stats", "--db", "mysql://x/y"], "unsupported database"),
    ],
    ids=[
        "bad-url",
        "bad-setting",
        "bad-date",
        "empty-query",
        "bad-article",
        "missing-folder",
        "bad-db",
    ],
)
def test_bad_input_gets_one_clear_line_and_no_traceback(args, message, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    newsarchive("stats", "--db", database_url, check=False)  # no archive yet: an error, not a crash
    from storage.migrate import upgrade

    upgrade(database_url)
    if "--db" not in args:
        args = (
            [*args, "--db", database_url]
            if args[0] != "search"
            else [*args[:1], "--db", database_url, *args[1:]]
        )
    result = newsarchive(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_stats_on_a_missing_archive_says_how_to_make_one(tmp_path):
    result = newsarchive("stats", "--db", f"sqlite:///{tmp_path / 'none.db'}", check=False)
    assert result.returncode == 1
    assert "no archive at" in result.stderr
    assert not (tmp_path / "none.db").exists()
    assert "Traceback" not in result.stderr


def test_extract_prints_one_json_object_per_file(tmp_path):
    from pathlib import Path

    fixture = (
        Path(__file__).parent.parent
        / "fixtures"
        / "pages"
        / "embassypages"
        / "nato-air-patrols.html"
    )
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><p>Nothing here.</p></body></html>")
    result = newsarchive(
        "extract", str(fixture), str(empty), "--url", "https://www.embassypages.com/news/nato"
    )
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["file"] == str(fixture)
    assert first["title"] == "NATO steps up air patrols over the Baltic states"
    assert first["published"].startswith("2014-05-30")
    assert first["body"].startswith("NATO said Friday")
    assert first["banners"][0]["text"].startswith("Consular assistance in Russia")
    assert second["file"] == str(empty)
    assert second["error"].startswith("no article")


def test_newsarchive_entry_point_is_installed():
    import shutil
    import subprocess

    executable = shutil.which("newsarchive")
    assert executable is not None, "pip install -e . installs the newsarchive command"
    result = subprocess.run(
        [executable, "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    for command in ("crawl", "demo", "extract", "search", "show", "export", "stats"):
        assert command in result.stdout


def test_dates_in_export_are_utc(news_site, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    crawl_local_site(news_site, database_url)
    for record in export_jsonl(database_url):
        assert datetime.fromisoformat(record["published"]).utcoffset() == timedelta(0)
        assert datetime.fromisoformat(record["first_seen"]).utcoffset() == timedelta(0)


def test_scrapy_crawl_news_works_from_the_project_folder(news_site, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"start_urls={news_site}/feed.xml",
         "-a", "follow_sitemaps=false", "-s", f"ARCHIVE_DATABASE_URL={database_url}",
         *LOCAL_SITE_OPTIONS],
        capture_output=True, text=True, timeout=240, check=False,
        cwd=Path(__file__).parent.parent.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'archive/articles_new': 6" in result.stderr  # the feed's six articles
    assert len(export_jsonl(database_url)) == 6


def test_a_recrawl_of_a_changed_site_keeps_versions_and_banner_history(news_site_server, tmp_path):
    from crawler.demo.site import CORRECTION, NOTICE_TEXT_LATER

    base_url = news_site_server.site.base_url
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    crawl_local_site(base_url, database_url)
    news_site_server.site.edition = 2  # a day later: a correction, and a new travel notice
    second = crawl_local_site(base_url, database_url, "-s", "ARCHIVE_REVISIT=0")  # revisit all
    assert "crawl 2 finished" in second.stderr
    assert "0 new articles, 1 updated" in second.stderr

    nato = ARTICLES[0]
    history = json.loads(
        newsarchive("history", f"{base_url}/news/{nato.slug}.html", "--db", database_url,
                    "--format", "json").stdout
    )  # fmt: skip
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert f"+{CORRECTION}" in history["versions"][1]["diff"].splitlines()
    other = json.loads(
        newsarchive("history", f"{base_url}/news/{ARTICLES[1].slug}.html", "--db", database_url,
                    "--format", "json").stdout
    )  # fmt: skip
    assert len(other["versions"]) == 1  # only its notice changed: not a new version

    banners = json.loads(newsarchive("banners", "--db", database_url, "--format", "json").stdout)
    old = next(b for b in banners if NOTICE_TEXT in b["text"])
    new = next(b for b in banners if NOTICE_TEXT_LATER in b["text"])
    assert old["last_seen"] < new["first_seen"]  # when the notice changed

    runs = json.loads(newsarchive("runs", "--db", database_url, "--format", "json").stdout)
    assert [r["id"] for r in runs] == [2, 1]
    assert runs[0]["articles_updated"] == 1
    assert runs[0]["errors_by_kind"] == {"HTTP 404": 1, "HTTP 500": 1}


def test_private_addresses_are_refused_unless_allowed(news_site_server, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    result = newsarchive("crawl", f"{news_site_server.site.base_url}/", "--db", database_url)
    assert "0 new articles" in result.stderr
    assert news_site_server.request_log == []  # not one request reached the loopback site
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        errors = session.scalars(select(Fetch.error).where(Fetch.status == 0)).all()
    engine.dispose()
    assert errors
    assert all(
        "RefusedAddress" in (error or "") and "non-public address" in (error or "")
        for error in errors
    )


def test_the_address_connected_to_is_checked_too(news_site_server, tmp_path):
    """S07, DNS rebinding: with the check before each request taken away, the resolver still
    refuses the loopback address `localhost` gives, at the moment of connecting."""
    site = news_site_server.site.base_url.replace("127.0.0.1", "localhost")
    without_precheck = json.dumps(
        {"crawler.middlewares.PrivateAddressMiddleware": None,
         "crawler.middlewares.RobotsPolicyMiddleware": None}
    )  # fmt: skip
    options = ["-s", f"DOWNLOADER_MIDDLEWARES={without_precheck}", "-s", "RETRY_TIMES=0",
               "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"]  # fmt: skip
    refused = newsarchive("crawl", f"{site}/", "--db", f"sqlite:///{tmp_path / 'a.db'}", *options)
    assert news_site_server.request_log == []
    assert "localhost resolves to the non-public address 127.0.0.1: refused at connect time" in (
        refused.stderr
    )
    # The same crawl, allowed private addresses, reaches the site: the resolver refused it.
    newsarchive("crawl", f"{site}/", "--db", f"sqlite:///{tmp_path / 'b.db'}", *options,
                "-s", "ARCHIVE_ALLOW_PRIVATE_ADDRESSES=1", "-s", "CLOSESPIDER_PAGECOUNT=1",
                check=False)  # fmt: skip
    assert "/" in news_site_server.request_log


def test_a_frontier_larger_than_memory_allows_waits_on_disk_and_loses_nothing(tmp_path):
    """L02: the sitemap lists every article at once; with room for 4 requests per queue in
    memory, the rest wait in the frontier's temporary file and every article is still fetched
    once and archived once."""
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_news_farm(150) as site:
        result = crawl_local_site(
            site.farm.base_url, database_url,
            "-s", "ARCHIVE_FRONTIER_MEMORY_REQUESTS=4", "-s", "LOG_LEVEL=INFO",
        )  # fmt: skip
        article_paths = set(site.farm.article_paths())
        fetched = {path: count for path, count in site.requests.items() if path in article_paths}
    spilled = re.search(r"'archive/frontier_spilled': (\d+)", result.stderr)
    assert spilled is not None, result.stderr[-3000:]
    assert int(spilled.group(1)) > 100
    assert fetched == dict.fromkeys(article_paths, 1)
    urls = [record["url"] for record in export_jsonl(database_url)]
    assert len(urls) == len(set(urls)) == 150


def test_a_crawl_over_its_memory_limit_stops_in_one_line_and_the_next_run_carries_on(tmp_path):
    """L02: past Scrapy's MEMUSAGE_LIMIT_MB (off by default) the crawl stops as on SIGTERM,
    what it fetched archived, with one line and exit status 1 (it did not finish); the next
    run archives the rest, nothing twice."""
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_news_farm(60) as site:
        site.hold_articles_after = 20  # the crawl is mid-way when the limit is checked
        limit = ["-s", "MEMUSAGE_LIMIT_MB=1", "-s", "MEMUSAGE_CHECK_INTERVAL_SECONDS=0.5"]
        crawl = Crawl(site.farm.base_url, database_url, "-s", "LOG_LEVEL=INFO", *limit)
        try:
            assert crawl.wait_for_line("Memory usage exceeded")
        finally:
            site.hold_articles_after = None
            site.release.set()
            code, log = crawl.finish()
        assert code == 1, log[-3000:]
        assert log.rstrip().splitlines()[-1] == (
            "Error: crawl 1 ended early at its memory limit (MEMUSAGE_LIMIT_MB): "
            "what it fetched is archived, the next run carries on"
        )
        assert len(export_jsonl(database_url)) < 60

        crawl_local_site(site.farm.base_url, database_url)
    urls = [record["url"] for record in export_jsonl(database_url)]
    assert len(urls) == len(set(urls)) == 60
