"""Read-only queries. Each takes a Session first and returns ORM objects or frozen dataclasses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    Article,
    ArticleBanner,
    ArticleBlock,
    ArticleVersion,
    Banner,
    CrawlRun,
    CrawlRunSite,
    Fetch,
    Site,
    SiteBlock,
)

SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, kw_only=True)
class ArticleFilter:
    """Which articles a query or an export covers; every field narrows it."""

    site: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, statement: SelectT) -> SelectT:
        """Return `statement` (which selects from articles) narrowed by this filter."""
        if self.site:
            host = self.site.lower().removeprefix("www.")
            statement = statement.where(
                Article.site_id.in_(select(Site.id).where(Site.host == host))
            )
        if self.since:
            statement = statement.where(Article.published_at >= self.since)
        if self.until:
            statement = statement.where(Article.published_at < self.until)
        return statement


@dataclass(frozen=True, kw_only=True)
class ArchiveStats:
    """Counts of what the archive holds, and its last crawl."""

    article_count: int
    site_count: int
    banner_count: int
    fetch_count: int
    last_run: CrawlRun | None


def article_by_id(session: Session, article_id: int) -> Article | None:
    """Return the article with `article_id`, with its banners loaded."""
    return session.scalars(
        select(Article).where(Article.id == article_id).options(_with_banners())
    ).first()


def article_by_url(session: Session, canonical_url: str) -> Article | None:
    """Return the article stored under `canonical_url`, with its banners loaded."""
    return session.scalars(
        select(Article).where(Article.canonical_url == canonical_url).options(_with_banners())
    ).first()


def article_by_fetched_url(session: Session, url: str) -> Article | None:
    """Return the article whose last fetch was requested at or redirected to `url`."""
    return session.scalars(
        select(Article)
        .where(
            (Article.url == url) | Article.fetch_id.in_(select(Fetch.id).where(Fetch.url == url))
        )
        .options(_with_banners())
    ).first()


def iter_articles(
    session: Session, article_filter: ArticleFilter, *, batch_size: int = 500
) -> Iterator[Article]:
    """Yield matching articles in id order, with banners, a batch at a time (for exports)."""
    last_id = 0
    while True:
        statement = (
            article_filter.apply(select(Article))
            .where(Article.id > last_id)
            .order_by(Article.id)
            .limit(batch_size)
            .options(_with_banners())
        )
        batch = session.scalars(statement).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id
        session.expunge_all()


def article_banners(article: Article) -> list[Banner]:
    """Return the banners an article's page showed, in a stable order."""
    return sorted((link.banner for link in article.banner_links), key=lambda b: (b.kind, b.id))


def archive_stats(session: Session) -> ArchiveStats:
    """Return counts of articles, sites, banners and fetches, and the latest crawl run."""
    return ArchiveStats(
        article_count=session.scalar(select(func.count()).select_from(Article)) or 0,
        site_count=session.scalar(select(func.count()).select_from(Site)) or 0,
        banner_count=session.scalar(select(func.count()).select_from(Banner)) or 0,
        fetch_count=session.scalar(select(func.count()).select_from(Fetch)) or 0,
        last_run=session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(1)).first(),
    )


def crawl_run(session: Session, run_id: int) -> CrawlRun | None:
    """Return the crawl run `run_id`."""
    return session.get(CrawlRun, run_id)


def _with_banners() -> Any:
    return selectinload(Article.banner_links).joinedload(ArticleBanner.banner)


def site_article_count(session: Session, site_id: int) -> int:
    """Return how many articles of a site the archive holds."""
    return session.scalar(select(func.count()).where(Article.site_id == site_id)) or 0


def boilerplate_hashes(session: Session, site_id: int) -> set[str]:
    """Return the blocks the site's articles are currently cleaned of."""
    return set(session.connection().execute(_BOILERPLATE, {"site_id": site_id}).scalars())


_SITE_BLOCKS = SiteBlock.__table__
# `= true`, not `IS true`: what lets the partial index ix_site_blocks_boilerplate serve.
_BOILERPLATE = select(_SITE_BLOCKS.c.block_hash).where(
    _SITE_BLOCKS.c.site_id == bindparam("site_id"),
    _SITE_BLOCKS.c.is_boilerplate == True,  # noqa: E712
)


