"""Downloader middlewares of incremental crawls.

- SkipFreshLinksMiddleware (a spider middleware) and SkipFreshArticlesMiddleware: an article
  archived less than ARCHIVE_REVISIT ago is not fetched again (start URLs, feeds and sitemaps
  always are: they are how news is found); checked in batches as the spider's requests are
  queued, and one by one for the others (redirects).
- ConditionalRequestMiddleware: feeds, sitemaps, robots.txt and start pages are asked for with
  the ETag and Last-Modified of their last fetch; a 304 answer costs nothing and yields nothing.
  The validators of a crawl are saved only when it finishes: a crawl killed half-way must find
  its listings again in full when it is resumed, not "not modified".
- PrivateAddressMiddleware: only http(s), and no private, loopback or link-local addresses.
- RobotsPolicyMiddleware: robots.txt failures as RFC 9309 says, and Crawl-delay.
- RetryAfterMiddleware: a 429 or 503 with Retry-After slows the whole site down, then retries.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred

from crawler.normalization import canonical_url, site_host
from crawler.sources import parse_duration
from storage.database import make_engine, make_session_factory, session_scope
from storage.models import Article, HttpValidator
from storage.scheduling import save_validators, validators_for

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def revisit_after(value: object) -> timedelta | None:
    """Read ARCHIVE_REVISIT: a duration ("7d"), or 0/"0"/"" for always fetching again."""
    if value in (None, "", 0, "0"):
        return None
    return parse_duration(value)


def crawl_now(settings_value: object) -> datetime:
    """Return the time scheduling decisions are made at: ARCHIVE_NOW if set (tests, replays)."""
    if settings_value:
        parsed = datetime.fromisoformat(str(settings_value))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


T = TypeVar("T")


class _ArchiveReader:
    """A connection to the archive, opened with the spider and closed with it."""

    # Reads one statement at a time, outside any transaction (checks before each request).
    autocommit = False

    def __init__(self, database_url: str, stats: StatsCollector) -> None:
        self.database_url = database_url
        self.stats = stats

    def spider_opened(self, spider: Spider) -> None:
        self.engine = make_engine(self.database_url, autocommit=self.autocommit)
        self.sessions = make_session_factory(self.engine)

    def spider_closed(self, spider: Spider) -> None:
        self.engine.dispose()

    def connect(self, crawler: Crawler) -> None:
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run `work`, a read of the archive, on a connection of the pool; once more on a new
        one if the server dropped the connection in the middle of it (a restart, an
        administrator ending the crawl's sessions: catalog F10). The pool's pre-ping replaces a
        connection lost while idle, not one lost after it; a read is safe to repeat."""
        try:
            with self.engine.connect() as connection:
                return work(connection)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            self.stats.inc_value("archive/reads_reconnected")
        with self.engine.connect() as connection:
            return work(connection)


LAST_SEEN = select(Article.last_seen_at).where(Article.canonical_url == bindparam("url"))
LAST_SEEN_OF = select(Article.canonical_url, Article.last_seen_at).where(
    Article.canonical_url.in_(bindparam("urls", expanding=True))
)
# Requests checked with one statement at most (a batch holds the reactor while it fills: 100
# of a sitemap's requests, a few tens of ms), and the mark of a request already checked.
FRESH_BATCH = 100
FRESH_CHECKED = "archive_fresh_checked"


class FreshArticle(IgnoreRequest):
    """The article was archived less than ARCHIVE_REVISIT ago: not fetched, by design."""


class SkipFreshArticlesMiddleware(_ArchiveReader):
    """Downloader middleware: a request for an article archived less than ARCHIVE_REVISIT ago
    is not sent. Requests the spider made were checked in batches when they were queued
    (`SkipFreshLinksMiddleware`); this checks the others: redirects, and requests of spider
    middlewares or extensions."""

    autocommit = True

    def __init__(
        self, database_url: str, stats: StatsCollector, *, revisit: timedelta, now: object
    ) -> None:
        super().__init__(database_url, stats)
        self.revisit = revisit
        self.now_setting = now

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        revisit = revisit_after(crawler.settings.get("ARCHIVE_REVISIT"))
        if revisit is None:
            raise NotConfigured  # ARCHIVE_REVISIT is 0: archived pages are fetched again
        assert crawler.stats is not None  # noqa: S101 - Scrapy always provides one
        middleware = cls(
            crawler.settings.get("ARCHIVE_DATABASE_URL"),
            crawler.stats,
            revisit=revisit,
            now=crawler.settings.get("ARCHIVE_NOW"),
        )
        middleware.connect(crawler)
        return middleware

    def process_request(self, request: Request) -> None:
        if not needs_freshness_check(request) or request.meta.get(FRESH_CHECKED) == request.url:
            return
        url = canonical_url(request.url)
        # Core: one cached statement, no session.
        last_seen = self.read(
            lambda connection: connection.execute(LAST_SEEN, {"url": url}).scalar()
        )
        if self.is_fresh(last_seen):
            self.stats.inc_value("archive/skipped_fresh")
            raise FreshArticle(f"archived at {last_seen:%Y-%m-%d %H:%M} UTC: not due again yet")

    def is_fresh(self, last_seen: datetime | None) -> bool:
        return last_seen is not None and last_seen > crawl_now(self.now_setting) - self.revisit


