"""The archive's tables, as typed SQLAlchemy 2.0 models.

The schema itself changes only through Alembic revisions in `storage/migrations/versions/`;
`tests/storage/test_migrations.py` proves that models and migrations agree. Full-text search
structures (an FTS5 table on SQLite, an expression GIN index on PostgreSQL) live only in the
migrations, because SQLAlchemy cannot describe them; `storage.search` hides them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only has 64-bit INTEGER PRIMARY KEY as a rowid alias when the type is exactly INTEGER.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        float: Float(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Site(Base):
    """A web site, keyed by its host name (`www.` removed)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    first_seen_at: Mapped[datetime]
    # Evidence for the order of day and month in the site's numeric dates: how many of its
    # articles show an unambiguous day-first (30/05/2014) or month-first (05/30/2014) date.
    dayfirst_votes: Mapped[int] = mapped_column(default=0)
    monthfirst_votes: Mapped[int] = mapped_column(default=0)
    # The order its articles' dates were read with: "dmy", "mdy", or None (day first).
    date_order: Mapped[str | None] = mapped_column(String(3))


class CrawlRun(Base):
    """One crawl: what it was asked to do, when, and what it did."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # The source of the sources file this run crawled; None for `newsarchive crawl URL...`.
    source: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20))  # running, finished, failed, interrupted
    finish_reason: Mapped[str | None] = mapped_column(String(100))
    start_urls: Mapped[list[str]]
    pages_fetched_count: Mapped[int] = mapped_column(default=0)
    articles_new_count: Mapped[int] = mapped_column(default=0)
    articles_updated_count: Mapped[int] = mapped_column(default=0)
    articles_unchanged_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    stats: Mapped[dict[str, Any] | None]


class Fetch(Base):
    """One HTTP response, kept with its raw body (compressed) for later re-extraction."""

    __tablename__ = "fetches"
    __table_args__ = (Index("ix_fetches_url", "url"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str] = mapped_column(Text)
    status: Mapped[int]
    content_type: Mapped[str | None] = mapped_column(String(255))
    fetched_at: Mapped[datetime]
    page_kind: Mapped[str] = mapped_column(String(20))  # article, listing, other, error
    error: Mapped[str | None] = mapped_column(Text)
    # What an HTML page was decoded with (crawler.decoding); None for other responses.
    encoding: Mapped[str | None] = mapped_column(String(40))
    body_size: Mapped[int] = mapped_column(default=0)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    # The raw body: a Zstandard frame (storage.records.StoredBody); fetches archived before
    # migration 0012 have it zlib-compressed in body_zlib instead. storage.writes.fetch_body
    # reads either.
    body_zstd: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_zlib: Mapped[bytes | None] = mapped_column(LargeBinary)


class Article(Base):
    """One article, one row per canonical URL; the latest extraction of it."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_site_id_published_at", "site_id", "published_at"),
        Index("ix_articles_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]]
    published_at: Mapped[datetime | None]
    modified_at: Mapped[datetime | None]
    date_source: Mapped[str | None] = mapped_column(String(50))
    date_candidates: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(20))
    section: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]]
    description: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # The body as extracted from the page, before what was learned across the site was taken
    # out: re-cleaning starts from it, so the result does not depend on the order of pages.
    raw_body: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    extractor: Mapped[str] = mapped_column(String(100))
    # What produced this extraction besides the extractor's version: its options, as JSON.
    extraction_settings: Mapped[str] = mapped_column(Text, default="{}")
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    fetch_id: Mapped[int | None] = mapped_column(ForeignKey("fetches.id", ondelete="SET NULL"))

    site: Mapped[Site] = relationship(lazy="joined")
    banner_links: Mapped[list[ArticleBanner]] = relationship(
        back_populates="article", cascade="all, delete-orphan"
    )


class Banner(Base):
    """A notice, alert, ticker, cookie or newsletter box that a site shows around its articles."""

    __tablename__ = "banners"
    __table_args__ = (UniqueConstraint("site_id", "text_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    page_count: Mapped[int] = mapped_column(default=0)

    site: Mapped[Site] = relationship(lazy="joined")


class ArticleBanner(Base):
    """That an article's page showed a banner, and when that was first and last seen."""

    __tablename__ = "article_banners"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    banner_id: Mapped[int] = mapped_column(
        ForeignKey("banners.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # "page": found on the page itself; "learned": a block the site repeats on many pages.
    origin: Mapped[str] = mapped_column(String(10), default="page")

    article: Mapped[Article] = relationship(back_populates="banner_links")
    banner: Mapped[Banner] = relationship(lazy="joined")


class SiteBlock(Base):
    """A paragraph of article text, as a site repeats it: on how many of its articles it stands.

    Counted over distinct articles (canonical URLs), so a re-crawl counts nothing twice.
    """

    __tablename__ = "site_blocks"
    __table_args__ = (
        UniqueConstraint("site_id", "block_hash"),
        # Every stored article is cleaned of its site's boilerplate: read it without a scan of
        # all the site's blocks (tens of thousands on a large site).
        Index(
            "ix_site_blocks_boilerplate",
            "site_id",
            sqlite_where=text("is_boilerplate = 1"),
            postgresql_where=text("is_boilerplate"),
        ),
        # Relearning (every few articles) reads the blocks now frequent enough to be
        # boilerplate: a range of this index, not a scan of the site's blocks.
        Index("ix_site_blocks_page_count", "site_id", "page_count"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    block_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    page_count: Mapped[int] = mapped_column(default=0)
    # Whether the site's articles are currently cleaned of this block (see crawler.learning).
    is_boilerplate: Mapped[bool] = mapped_column(default=False)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class ArticleBlock(Base):
    """That an article's extracted body holds a block."""

    __tablename__ = "article_blocks"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    block_id: Mapped[int] = mapped_column(
        ForeignKey("site_blocks.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CrawlRunSite(Base):
    """The health of one site in one crawl: figures that jump when a site changes its layout."""

    __tablename__ = "crawl_run_sites"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True, index=True)
    article_count: Mapped[int]
    median_body_chars: Mapped[int]
    banner_share: Mapped[float]  # share of the pages' text taken out as banners
    dated_share: Mapped[float]  # share of the articles with a publication date
    warnings: Mapped[list[str]]

    site: Mapped[Site] = relationship(lazy="joined")


class ArticleVersion(Base):
    """An article's text as one fetch found it, kept each time the page's text changed.

    The raw body is kept (as extracted, before learned boilerplate is taken out), so that the
    history shows the text as the site's current notices are known: a version that differs
    only by a notice is folded into the one before it.
    """

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    version: Mapped[int]
    seen_at: Mapped[datetime]
    title: Mapped[str | None] = mapped_column(Text)
    raw_body: Mapped[str] = mapped_column(Text)


class SourceLease(Base):
    """Who is crawling a source now, until when: two runs of one source never overlap.

    A run renews its lease while it works; a killed run's lease expires (or its process is seen
    gone), and the next run takes the source over.
    """

    __tablename__ = "source_leases"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None]


class HttpValidator(Base):
    """The ETag and Last-Modified of a feed, sitemap or robots.txt, for conditional requests."""

    __tablename__ = "http_validators"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime]