def blocks_to_flip(session: Session, site_id: int, threshold: int) -> list[SiteBlock]:
    """Return the site's blocks whose boilerplate flag disagrees with `threshold` pages.

    Read from two indexes, the blocks now frequent (ix_site_blocks_page_count) and the
    boilerplate ones (ix_site_blocks_boilerplate: a few), never by a scan of all the site's
    blocks: a site has one for each distinct paragraph of its articles, and this runs every
    few articles of a crawl.
    """
    now_frequent = session.scalars(
        select(SiteBlock)
        .where(
            SiteBlock.site_id == site_id,
            SiteBlock.page_count >= threshold,
            SiteBlock.is_boilerplate == False,  # noqa: E712
        )
        .execution_options(populate_existing=True)  # counts are written by Core statements
    )
    # The boilerplate ones below the threshold: filtered here, since `page_count <` in SQL
    # would lead SQLite to read nearly all the site's blocks by ix_site_blocks_page_count.
    boilerplate = session.scalars(
        select(SiteBlock)
        .where(
            SiteBlock.site_id == site_id,
            SiteBlock.is_boilerplate == True,  # noqa: E712  (`= true`: the partial index serves)
        )
        .execution_options(populate_existing=True)
    )
    no_longer_frequent = [block for block in boilerplate if block.page_count < threshold]
    return sorted([*now_frequent, *no_longer_frequent], key=lambda block: block.id)


# Articles are read this many at a time where a whole site's may be read: memory stays the
# same whatever the size of the site. Those streams refresh articles the session already
# holds (`populate_existing`): the crawl writes articles with Core statements, and one
# transaction may store many pages (crawler.pipelines).
STREAM_CHUNK = 200


def articles_with_blocks(session: Session, block_ids: list[int]) -> Iterator[Article]:
    """Yield the articles whose bodies hold any of these blocks, in id order, a chunk at a time
    (a block that becomes boilerplate may be in every article of a large site)."""
    if not block_ids:
        return
    ids = select(ArticleBlock.article_id).where(ArticleBlock.block_id.in_(block_ids))
    yield from session.scalars(
        select(Article).where(Article.id.in_(ids)).order_by(Article.id)
        .execution_options(yield_per=STREAM_CHUNK, populate_existing=True)
    )  # fmt: skip


def site_banners(session: Session, site: str | None = None) -> list[Banner]:
    """Return the banners of every site (or of one), each site's most widespread first."""
    statement = select(Banner).join(Site, Site.id == Banner.site_id)
    if site:
        statement = statement.where(Site.host == site.lower().removeprefix("www."))
    return list(session.scalars(statement.order_by(Site.host, Banner.page_count.desc(), Banner.id)))


def site_articles(session: Session, site_id: int) -> Iterator[Article]:
    """Yield every article of a site, in id order, a chunk at a time."""
    yield from session.scalars(
        select(Article).where(Article.site_id == site_id).order_by(Article.id)
        .execution_options(yield_per=STREAM_CHUNK, populate_existing=True)
    )  # fmt: skip


def article_ids(session: Session, article_filter: ArticleFilter) -> list[int]:
    """Return the ids of the matching articles, in id order."""
    return list(session.scalars(article_filter.apply(select(Article.id)).order_by(Article.id)))


def latest_fetch(session: Session, article: Article) -> Fetch | None:
    """Return the stored response an article was last extracted from, with its body."""
    if article.fetch_id is not None:
        fetch = session.get(Fetch, article.fetch_id)
        if fetch is not None and (fetch.body_zstd is not None or fetch.body_zlib is not None):
            return fetch
    return session.scalars(
        select(Fetch)
        .where((Fetch.final_url == article.url) | (Fetch.url == article.url))
        .where(Fetch.body_zstd.is_not(None) | Fetch.body_zlib.is_not(None), Fetch.status < 400)
        .order_by(Fetch.fetched_at.desc(), Fetch.id.desc())
        .limit(1)
    ).first()


def page_banner_texts(article: Article) -> set[str]:
    """Return the texts of the banners found on the article's page itself (not learned)."""
    return {link.banner.text for link in article.banner_links if link.origin == "page"}


def run_article_sizes(session: Session, run_id: int) -> Iterator[tuple[int, int, int, int, bool]]:
    """Yield, for each article a crawl run stored (last fetched by it), in id order: its site,
    the characters of its body, of its raw body and of the page banners linked to it, and
    whether it has a publication date. Computed by the database: no article is loaded, so a
    run of any size is measured in the same memory."""
    fetched = select(Fetch.id).where(Fetch.run_id == run_id)
    page_banner_chars = (
        select(func.coalesce(func.sum(func.length(Banner.text)), 0))
        .join(ArticleBanner, ArticleBanner.banner_id == Banner.id)
        .where(ArticleBanner.article_id == Article.id, ArticleBanner.origin == "page")
        .correlate(Article)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Article.site_id,
            func.length(Article.body),
            func.length(func.coalesce(func.nullif(Article.raw_body, ""), Article.body)),
            page_banner_chars,
            Article.published_at.is_not(None),
        )
        .where(Article.fetch_id.in_(fetched))
        .order_by(Article.id)
        .execution_options(yield_per=STREAM_CHUNK)
    )
    for site_id, body, raw_body, banners, is_dated in rows:
        yield int(site_id), int(body), int(raw_body), int(banners), bool(is_dated)