def needs_freshness_check(request: Request) -> bool:
    """Start URLs and listings (feeds, sitemaps, section pages asked for conditionally) are
    always fetched: they are how news is found."""
    return not (request.meta.get("is_start") or request.meta.get("conditional"))


class SkipFreshLinksMiddleware(SkipFreshArticlesMiddleware):
    """Spider middleware: of the requests a page, feed or sitemap leads to, drop those for
    articles archived less than ARCHIVE_REVISIT ago, checked with one statement per
    `FRESH_BATCH` requests instead of one per request (a sitemap of 50,000 articles, all
    archived: 500 statements instead of 50,000). A request kept is marked with the URL it was
    checked for, so the downloader middleware does not ask again unless it was redirected.

    The order of the spider's output is kept: requests wait for their batch's answer, and
    anything else (the page's item, last) comes after the requests before it."""

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        batch: list[Request] = []
        for output in result:
            yield from self.passing(output, batch)
        yield from self.not_fresh(batch)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        batch: list[Request] = []
        async for output in result:
            for passed in self.passing(output, batch):
                yield passed
        for kept in self.not_fresh(batch):
            yield kept

    def passing(self, output: Any, batch: list[Request]) -> list[Any]:
        """What goes on now that the spider gave `output`: nothing while a batch of requests to
        check fills; the requests it keeps once it is full, or once anything else comes (and
        then that too, after them)."""
        if isinstance(output, Request) and needs_freshness_check(output):
            batch.append(output)
            if len(batch) < FRESH_BATCH:
                return []
            kept = self.not_fresh(batch)
            batch.clear()
            return kept
        kept = self.not_fresh(batch)
        batch.clear()
        return [*kept, output]

    def not_fresh(self, batch: list[Request]) -> list[Request]:
        """The requests of `batch` that are not for fresh articles, marked as checked."""
        if not batch:
            return []
        urls = {request.url: canonical_url(request.url) for request in batch}
        wanted = {"urls": sorted(set(urls.values()))}
        last_seen = dict(
            self.read(lambda connection: connection.execute(LAST_SEEN_OF, wanted).all())
        )
        kept = []
        for request in batch:
            seen = last_seen.get(urls[request.url])
            if self.is_fresh(seen):
                self.stats.inc_value("archive/skipped_fresh")
                logger.debug(
                    "not queued: %s: archived at %s UTC, not due again yet", request.url, seen
                )
                continue
            request.meta[FRESH_CHECKED] = request.url
            kept.append(request)
        return kept


