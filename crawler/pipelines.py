"""The crawl's item pipelines: thin adapters over extraction, normalization and storage."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import CloseSpider
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import IntegrityError, OperationalError

from crawler.exceptions import NotAnArticle, StorageUnavailable
from crawler.health import record_crawl_health
from crawler.items import (
    ARTICLE,
    DEFAULT_MIN_TEXT_CHARS,
    OTHER,
    ArchivePageItem,
    ExtractedPageItem,
    PageItem,
)
from crawler.learning import FetchedArticle, LearningSettings, relearn_site, store_articles
from crawler.normalization import normalize_article, site_host
from storage.database import make_engine, make_session_factory, session_scope
from storage.migrate import ensure_current
from storage.queries import site_article_count
from storage.records import FetchRecord
from storage.writes import finish_run, record_fetches, start_run, upsert_site

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# Pages written in one transaction at most (ARCHIVE_WRITE_BATCH).
DEFAULT_WRITE_BATCH = 50
# Seconds a transaction waits for more pages before it is written (ARCHIVE_WRITE_LINGER).
DEFAULT_WRITE_LINGER = 0.1
# A site's articles are counted again (a read of the site's whole index) once a crawl has added
# a hundredth of them since the last count: on a site of a million articles, once every 10,000
# instead of at every relearning (every 25).
RECOUNT_SHARE = 100


@dataclass
class SiteArticles:
    """A site's articles as last counted, and the new ones a crawl stored since."""

    counted: int
    added: int = 0


def storage_failure(error: OperationalError, database_url: str) -> str:
    """Return one readable line naming the archive and what went wrong with it."""
    cause = str(error.orig).splitlines()[0] if error.orig is not None else str(error)
    if "disk is full" in cause or "No space left" in cause:
        return f"disk full: the archive {database_url} cannot grow: {cause}"
    return f"storage: the archive {database_url} cannot be written: {cause}"


# SQLSTATEs of PostgreSQL errors that a new attempt of the same transaction may get past:
# serialization failure, deadlock (two crawlers writing one site's rows), and the connection
# classes (the server restarting, an administrator ending the session).
TRANSIENT_SQLSTATES = ("40001", "40P01", "08", "57P01", "57P02", "57P03")


def is_transient(error: OperationalError) -> bool:
    """Tell whether a failed transaction may succeed if tried again: a lost connection
    (server restart, administrator command, network), a deadlock or a serialization failure.
    SQLite's "database is locked" is not: the busy timeout has already waited for it."""
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return bool(sqlstate) and sqlstate.startswith(TRANSIENT_SQLSTATES)


class ExtractionPipeline:
    """Extract the article of each article page; other pages pass on with no article."""

    def __init__(self, *, min_text_chars: int, crawler: Crawler | None = None) -> None:
        self.min_text_chars = min_text_chars
        self.crawler = crawler  # its spider may carry a source's banner selectors

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(
            min_text_chars=crawler.settings.getint(
                "ARCHIVE_MIN_TEXT_CHARS", DEFAULT_MIN_TEXT_CHARS
            ),
            crawler=crawler,
        )

    def process_item(self, item: PageItem) -> ExtractedPageItem:
        if item.page_kind != ARTICLE:
            return ExtractedPageItem(page=item, article=None, rejection=f"{item.page_kind} page")
        if item.analysis is not None:  # extracted by the spider's worker processes
            analysis = item.analysis
            return ExtractedPageItem(
                page=item, article=analysis.article, rejection=analysis.rejection or None
            )
        # A page the spider did not analyse (another spider's): extracted here, the one place
        # the crawl process loads trafilatura.
        from crawler.extraction import extract_article_or_reason

        spider = self.crawler.spider if self.crawler else None
        article, reason = extract_article_or_reason(
            item,
            min_text_chars=self.min_text_chars,
            banner_selectors=getattr(spider, "banner_selectors", ()),
        )
        return ExtractedPageItem(page=item, article=article, rejection=reason or None)


class NormalizationPipeline:
    """Turn an extraction into storable records: the fetch, and the article if there is one."""

    def process_item(self, item: ExtractedPageItem) -> ArchivePageItem:
        page = item.page
        kind = page.page_kind if item.article is not None or page.page_kind != ARTICLE else OTHER
        fetch = FetchRecord(
            url=page.url,
            final_url=page.final_url,
            status=page.status,
            fetched_at=page.fetched_at,
            content_type=page.content_type,
            page_kind=kind,
            body=page.body or None,
            error=page.error,
            encoding=page.encoding,
            stored_body=page.analysis.stored_body if page.analysis and page.body else None,
        )
        article = normalize_article(item.article) if item.article is not None else None
        return ArchivePageItem(
            host=site_host(page.final_url), fetch=fetch, article=article, rejection=item.rejection
        )