def previous_run_health(session: Session, site_id: int, run_id: int) -> CrawlRunSite | None:
    """Return a site's health in the latest crawl before `run_id` that stored its articles."""
    return session.scalars(
        select(CrawlRunSite)
        .where(CrawlRunSite.site_id == site_id, CrawlRunSite.run_id < run_id)
        .order_by(CrawlRunSite.run_id.desc())
        .limit(1)
    ).first()


def run_health(session: Session, run_id: int) -> list[CrawlRunSite]:
    """Return the health of each site of a crawl run."""
    return list(
        session.scalars(
            select(CrawlRunSite).where(CrawlRunSite.run_id == run_id).order_by(CrawlRunSite.site_id)
        )
    )


def article_versions(session: Session, article_id: int) -> list[ArticleVersion]:
    """Return an article's versions, oldest first."""
    return list(
        session.scalars(
            select(ArticleVersion)
            .where(ArticleVersion.article_id == article_id)
            .order_by(ArticleVersion.version)
        )
    )


@dataclass(frozen=True, kw_only=True)
class ErrorCount:
    """How many fetches of a run failed one way."""

    kind: str
    count: int


def run_errors_by_kind(session: Session, run_id: int) -> list[ErrorCount]:
    """Return a run's failed fetches counted by kind: `HTTP 404`, `TimeoutError`, ..."""
    failed = session.execute(
        select(Fetch.status, Fetch.error).where(
            Fetch.run_id == run_id, (Fetch.status == 0) | (Fetch.status >= 400)
        )
    ).all()
    counts: dict[str, int] = {}
    for status, error in failed:
        kind = f"HTTP {status}" if status else (error or "error").split(":", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    return [
        ErrorCount(kind=k, count=v) for k, v in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
    ]


def recent_runs(session: Session, limit: int = 20, *, source: str | None = None) -> list[CrawlRun]:
    """Return the latest crawl runs (of one source, if given), newest first."""
    statement = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
    if source is not None:
        statement = statement.where(CrawlRun.source == source)
    return list(session.scalars(statement))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RetryBackoff:
    """When a page that keeps failing is asked for again: `first` after its first failure,
    twice as long after each further one, and no more after `attempts` failures in a row."""

    first: timedelta = timedelta(minutes=30)
    attempts: int = 5

    def due(self, failures: int, last_failed_at: datetime, now: datetime) -> bool:
        if failures >= self.attempts:
            return False
        return bool(last_failed_at + self.first * 2 ** (failures - 1) <= now)


def failed_urls(
    session: Session,
    hosts: list[str],
    *,
    since: datetime,
    now: datetime | None = None,
    backoff: RetryBackoff | None = None,
    limit: int = 1000,
) -> list[str]:
    """Return the URLs of the sites `hosts` whose last fetch since `since` failed for a reason
    that may pass (no response, 429, 5xx): what the next crawl should ask for again. With
    `now`, only those whose backoff (`RetryBackoff`, by failures in a row) has passed."""
    site_ids = select(Site.id).where(Site.host.in_([h.lower().removeprefix("www.") for h in hosts]))
    failed = Fetch.__table__.alias("failed")
    succeeded = Fetch.__table__.alias("succeeded")
    statement = (
        select(failed.c.url, func.count(), func.max(failed.c.fetched_at))
        .where(
            failed.c.site_id.in_(site_ids),
            failed.c.fetched_at >= since,
            (failed.c.status == 0) | (failed.c.status == 429) | (failed.c.status >= 500),
            ~select(succeeded.c.id)
            .where(
                succeeded.c.url == failed.c.url,
                succeeded.c.status.between(200, 399),
                succeeded.c.fetched_at > failed.c.fetched_at,
            )
            .exists(),
        )
        .group_by(failed.c.url)
        .order_by(failed.c.url)
    )
    backoff = backoff or RetryBackoff()
    urls = [
        url
        for url, failures, last_failed_at in session.execute(statement)
        if now is None
        or backoff.due(
            failures,
            last_failed_at if last_failed_at.tzinfo else last_failed_at.replace(tzinfo=UTC),
            now,
        )
    ]
    return urls[:limit]