class ConditionalRequestMiddleware(_ArchiveReader):
    def __init__(self, database_url: str, stats: StatsCollector) -> None:
        super().__init__(database_url, stats)
        self.seen: dict[str, tuple[str | None, str | None]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None  # noqa: S101 - Scrapy always provides one
        middleware = cls(crawler.settings.get("ARCHIVE_DATABASE_URL"), crawler.stats)
        middleware.connect(crawler)
        return middleware

    def spider_closed(self, spider: Spider, reason: str = "finished") -> None:
        if reason == "finished" and self.seen:
            with session_scope(self.sessions) as session:
                for url, (etag, modified) in sorted(self.seen.items()):
                    save_validators(
                        session, url, etag=etag, last_modified=modified, now=datetime.now(UTC)
                    )
        super().spider_closed(spider)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("conditional"):
            return
        known = self.read(lambda connection: self.validators(connection, request.url))
        if known is None:
            return
        if known.etag and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = known.etag
        if known.last_modified and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = known.last_modified

    @staticmethod
    def validators(connection: Connection, url: str) -> HttpValidator | None:
        with Session(connection) as session:
            return validators_for(session, url)

    def process_response(self, request: Request, response: Response) -> Response:
        if not request.meta.get("conditional"):
            return response
        if response.status == 304:
            self.stats.inc_value("archive/not_modified")
        elif response.status == 200:
            etag = response.headers.get(b"ETag")
            modified = response.headers.get(b"Last-Modified")
            if etag or modified:
                self.seen[request.url] = (
                    etag.decode("latin-1") if etag else None,
                    modified.decode("latin-1") if modified else None,
                )
        return response


class RefusedAddress(IgnoreRequest):
    """A request for a non-http(s) URL, or for a host on a private, loopback or link-local
    address, refused unless ARCHIVE_ALLOW_PRIVATE_ADDRESSES is on."""


def is_public_address(address: str) -> bool:
    """Tell whether an IP address is on the public internet."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PrivateAddressMiddleware:
    """Refuse requests to other schemes than http and https, and to hosts that resolve to a
    private, loopback, link-local or otherwise non-public address (the crawler runs beside
    databases and caches that a hostile feed must not reach). Every request goes through it,
    redirects included, so a public URL that redirects inward is refused at the redirect.

    The check resolves the host before Scrapy connects; crawler.resolver checks again the
    address actually connected to, so a DNS answer that changes in between (DNS rebinding) is
    refused too.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(allow_private=crawler.settings.getbool("ARCHIVE_ALLOW_PRIVATE_ADDRESSES"))

    async def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in {"http", "https"}:
            raise RefusedAddress(f"refused {request.url}: only http and https are fetched")
        if self.allow_private:
            return
        host = parts.hostname or ""
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, parts.port or (443 if parts.scheme == "https" else 80)
                )
            except OSError:
                return  # unresolvable: the download fails and is recorded as such
            addresses = sorted({str(info[4][0]) for info in infos})
        for address in addresses:
            if not is_public_address(address):
                raise RefusedAddress(
                    f"refused {request.url}: {host} is at the non-public address {address} "
                    "(set ARCHIVE_ALLOW_PRIVATE_ADDRESSES to allow it)"
                )


DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with what RFC 9309 asks and Scrapy leaves out.

    - A robots.txt that answers 5xx, or cannot be fetched at all (timeout, reset, refused),
      means "crawl nothing" for that site in this run; a 4xx means "crawl everything"; Scrapy
      would read a 5xx error page as rules and a failed fetch as "everything allowed".
    - Crawl-delay is honoured, up to ARCHIVE_MAX_CRAWL_DELAY seconds, as the least delay
      between two requests to the site (AutoThrottle may slow down further, never speed up).
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.max_crawl_delay = crawler.settings.getfloat("ARCHIVE_MAX_CRAWL_DELAY", 60.0)
        self.crawl_delays: dict[str, float] = {}

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500:
            self._stats.inc_value("robotstxt/unavailable_disallow_all")
            response = response.replace(body=DISALLOW_ALL)
        elif response.status >= 400:
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)
        parser = self._parsers.get(netloc)
        if parser is not None and not isinstance(parser, Deferred):
            delay = parser.crawl_delay(self._robotstxt_useragent or self._default_useragent)
            if delay:
                self.crawl_delays[netloc] = min(delay, self.max_crawl_delay)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest):  # refused or offsite: the pages will be too
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value("robotstxt/unavailable_disallow_all")
        logger.warning(
            "robots.txt of %s cannot be fetched (%s): crawling nothing there", netloc, exc
        )
        parser = build_from_crawler(self._parserimpl, self.crawler, DISALLOW_ALL)
        waiting = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(waiting, Deferred):
            waiting.callback(parser)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        await super().process_request(request)
        delay = self.crawl_delays.get(urlparse_cached(request).netloc)
        if delay and self.crawler.engine is not None:
            downloader = self.crawler.engine.downloader
            key = downloader.get_slot_key(request)
            slot = downloader.slots.get(key)
            if slot is not None and slot.delay < delay:
                slot.delay = delay
                slot.randomize_delay = False
            request.meta["autothrottle_dont_adjust_delay"] = True


class RetryAfterMiddleware:
    """Honour Retry-After on 429 and 503 answers: wait that long before asking the site again
    (the whole site, not only that page), up to ARCHIVE_MAX_RETRY_AFTER seconds, then retry the
    page once. A longer wait is left to a later run: the answer is recorded as an error.
    """

    def __init__(self, crawler: Crawler, *, max_wait: float) -> None:
        self.crawler = crawler
        self.max_wait = max_wait

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler, max_wait=crawler.settings.getfloat("ARCHIVE_MAX_RETRY_AFTER", 300.0))

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in (429, 503) or request.meta.get("retried_after"):
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"), now=datetime.now(UTC))
        if wait is None or wait > self.max_wait or self.crawler.engine is None:
            return response
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is not None:
            slot.delay = max(slot.delay, wait)
            slot.randomize_delay = False
        assert self.crawler.stats is not None  # noqa: S101 - Scrapy always provides one
        self.crawler.stats.inc_value("archive/retry_after")
        logger.info("%s asks to wait %.0f s (Retry-After): waiting", request.url, wait)
        retry = request.replace(dont_filter=True)
        retry.meta["retried_after"] = True
        retry.meta["autothrottle_dont_adjust_delay"] = True
        return retry


