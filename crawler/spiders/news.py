"""NewsSpider (`news`): discovers and fetches the article pages of the sites it starts from.

Start URLs may be home or section pages, RSS/Atom feeds, sitemaps or sitemap indexes (gzipped
or not) or robots.txt. The spider reads feeds and sitemaps (and, unless told not to, the feeds a
page links to and the `Sitemap:` lines of each site's robots.txt), follows links and pagination
from listing pages, stays on the start URLs' sites, and yields one PageItem per response. It
never interprets article content: that is the pipelines' job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.utils.gz import gunzip
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

from crawler import distributed
from crawler.decoding import DecodedPage, decode_page
from crawler.documents import (
    GZIP_MAGIC,
    ListedPage,
    document_kind,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
)
from crawler.items import (
    ARTICLE,
    DEFAULT_MIN_TEXT_CHARS,
    ERROR,
    FEED,
    OTHER,
    ROBOTS,
    SITEMAP,
    AnalysisRequest,
    PageAnalysis,
    PageItem,
)
from crawler.middlewares import FreshArticle, RefusedAddress
from crawler.normalization import followable_url, site_host, strip_tracking
from crawler.workers import DEFAULT_ANALYSIS_TIMEOUT, AnalysisPool, analysis_pool

# Statuses that reach the callbacks, so that every fetch is recorded with its status: errors,
# and 304 Not Modified, the answer to a conditional request for an unchanged feed or sitemap.
RECORDED_STATUSES = [304, 400, 401, 403, 404, 405, 406, 408, 410, 429, 451, 500, 502, 503, 504]
# Requests for documents that list pages: asked for conditionally, never skipped as archived.
LISTING_META = {"conditional": True}
# A listing's next page goes before the pages already waiting: the walk of a pagination is one
# page after another (each page's link to the next is read from it), and left at the default
# priority each step waited behind everything queued before it; the last 20 pages of the
# generated site's pagination were walked one at a time after everything else, 1.3 s of a
# 27 s crawl with the cores idle (docs/performance.md, nineteenth session).
NEXT_PAGE_PRIORITY = 1
MAX_GUNZIPPED_BYTES = 50 * 1024 * 1024
# Sitemap indexes followed below the first (catalog B12): the protocol allows none, real sites
# nest one or two; a chain beyond this is a trap, cycles aside (Scrapy's duplicate filter).
MAX_SITEMAP_DEPTH = 3


class InvalidSpiderArgument(ValueError):
    """A spider argument (-a NAME=VALUE) is missing or wrong."""


def parse_bool(name: str, value: object) -> bool:
    """Read a spider argument as a yes/no value."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise InvalidSpiderArgument(f"{name} must be true or false, not {value!r}")


def parse_start_urls(value: object) -> list[str]:
    """Read start URLs from a list, or from a string separated by commas or whitespace."""
    items = value if isinstance(value, list | tuple) else str(value or "").replace(",", " ").split()
    urls = [str(url).strip() for url in items if str(url).strip()]
    if not urls:
        raise InvalidSpiderArgument("give at least one start URL: -a start_urls=https://...")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidSpiderArgument(f"not an http(s) URL: {url!r}")
    return urls