def _settle(
    batch: list[tuple[ArchivePageItem, asyncio.Future[str | None]]], *, exception: BaseException
) -> None:
    for _, written in batch:
        if not written.done():
            written.set_exception(exception)


class StoragePipeline:
    """Write each page to the archive, all or nothing: its fetch, article and banners."""

    def __init__(
        self,
        *,
        database_url: str,
        stats: StatsCollector,
        learning: LearningSettings | None = None,
        crawler: Crawler | None = None,
        busy_timeout_seconds: float = 30.0,
        retry_seconds: float = 60.0,
        batch_pages: int = DEFAULT_WRITE_BATCH,
        linger_seconds: float = DEFAULT_WRITE_LINGER,
    ) -> None:
        if not database_url:
            raise ValueError(
                "ARCHIVE_DATABASE_URL is empty: set it to sqlite:///archive.db or a PostgreSQL URL"
            )
        self.database_url = database_url
        self.stats = stats
        self.crawler = crawler
        self.learning = learning or LearningSettings()
        self.run_id: int | None = None
        self.stopping = False
        self.busy_timeout_seconds = busy_timeout_seconds
        # How long a page is tried again while the database is unreachable or in a deadlock.
        self.retry_seconds = retry_seconds
        self.source_name: str | None = None
        self.date_order_hint: str | None = None
        # Articles stored per site since its boilerplate was last brought up to date.
        self.unlearned: Counter[int] = Counter()
        # Per site: its articles when last counted, and the new ones this crawl stored since.
        self.site_articles: dict[int, SiteArticles] = {}
        # The ids of the sites (host and name) this crawl has stored pages of.
        self.site_ids: dict[tuple[str, str | None], int] = {}
        self.batch_pages = max(1, batch_pages)
        self.linger_seconds = max(0.0, linger_seconds)
        # Set once a whole batch waits, while the writer lingers for one.
        self.batch_filled: asyncio.Event | None = None
        # Pages waiting for the writer thread, and the task feeding it while there are some.
        self.pending: list[tuple[ArchivePageItem, asyncio.Future[str | None]]] = []
        self.writing: asyncio.Task[None] | None = None
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None  # noqa: S101 - Scrapy always provides one
        pipeline = cls(
            database_url=crawler.settings.get("ARCHIVE_DATABASE_URL"),
            stats=crawler.stats,
            learning=LearningSettings.from_settings(crawler.settings),
            crawler=crawler,
            busy_timeout_seconds=crawler.settings.getfloat("ARCHIVE_SQLITE_BUSY_TIMEOUT", 30.0),
            retry_seconds=crawler.settings.getfloat("ARCHIVE_STORAGE_RETRY_SECONDS", 60.0),
            batch_pages=crawler.settings.getint("ARCHIVE_WRITE_BATCH", DEFAULT_WRITE_BATCH),
            linger_seconds=crawler.settings.getfloat("ARCHIVE_WRITE_LINGER", DEFAULT_WRITE_LINGER),
        )
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        try:
            ensure_current(self.database_url)
        except Exception as exc:
            reason = f"cannot open the archive {self.database_url}: {str(exc).splitlines()[0]}"
            logger.error("%s", reason)
            raise CloseSpider(reason) from exc
        self.engine = make_engine(
            self.database_url,
            immediate_transactions=True,
            busy_timeout_seconds=self.busy_timeout_seconds,
        )
        self.sessions = make_session_factory(self.engine)
        spider = self.crawler.spider if self.crawler else None
        start_urls = list(getattr(spider, "start_urls", []) or [])
        self.source_name = getattr(spider, "source_name", None)
        self.date_order_hint = getattr(spider, "date_order", None)
        try:
            with session_scope(self.sessions) as session:
                self.run_id = start_run(
                    session, start_urls, started_at=datetime.now(UTC), source=self.source_name
                )
        except OperationalError as exc:
            reason = storage_failure(exc, self.database_url)
            logger.error("%s: the crawl cannot start", reason)
            raise CloseSpider(reason) from exc
        self.stats.set_value("archive/run_id", self.run_id)

    async def process_item(self, item: ArchivePageItem) -> ArchivePageItem:
        """Store the page and return it once its transaction is committed.

        Pages are written by one writer thread, off the reactor, in batches (group commit): a
        transaction takes the pages that wait once ARCHIVE_WRITE_BATCH of them do, or
        ARCHIVE_WRITE_LINGER seconds after the writer was free to start it, whichever comes
        first. A page is reported stored (and its request done, for a shared crawl's lease)
        only once its batch is committed."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[str | None] = loop.create_future()
        self.pending.append((item, written))
        if self.batch_filled is not None and len(self.pending) >= self.batch_pages:
            self.batch_filled.set()
        if self.writing is None:
            self.writing = loop.create_task(self._write_pending())
        outcome = await written
        self.stats.inc_value("archive/pages_fetched")
        if item.fetch.status == 0 or item.fetch.status >= 400:
            self.stats.inc_value("archive/fetch_errors")
        if outcome is None:
            raise NotAnArticle(item.rejection or "no article")
        self.stats.inc_value(f"archive/articles_{outcome}")
        return item

    async def _write_pending(self) -> None:
        try:
            while self.pending:
                await self._linger()
                batch = self.pending[: self.batch_pages]
                del self.pending[: self.batch_pages]
                try:
                    await self._write_batch(batch)
                except Exception as exc:  # never leave a page waiting for an answer
                    logger.exception("storing %d pages failed", len(batch))
                    _settle(batch, exception=exc)
        finally:
            self.writing = None

    async def _linger(self) -> None:
        """Wait up to ARCHIVE_WRITE_LINGER seconds for a whole batch of pages to wait: a commit,
        with the search index's update, costs about the same for one page as for fifty, and a
        crawl fetching dozens of pages a second would otherwise commit nearly each one alone
        (with 0.1 s, the writer spent 1.5 ms less CPU a real page: docs/performance.md)."""
        if not self.linger_seconds or self.stopping or len(self.pending) >= self.batch_pages:
            return
        self.batch_filled = asyncio.Event()
        try:
            await asyncio.wait_for(self.batch_filled.wait(), self.linger_seconds)
        except TimeoutError:
            pass  # the batch is written as it is
        finally:
            self.batch_filled = None

    async def _write_batch(
        self, batch: list[tuple[ArchivePageItem, asyncio.Future[str | None]]]
    ) -> None:
        """Write `batch` in one transaction. A batch of several pages that fails is written
        again page by page, so that one bad page fails alone and a deadlock between shared
        crawlers is not met twice. A page that meets an unreachable database or a deadlock is
        tried again with a growing pause for up to ARCHIVE_STORAGE_RETRY_SECONDS, then the
        crawl stops; one that breaks a unique constraint (another crawler archived its
        article meanwhile) is tried once more."""
        loop = asyncio.get_running_loop()
        items = [item for item, _ in batch]
        waited, conflicted = 0.0, False
        for attempt in itertools.count():
            try:
                outcomes = await loop.run_in_executor(self.writer, self.store_batch, items)
            except IntegrityError as exc:
                # Another crawler sharing the archive stored the page's new article between
                # this transaction's look-up of its URL and its write: written once more, the
                # article is a known one. A page that conflicts twice fails alone.
                if len(batch) > 1:
                    break
                if conflicted:
                    _settle(batch, exception=exc)
                    return
                conflicted = True
            except OperationalError as exc:
                pause = min(0.1 * 2**attempt, 5.0)
                if self.stopping or not is_transient(exc) or waited + pause > self.retry_seconds:
                    reason = storage_failure(exc, self.database_url)
                    self.stop_crawl(reason)
                    _settle(batch, exception=StorageUnavailable(reason))
                    return
                logger.warning(
                    "%s; trying again in %.1f s", storage_failure(exc, self.database_url), pause
                )
                self.stats.inc_value("archive/storage_retries")
                if len(batch) > 1:
                    break
                await asyncio.sleep(pause)
                waited += pause
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch, exception=exc)
                    return
                break
            else:
                for (_, written), outcome in zip(batch, outcomes, strict=True):
                    if not written.done():
                        written.set_result(outcome)
                return
        for one in batch:
            await self._write_batch([one])

    def stop_crawl(self, reason: str) -> None:
        """Stop the crawl once, with `reason` as its finish reason."""
        if self.stopping:
            return
        self.stopping = True
        logger.error("%s: stopping the crawl; run it again when the archive is writable", reason)
        crawler = self.crawler
        if crawler is None or not crawler.crawling or crawler.spider is None:
            return  # not in a running crawl (a test, a script): the caller sees the drop
        deferred_from_coro(crawler.engine.close_spider_async(reason=reason[:100]))

    def store_batch(self, items: list[ArchivePageItem]) -> list[str | None]:
        """Store the pages in one transaction; return each one's article outcome (new,
        updated, unchanged, or None for a page without an article); raise what the database
        raised. Runs in the writer thread."""
        site_ids = dict(self.site_ids)
        try:
            with session_scope(self.sessions) as session:
                outcomes = self._store_pages(session, items, site_ids)
        except BaseException:
            self.site_articles.clear()  # counted in a transaction that did not commit
            raise
        self.site_ids = site_ids  # committed: known from now on
        return outcomes

    def _store_pages(
        self,
        session: Session,
        items: list[ArchivePageItem],
        site_ids: dict[tuple[str, str | None], int],
    ) -> list[str | None]:
        """Store the fetches, then the articles (those new to the archive together), then
        relearn the sites that have enough articles stored since they were last learned."""
        sites = [self._site_id(session, item, site_ids) for item in items]
        fetches = [(item.fetch, site_id) for item, site_id in zip(items, sites, strict=True)]
        fetch_ids = record_fetches(session, fetches, run_id=self.run_id)
        positions: list[int] = []
        articles: list[FetchedArticle] = []
        for position, item in enumerate(items):
            if item.article is not None:
                positions.append(position)
                articles.append(FetchedArticle(item.article, sites[position], fetch_ids[position]))
        writes = store_articles(session, articles, date_order_hint=self.date_order_hint)
        outcomes: list[str | None] = [None] * len(items)
        for position, article, write in zip(positions, articles, writes, strict=True):
            outcomes[position] = write.outcome
            if write.outcome == "new" and article.site_id in self.site_articles:
                self.site_articles[article.site_id].added += 1
            self.unlearned[article.site_id] += 1
        for site_id in sorted({article.site_id for article in articles}):
            if self.unlearned[site_id] >= self.learning.relearn_every:
                self._relearn(session, site_id)
        return outcomes

    def _site_id(
        self, session: Session, item: ArchivePageItem, site_ids: dict[tuple[str, str | None], int]
    ) -> int:
        site_name = item.article.site_name if item.article else None
        site_id = site_ids.get((item.host, site_name)) or upsert_site(
            session, item.host, seen_at=item.fetch.fetched_at, name=site_name
        )
        site_ids[item.host, site_name] = site_id
        return site_id

    def _relearn(self, session: Session, site_id: int) -> None:
        cleaned = relearn_site(
            session,
            site_id,
            self.learning,
            date_order_hint=self.date_order_hint,
            article_count=self._article_count(session, site_id),
        )
        self.unlearned[site_id] = 0
        if cleaned:
            self.stats.inc_value("archive/articles_recleaned", cleaned)

    def _article_count(self, session: Session, site_id: int) -> int:
        """The site's articles: counted, or as last counted plus the new ones stored since, if
        those are fewer than a hundredth of them (other crawlers' new articles are then
        missed for a while: by a share too small to move the boilerplate threshold much)."""
        known = self.site_articles.get(site_id)
        if known is None or known.added * RECOUNT_SHARE > known.counted:
            known = self.site_articles[site_id] = SiteArticles(site_article_count(session, site_id))
        return known.counted + known.added

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is None:
            return
        try:
            self._finish(self.run_id, reason)
        except OperationalError as exc:
            # The run stays "running"; the next run of its source marks it interrupted.
            logger.error(
                "%s: the end of crawl %s is not recorded",
                storage_failure(exc, self.database_url),
                self.run_id,
            )
        finally:
            self.writer.shutdown(wait=True)
            self.engine.dispose()

    def _finish(self, run_id: int, reason: str) -> None:
        # The first crawl of a site ends with every body clean, not only the later ones.
        for site_id in sorted(self.unlearned):
            with session_scope(self.sessions) as session:
                self._relearn(session, site_id)
        with session_scope(self.sessions) as session:
            for row in record_crawl_health(session, run_id):
                for warning in row.warnings:
                    logger.warning(
                        "%s: %s; has the site changed its layout?", row.site.host, warning
                    )
        stats = self.stats.get_stats()
        errors = int(stats.get("archive/fetch_errors", 0)) + sum(
            int(value) for key, value in stats.items() if key.startswith("spider_exceptions/")
        )
        counts = {
            "pages_fetched_count": int(stats.get("archive/pages_fetched", 0)),
            "articles_new_count": int(stats.get("archive/articles_new", 0)),
            "articles_updated_count": int(stats.get("archive/articles_updated", 0)),
            "articles_unchanged_count": int(stats.get("archive/articles_unchanged", 0)),
            "error_count": errors,
        }
        kept = {
            key: value
            for key, value in stats.items()
            if isinstance(value, int | float | str) and not key.startswith("archive/")
        }
        with session_scope(self.sessions) as session:
            finish_run(
                session,
                run_id,
                finished_at=datetime.now(UTC),
                finish_reason=reason,
                counts=counts,
                stats=kept,
            )