def retry_after_seconds(value: bytes | None, *, now: datetime) -> float | None:
    """Read a Retry-After header: a number of seconds, or an HTTP date."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


# The longest a spider's output holds the reactor before it lets the rest of the crawl run.
OUTPUT_SLICE_SECONDS = 0.02


class OutputSlicesMiddleware:
    """Hand a long spider output on in slices, the reactor free to run between them.

    Every request a sitemap, feed or page leads to passes the spider middlewares and the
    scheduler in the reactor thread: about 0.2 ms each, a second for a sitemap of 5,000 URLs
    (docs/performance.md, sixteenth session), during which no download went on and no page came
    back from the workers. Once an output has held the reactor for `slice_seconds`, it waits
    for one turn of the event loop. Closest to the spider (the highest order): it sees every
    output the spider makes, those the other middlewares then drop included (past a site's
    budget, a sitemap's last 30,000 URLs are dropped one by one), and times what the others
    and the scheduler do with each.
    """

    def __init__(
        self,
        slice_seconds: float = OUTPUT_SLICE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slice_seconds = slice_seconds
        self.clock = clock

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        started = self.clock()
        async for output in result:
            yield output
            if self.clock() - started >= self.slice_seconds:
                await asyncio.sleep(0)  # one turn of the loop: downloads, workers' results
                started = self.clock()


class SpiderTrapMiddleware:
    """Keep endless URL spaces from eating a run (../shared/reliability-catalog.md, H05, H06).

    Before a request is queued: a path that repeats a segment 3 times (`/a/a/a/`, the mark of a
    relative-link bug) or has more than 20 segments is dropped with a reason; session IDs are
    already gone from the URLs the spider makes (crawler.normalization.strip_tracking); and no
    site gets more than ARCHIVE_MAX_PAGES_PER_SITE requests per run, so an endless calendar or
    pagination ends there: the site is reported as a suspected trap and the rest waits for the
    next run. DEPTH_LIMIT and URLLENGTH_LIMIT bound the rest.
    """

    MAX_SEGMENT_REPEATS = 3
    MAX_SEGMENTS = 20

    def __init__(self, *, max_pages_per_site: int, stats: StatsCollector) -> None:
        self.max_pages_per_site = max_pages_per_site
        self.stats = stats
        # The distinct URLs queued per site (the hashes of their canonical form, 64 bits): a
        # link seen on every page of a site counts once.
        self.queued: dict[str, set[int]] = {}
        self.over_budget: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None  # noqa: S101 - Scrapy always provides one
        return cls(
            max_pages_per_site=crawler.settings.getint("ARCHIVE_MAX_PAGES_PER_SITE", 20000),
            stats=crawler.stats,
        )

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        for output in result:
            if not isinstance(output, Request) or self.admit(output):
                yield output

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for output in result:
            if not isinstance(output, Request) or self.admit(output):
                yield output

    def admit(self, request: Request) -> bool:
        reason = trap_reason(request.url, self.MAX_SEGMENT_REPEATS, self.MAX_SEGMENTS)
        if reason is not None:
            logger.debug("not queued: %s: %s", request.url, reason)
            self.stats.inc_value(f"archive/trap_filtered/{reason.split(':')[0]}")
            return False
        host = site_host(request.url)
        queued = self.queued.setdefault(host, set())
        url = hash(canonical_url(request.url))
        if url in queued:
            return True  # already counted; Scrapy's duplicate filter decides
        if len(queued) < self.max_pages_per_site:
            queued.add(url)
            return True
        if host not in self.over_budget:
            self.over_budget.add(host)
            logger.warning(
                "%s: %d pages queued in this run, the most a site may have "
                "(ARCHIVE_MAX_PAGES_PER_SITE): a spider trap? the rest waits for the next run",
                host,
                self.max_pages_per_site,
            )
            suspected = self.stats.get_value("archive/trap_suspected") or ""
            self.stats.set_value(
                "archive/trap_suspected", ",".join(filter(None, [suspected, host]))
            )
        self.stats.inc_value("archive/trap_filtered/site_budget")
        return False


def trap_reason(url: str, max_repeats: int, max_segments: int) -> str | None:
    """Say why a URL looks like a spider trap's, or None."""
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    if len(segments) > max_segments:
        return f"path_depth: more than {max_segments} path segments"
    repeated = Counter(segments).most_common(1)
    if repeated and repeated[0][1] >= max_repeats:
        return f"path_repeats: {repeated[0][0]!r} {repeated[0][1]} times in the path"
    return None