class NewsSpider(Spider):
    name = "news"
    handle_httpstatus_list = RECORDED_STATUSES

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # With ARCHIVE_REDIS_URL set, this crawl is one worker of a shared crawl.
        distributed.configure(settings)

    def __init__(
        self,
        start_urls: object = None,
        follow_feeds: object = True,
        follow_sitemaps: object = True,
        source_name: str | None = None,
        banner_selectors: object = (),
        date_order: str | None = None,
        allowed_domains: object = None,
        retry_urls: object = (),
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.start_urls = parse_start_urls(start_urls)
        self.follow_feeds = parse_bool("follow_feeds", follow_feeds)
        self.follow_sitemaps = parse_bool("follow_sitemaps", follow_sitemaps)
        # What the sources file says of a source (crawler.sources); None for plain crawls.
        self.source_name = source_name
        self.banner_selectors = tuple(_as_list(banner_selectors))
        if date_order not in (None, "", "dmy", "mdy"):
            raise InvalidSpiderArgument(f"date_order must be dmy or mdy, not {date_order!r}")
        self.date_order = date_order or None
        # The start URLs' sites always, and the other domains a source allows.
        domains = [*_as_list(allowed_domains), *(site_host(url) for url in self.start_urls)]
        self.allowed_domains = sorted({d.lower().removeprefix("www.") for d in domains})
        # Pages whose last fetch failed for a reason that may pass: asked for again directly,
        # since an unchanged listing that led to them may now answer 304 (crawler.runner).
        self.retry_urls = [url for url in _as_list(retry_urls) if self.is_on_site(url)]
        # Where pages are analysed: in the reactor thread unless the crawl gives a pool of
        # worker processes (from_crawler); what makes an article page an article.
        self.analysis_pool = AnalysisPool(processes=0, timeout=DEFAULT_ANALYSIS_TIMEOUT)
        self.min_text_chars = DEFAULT_MIN_TEXT_CHARS
        # The page links this crawl has already asked for: a site's menus and sidebars repeat
        # the same hundreds of links on every page, and each Request made of them would go
        # through every spider middleware before Scrapy's duplicate filter drops it. Kept as
        # the links' hashes (64 bits, this process's own): about 80 bytes a link instead of 180.
        self.followed: set[int] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider: Self = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        processes = settings.get("ARCHIVE_EXTRACTION_PROCESSES")
        spider.analysis_pool = analysis_pool(
            None if processes in (None, "") else int(processes),
            settings.getfloat("ARCHIVE_EXTRACTION_TIMEOUT", DEFAULT_ANALYSIS_TIMEOUT),
        )
        spider.min_text_chars = settings.getint("ARCHIVE_MIN_TEXT_CHARS", DEFAULT_MIN_TEXT_CHARS)
        return spider

    def forget_followed_links(self) -> None:
        """Forget which page links this crawl asked for: a shared crawl whose frontier was lost
        asks for them again as it finds them (crawler.distributed)."""
        self.followed.clear()

    async def start(self) -> AsyncIterator[Request]:
        sites_with_robots: set[str] = set()
        for url in self.start_urls:
            yield Request(
                url,
                callback=self.parse_start,
                errback=self.on_error,
                meta={"is_start": True, **LISTING_META},
            )
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            if self.follow_sitemaps and origin not in sites_with_robots:
                sites_with_robots.add(origin)
                yield Request(
                    f"{origin}/robots.txt",
                    callback=self.parse_start,
                    errback=self.on_error,
                    meta=LISTING_META,
                )
        for url in self.retry_urls:
            yield Request(url, callback=self.parse_page, errback=self.on_error)

    # --- callbacks ------------------------------------------------------------------------

    async def parse_start(self, response: Response) -> AsyncIterator[Request | PageItem]:
        """Read a start URL, whatever it turns out to be."""
        if response.status == 304:
            yield self.page_item(response, OTHER, keep_body=False)
            return
        body = self._document_body(response)
        kind = document_kind(response.url, body) if body is not None else None
        if kind in {ROBOTS, SITEMAP, FEED}:
            parse = {ROBOTS: self.parse_robots, SITEMAP: self.parse_sitemap, FEED: self.parse_feed}
            for output in parse[kind](response):
                yield output
            return
        async for output in self.parse_page(response):
            yield output

    def parse_robots(self, response: Response) -> Iterator[Request | PageItem]:
        yield self.page_item(response, ROBOTS)
        if response.status >= 300:
            return
        for link in robots_sitemaps(response.body):
            if url := self.followable(link, response.url):
                yield Request(
                    url, callback=self.parse_sitemap, errback=self.on_error, meta=LISTING_META
                )

    def parse_sitemap(self, response: Response) -> Iterator[Request | PageItem]:
        yield self.page_item(response, SITEMAP)
        body = self._document_body(response)
        if response.status >= 300 or body is None:
            return
        sitemap = parse_sitemap(body)
        depth = response.meta.get("sitemap_depth", 0)
        if sitemap.sitemap_urls and depth >= MAX_SITEMAP_DEPTH:
            self.crawler.stats.inc_value("archive/sitemaps_too_deep")
            self.logger.warning("%s: a sitemap index %d indexes deep, not followed further",
                                response.url, depth)  # fmt: skip
            return
        for link in sitemap.sitemap_urls:
            if url := self.followable(link, response.url):
                yield Request(url, callback=self.parse_sitemap, errback=self.on_error,
                              meta={**LISTING_META, "sitemap_depth": depth + 1})  # fmt: skip
        yield from self.requests_for_listed(sitemap.pages, response.url)

    def parse_feed(self, response: Response) -> Iterator[Request | PageItem]:
        yield self.page_item(response, FEED)
        body = self._document_body(response)
        if response.status >= 300 or body is None:
            return
        yield from self.requests_for_listed(parse_feed(body), response.url)

    async def parse_page(self, response: Response) -> AsyncIterator[Request | PageItem]:
        """Record an HTML page; follow its links unless it is an article.

        The page is analysed in a worker process (crawler.workers): parsed once, classified,
        and its article extracted or its links listed, while the reactor goes on fetching.
        """
        if response.status >= 400:
            yield self.page_item(response, ERROR)
            return
        if response.status == 304:
            yield self.page_item(response, OTHER, keep_body=False)
            return
        if not isinstance(response, TextResponse) or not _is_html(response):
            body = self._document_body(response)
            kind = document_kind(response.url, body) if body is not None else None
            if kind == FEED:
                for output in self.parse_feed(response):
                    yield output
            elif kind == SITEMAP:
                for output in self.parse_sitemap(response):
                    yield output
            else:
                yield self.page_item(response, OTHER, keep_body=False)
            return
        fetched_at = datetime.now(UTC)
        text = response.text
        decoded = decode_page(text, response.encoding, response.body)
        if decoded.suspect:
            self.crawler.stats.inc_value("archive/encoding_suspect")
            self.logger.warning("%s: over 1%% of its text is unreadable as %s", response.url,
                                decoded.encoding)  # fmt: skip
        analysis = await self.analysis_pool.analyze(
            AnalysisRequest(
                # the body alone when the worker decodes it to this same text (Scrapy's way)
                text="" if decoded.text is text else decoded.text,
                encoding=response.encoding,
                url=response.url,
                fetched_at=fetched_at,
                listed_dates=tuple(response.meta.get("listed_dates", ())),
                min_text_chars=self.min_text_chars,
                banner_selectors=self.banner_selectors,
                body=response.body,
            ),
            urgent=is_next_page(response),
        )
        if analysis.kind != ARTICLE:
            if self.follow_feeds:
                for url in analysis.feeds:
                    if hash(url) not in self.followed:
                        self.followed.add(hash(url))
                        yield Request(url, callback=self.parse_feed, errback=self.on_error,
                                      meta=LISTING_META)  # fmt: skip
            next_pages = set(analysis.next_pages)
            for url in analysis.links:
                if hash(url) not in self.followed and self.is_on_site(url):
                    self.followed.add(hash(url))
                    priority = NEXT_PAGE_PRIORITY if url in next_pages else 0
                    yield Request(strip_tracking(url), callback=self.parse_page,
                                  errback=self.on_error, priority=priority)  # fmt: skip
        # Last: once the page is archived, everything it led to is already queued.
        yield self.page_item(
            response, analysis.kind, fetched_at=fetched_at, analysis=analysis, decoded=decoded
        )

    def on_error(self, failure: Failure) -> Iterator[PageItem]:
        """Record a fetch that failed before any response (DNS, refused, timeout, reset)."""
        if failure.value is not None and is_decision(failure.value):
            self.logger.debug("not fetched: %s", failure.value)
            return
        request = failure.request  # type: ignore[attr-defined]
        self.logger.warning("fetch failed: %s: %s", request.url, failure.getErrorMessage())
        yield PageItem(
            url=request.url,
            final_url=request.url,
            status=0,
            fetched_at=datetime.now(UTC),
            page_kind=ERROR,
            error=f"{getattr(failure.type, '__name__', 'Error')}: {failure.getErrorMessage()}"[
                :500
            ],
        )

    # --- helpers --------------------------------------------------------------------------

    def is_on_site(self, url: str) -> bool:
        """Tell whether `url` belongs to one of the start URLs' sites (subdomains included)."""
        host = site_host(url)
        return any(host == domain or host.endswith(f".{domain}") for domain in self.allowed_domains)

    def requests_for_listed(
        self, pages: tuple[ListedPage, ...] | list[ListedPage], document_url: str
    ) -> Iterator[Request]:
        """Requests for the pages a feed or sitemap at `document_url` lists (relative links
        read against it; links that cannot be followed skipped)."""
        for page in pages:
            url = self.followable(page.url, document_url)
            if url is None:
                continue
            yield Request(
                strip_tracking(url),
                callback=self.parse_page,
                errback=self.on_error,
                meta={"listed_dates": page.dates, "listed_title": page.title},
            )

    def followable(self, link: str, document_url: str) -> str | None:
        """A link of the feed, sitemap or robots.txt at `document_url`, made absolute; None,
        counted, for one that cannot be followed (another scheme, a bad port, credentials)."""
        url = followable_url(link, document_url)
        if url is None:
            self.crawler.stats.inc_value("archive/unfollowable_links")
            self.logger.debug("not followed from %s: %r", document_url, link)
        return url

    def page_item(
        self,
        response: Response,
        kind: str,
        *,
        keep_body: bool = True,
        fetched_at: datetime | None = None,
        analysis: PageAnalysis | None = None,
        decoded: DecodedPage | None = None,
    ) -> PageItem:
        """Return the PageItem for a response; only articles carry their decoded text, and
        HTML pages the encoding they were decoded with."""
        content_type = response.headers.get(b"Content-Type")
        return PageItem(
            url=response.meta.get("redirect_urls", [response.url])[0],
            final_url=response.url,
            status=response.status,
            fetched_at=fetched_at or datetime.now(UTC),
            page_kind=kind,
            content_type=content_type.decode("latin-1") if content_type else None,
            body=response.body if keep_body else b"",
            text=decoded.text if decoded is not None and kind == ARTICLE else "",
            encoding=decoded.encoding if decoded is not None else None,
            listed_dates=tuple(response.meta.get("listed_dates", ())),
            listed_title=response.meta.get("listed_title"),
            analysis=analysis,
        )

    def _document_body(self, response: Response) -> bytes | None:
        """Return the body, gunzipped if it is a .gz file (capped), or None if that fails."""
        body = response.body
        if body[:2] == GZIP_MAGIC:
            try:
                return gunzip(body, max_size=MAX_GUNZIPPED_BYTES)
            except (OSError, EOFError, ValueError) as exc:
                self.logger.warning("cannot gunzip %s: %s", response.url, exc)
                return None
        return body


def is_next_page(response: Response) -> bool:
    """Tell whether `response` is a listing's next page, asked for at NEXT_PAGE_PRIORITY."""
    return response.request is not None and response.request.priority >= NEXT_PAGE_PRIORITY


def is_decision(error: BaseException) -> bool:
    """Tell whether a request was dropped by design (robots.txt, offsite, archived recently)
    rather than failed (refused address, too large, decompression bomb, timeout, reset)."""
    if isinstance(error, FreshArticle):
        return True
    if not isinstance(error, IgnoreRequest) or isinstance(error, RefusedAddress):
        return False
    # Scrapy's robots.txt and offsite middlewares raise a plain IgnoreRequest; so does its
    # decompression cap, which is a failure of the page.
    message = str(error).lower()
    return message.startswith("forbidden by robots.txt") or "offsite" in message


def _as_list(value: object) -> list[str]:
    """Read a spider argument that is a list, or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value if str(item).strip()]
    return [item.strip() for item in str(value).split(",") if item.strip()]


def _is_html(response: TextResponse) -> bool:
    content_type = (response.headers.get(b"Content-Type") or b"text/html").decode("latin-1").lower()
    return "html" in content_type or (
        content_type.startswith("text/plain") and b"<html" in response.body[:1024].lower()
    )
