"""Run a crawl in this process, the way `scrapy crawl news` would, and return its run id."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawler.middlewares import crawl_now, revisit_after
from crawler.normalization import site_host
from crawler.sources import Source, parse_duration
from crawler.spiders.news import NewsSpider
from storage.database import make_engine, make_session_factory, session_scope
from storage.queries import RetryBackoff, failed_urls

# The demo and tests crawl their own loopback server: no need to wait between requests.
LOCAL_SITE_SETTINGS = {
    "ARCHIVE_ALLOW_PRIVATE_ADDRESSES": True,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
}


PROGRESS_EXTENSION = "crawler.progress.ProgressExtension"


class InvalidSetting(ValueError):
    """A -s NAME=VALUE override is malformed."""


def parse_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Read `NAME=VALUE` pairs, as given to `-s`."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidSetting(f"-s takes NAME=VALUE, not {pair!r}")
        overrides[name.strip()] = value
    return overrides


def project_settings(database_url: str, overrides: dict[str, Any]) -> Settings:
    """Return the project's Scrapy settings with the archive URL and overrides applied."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    settings = get_project_settings()
    settings.set("ARCHIVE_DATABASE_URL", database_url, priority="cmdline")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def urls_to_retry(
    settings: Settings, start_urls: list[str], domains: list[str] | None = None
) -> list[str]:
    """Return the pages of these sites whose last fetch, within the revisit window, failed for
    a reason that may pass (no response, 429, 5xx), and whose backoff has passed: 30 minutes
    after a first failure, doubling with each failure in a row, none after 5."""
    window = revisit_after(settings.get("ARCHIVE_REVISIT")) or timedelta(days=7)
    hosts = sorted({*(domains or []), *(site_host(url) for url in start_urls)})
    now = crawl_now(settings.get("ARCHIVE_NOW"))
    backoff = RetryBackoff(
        first=parse_duration(settings.get("ARCHIVE_RETRY_BACKOFF")),
        attempts=settings.getint("ARCHIVE_RETRY_ATTEMPTS"),
    )
    engine = make_engine(settings.get("ARCHIVE_DATABASE_URL"))
    try:
        with session_scope(make_session_factory(engine)) as session:
            return failed_urls(session, hosts, since=now - window, now=now, backoff=backoff)
    finally:
        engine.dispose()


def run_crawl(
    start_urls: list[str], settings: Settings, **spider_arguments: Any
) -> tuple[int | None, str | None]:
    """Crawl `start_urls` with NewsSpider until done; return the archive's run id and why the
    crawl ended (Scrapy's finish reason: the archive's record of it may be missing, when the
    archive could not be written at the end, as on a full disk)."""
    if settings.getbool("ARCHIVE_PROGRESS"):
        settings.set(
            "EXTENSIONS",
            {**settings.getdict("EXTENSIONS"), PROGRESS_EXTENSION: 500},
            priority="cmdline",
        )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(NewsSpider)
    spider_arguments.setdefault("retry_urls", urls_to_retry(settings, start_urls))
    process.crawl(crawler, start_urls=start_urls, **spider_arguments)
    process.start()
    assert crawler.stats is not None  # noqa: S101 - Scrapy always provides one
    run_id = crawler.stats.get_value("archive/run_id")
    return (int(run_id) if run_id is not None else None), crawler.stats.get_value("finish_reason")


def run_sources(sources: list[Source], settings: Settings, *, owner: str) -> dict[str, int | None]:
    """Crawl several sources at once, each with its own politeness; return each one's run id.

    The caller holds each source's lease (crawler.scheduling.claim_due_sources); the crawl
    renews it while it runs and releases it at the end (crawler.leases). Each source gets a
    subclass of NewsSpider whose `custom_settings` are the source's settings: Scrapy's own way
    of giving one crawl of a process its settings.
    """
    if any(
        Settings(source.settings).getbool("ARCHIVE_ALLOW_PRIVATE_ADDRESSES") for source in sources
    ):
        # One resolver serves the whole process: a source allowed private addresses needs the
        # plain one; the other sources keep the check before each request.
        settings = settings.copy()
        settings.set("TWISTED_DNS_RESOLVER", "scrapy.resolver.CachingThreadedResolver", "cmdline")
    process = CrawlerProcess(settings)
    crawlers: dict[str, Crawler] = {}
    for source in sources:
        spider_class = type(
            f"NewsSpider_{len(crawlers)}",
            (NewsSpider,),
            {
                "custom_settings": {
                    **source.settings,
                    "ARCHIVE_SOURCE": source.name,
                    "ARCHIVE_LEASE_OWNER": owner,
                    "ARCHIVE_REVISIT": int(source.revisit.total_seconds()),
                }
            },
        )
        crawler = process.create_crawler(spider_class)
        process.crawl(
            crawler,
            start_urls=list(source.start_urls),
            source_name=source.name,
            banner_selectors=list(source.banner_selectors),
            date_order=source.date_order,
            allowed_domains=list(source.allowed_domains),
            retry_urls=urls_to_retry(
                settings, list(source.start_urls), list(source.allowed_domains)
            ),
        )
        crawlers[source.name] = crawler
    process.start()
    run_ids: dict[str, int | None] = {}
    for name, crawler in crawlers.items():
        assert crawler.stats is not None  # noqa: S101 - Scrapy always provides one
        run_id = crawler.stats.get_value("archive/run_id")
        run_ids[name] = int(run_id) if run_id is not None else None
    return run_ids
