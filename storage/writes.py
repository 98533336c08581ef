"""Idempotent writes. Every function takes a Session first and never commits: the caller owns
the transaction (`storage.database.session_scope`)."""

from __future__ import annotations

import functools
import hashlib
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, delete, func, select, update
from sqlalchemy import insert as insert_into
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import (
    Article,
    ArticleBanner,
    ArticleBlock,
    ArticleVersion,
    Banner,
    CrawlRun,
    Fetch,
    Site,
    SiteBlock,
)
from storage.records import ArticleRecord, BannerRecord, FetchRecord

ArticleOutcome = Literal["new", "updated", "unchanged"]

# Fields an extraction produces; a re-extraction or a new fetch replaces them.
EXTRACTED_FIELDS = (
    "url",
    "title",
    "authors",
    "published_at",
    "modified_at",
    "date_source",
    "language",
    "section",
    "tags",
    "description",
    "site_name",
    "body",
    "content_hash",
    "extractor",
    "extraction_settings",
)


@dataclass(frozen=True)
class ArticleWrite:
    """What `upsert_article` did."""

    article_id: int
    outcome: ArticleOutcome


def dialect_insert(session: Session, table: Any) -> Any:
    """Return the dialect's INSERT for `table` (both have on_conflict_do_update/nothing)."""
    return _insert(session.get_bind().dialect.name, table)


def _insert(dialect: str, table: Any) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


@functools.cache
def _upsert_seen(dialect: str, model: Any, keys: tuple[str, ...], *, returning_id: bool) -> Any:
    """INSERT a `model` row, or only move its `last_seen_at` forward if `keys` already hold one;
    built once per dialect, so executing it costs no statement building or compiling."""
    insert = _insert(dialect, model)
    statement = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={"last_seen_at": _later(model.last_seen_at, insert.excluded.last_seen_at)},
    )
    return (
        statement.returning(model.id, sort_by_parameter_order=True) if returning_id else statement
    )


def _later(column: Any, value: Any) -> Any:
    """SQL for the later of `column` and `value`, on both backends."""
    return case((value > column, value), else_=column)


def upsert_site(session: Session, host: str, *, seen_at: datetime, name: str | None = None) -> int:
    """Return the id of the site `host`, adding it if it is new."""
    statement = dialect_insert(session, Site).values(host=host, name=name, first_seen_at=seen_at)
    session.execute(statement.on_conflict_do_nothing(index_elements=["host"]))
    site = session.scalars(select(Site).where(Site.host == host)).one()
    if name and not site.name:
        site.name = name
    return site.id


def record_fetch(session: Session, record: FetchRecord, *, site_id: int, run_id: int | None) -> int:
    """Store one HTTP response, its body compressed, and return its id."""
    body = record.body
    fetch = Fetch(
        run_id=run_id,
        site_id=site_id,
        url=record.url,
        final_url=record.final_url,
        status=record.status,
        content_type=record.content_type,
        fetched_at=record.fetched_at,
        page_kind=record.page_kind,
        error=record.error,
        body_size=len(body or b""),
        body_sha256=hashlib.sha256(body).hexdigest() if body is not None else None,
        body_zlib=zlib.compress(body, 6) if body is not None else None,
    )
    session.add(fetch)
    session.flush()
    return fetch.id


def fetch_body(fetch: Fetch) -> bytes | None:
    """Return the raw body of a stored fetch."""
    return zlib.decompress(fetch.body_zlib) if fetch.body_zlib is not None else None


def upsert_article(
    session: Session,
    record: ArticleRecord,
    *,
    site_id: int,
    fetch_id: int | None = None,
    learned_banners: tuple[BannerRecord, ...] = (),
) -> ArticleWrite:
    """Insert or update the article at `record.canonical_url`, with its banners.

    `record.banners` were found on the page; `learned_banners` are blocks of its raw body that
    the site repeats (crawler.learning), which replace those linked before.

    Keeps `first_seen_at`, moves `last_seen_at` forward only, and reports whether the body
    was new, changed or unchanged.
    """
    previous_hash = session.scalar(
        select(Article.content_hash).where(Article.canonical_url == record.canonical_url)
    )
    values: dict[str, Any] = {name: getattr(record, name) for name in EXTRACTED_FIELDS}
    values["raw_body"] = record.raw_body or record.body
    values["date_candidates"] = [list(candidate) for candidate in record.date_candidates]
    values["authors"] = list(record.authors)
    values["tags"] = list(record.tags)
    values.update(
        canonical_url=record.canonical_url,
        site_id=site_id,
        first_seen_at=record.fetched_at,
        last_seen_at=record.fetched_at,
        fetch_id=fetch_id,
    )
    statement = _article_upsert(session.get_bind().dialect.name)
    article_id: int = session.execute(statement, values).scalar_one()
    link_banners(session, article_id, record.banners, site_id=site_id, seen_at=record.fetched_at)
    replace_learned_banners(
        session, article_id, learned_banners, site_id=site_id, seen_at=record.fetched_at
    )
    if previous_hash is None:
        outcome: ArticleOutcome = "new"
    elif previous_hash != record.content_hash:
        outcome = "updated"
    else:
        outcome = "unchanged"
    return ArticleWrite(article_id=article_id, outcome=outcome)


@functools.cache
def _article_upsert(dialect: str) -> Any:
    """INSERT an article, or update it keeping first-seen and moving last-seen forward only."""
    insert = _insert(dialect, Article)
    changes: dict[str, Any] = {
        name: insert.excluded[name]
        for name in (*EXTRACTED_FIELDS, "raw_body", "date_candidates", "fetch_id")
    }
    changes["last_seen_at"] = _later(Article.last_seen_at, insert.excluded.last_seen_at)
    changes["first_seen_at"] = case(
        (insert.excluded.first_seen_at < Article.first_seen_at, insert.excluded.first_seen_at),
        else_=Article.first_seen_at,
    )
    return insert.on_conflict_do_update(index_elements=["canonical_url"], set_=changes).returning(
        Article.id
    )


def link_banners(
    session: Session,
    article_id: int,
    banners: tuple[BannerRecord, ...],
    *,
    site_id: int,
    seen_at: datetime,
    origin: str = "page",
) -> None:
    """Store `banners` for the site (once each) and link them to the article."""
    if not banners:
        return
    dialect = session.get_bind().dialect.name
    unique = {banner.text_hash: banner for banner in banners}
    rows = [
        {"site_id": site_id, "kind": banner.kind, "text": banner.text, "text_hash": text_hash,
         "first_seen_at": seen_at, "last_seen_at": seen_at, "page_count": 0}
        for text_hash, banner in sorted(unique.items())
    ]  # fmt: skip
    banner_ids = list(
        session.scalars(
            _upsert_seen(dialect, Banner, ("site_id", "text_hash"), returning_id=True), rows
        )
    )
    session.execute(
        _upsert_seen(dialect, ArticleBanner, ("article_id", "banner_id"), returning_id=False),
        [
            {"article_id": article_id, "banner_id": banner_id, "first_seen_at": seen_at,
             "last_seen_at": seen_at, "origin": origin}
            for banner_id in sorted(banner_ids)
        ],
    )  # fmt: skip
    _recount_banners(session, set(banner_ids))


def _recount_banners(session: Session, banner_ids: set[int]) -> None:
    _recount_pages(session, Banner, ArticleBanner.banner_id, banner_ids)


def _recount_pages(session: Session, counted: Any, link_column: Any, ids: set[int]) -> None:
    """Set `page_count` of the `counted` rows `ids` to their number of article links."""
    page_count = (
        select(func.count()).where(link_column == counted.id).correlate(counted).scalar_subquery()
    )
    session.execute(
        update(counted)
        .where(counted.id.in_(ids))
        .values(page_count=page_count)
        .execution_options(synchronize_session=False)
    )


def start_run(
    session: Session, start_urls: list[str], *, started_at: datetime, source: str | None = None
) -> int:
    """Record the start of a crawl (of a source of the sources file, or of URLs) and its id."""
    run = CrawlRun(started_at=started_at, status="running", start_urls=start_urls, source=source)
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    *,
    finished_at: datetime,
    finish_reason: str,
    counts: dict[str, int],
    stats: dict[str, Any],
) -> None:
    """Record the end of a crawl with its counts (keys: the `CrawlRun` `*_count` columns)."""
    run = session.get_one(CrawlRun, run_id)
    run.finished_at = finished_at
    run.finish_reason = finish_reason
    if finish_reason == "finished" or finish_reason.startswith("closespider_"):
        run.status = "finished"  # a page or time limit ends a run as planned
    elif finish_reason == "shutdown":
        run.status = "interrupted"
    else:
        run.status = "failed"
    for name, value in counts.items():
        setattr(run, name, value)
    run.stats = stats


def record_article_blocks(
    session: Session,
    article_id: int,
    blocks: dict[str, str],
    *,
    site_id: int,
    seen_at: datetime,
) -> None:
    """Record which blocks (hash → text) an article's body holds, and recount them per site.

    Replaces what was recorded for the article before, so a re-crawl counts nothing twice.
    """
    old_ids = set(
        session.scalars(select(ArticleBlock.block_id).where(ArticleBlock.article_id == article_id))
    )
    new_ids: set[int] = set()
    if blocks:
        # One statement, compiled once per dialect, for all the article's blocks, sorted by key
        # (no deadlock between two crawlers writing the same site's blocks).
        rows = [
            {"site_id": site_id, "block_hash": block_hash, "text": blocks[block_hash],
             "page_count": 0, "first_seen_at": seen_at, "last_seen_at": seen_at}
            for block_hash in sorted(blocks)
        ]  # fmt: skip
        statement = _upsert_seen(session.get_bind().dialect.name, SiteBlock,
                                 ("site_id", "block_hash"), returning_id=True)  # fmt: skip
        new_ids = set(session.scalars(statement, rows))
    if old_ids - new_ids:
        session.execute(
            delete(ArticleBlock).where(
                ArticleBlock.article_id == article_id, ArticleBlock.block_id.in_(old_ids - new_ids)
            )
        )
    if new_ids - old_ids:
        session.execute(
            insert_into(ArticleBlock),
            [
                {"article_id": article_id, "block_id": block_id}
                for block_id in sorted(new_ids - old_ids)
            ],
        )
    changed = old_ids ^ new_ids
    if changed:
        _recount_pages(session, SiteBlock, ArticleBlock.block_id, changed)


def set_article_body(
    session: Session,
    article_id: int,
    *,
    body: str,
    content_hash: str,
    learned_banners: tuple[BannerRecord, ...],
    site_id: int,
    seen_at: datetime,
) -> None:
    """Replace an article's cleaned body and its learned banners (its page banners stay)."""
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(body=body, content_hash=content_hash)
        .execution_options(synchronize_session=False)
    )
    replace_learned_banners(session, article_id, learned_banners, site_id=site_id, seen_at=seen_at)


def replace_learned_banners(
    session: Session,
    article_id: int,
    learned_banners: tuple[BannerRecord, ...],
    *,
    site_id: int,
    seen_at: datetime,
) -> None:
    """Make `learned_banners` the article's learned banners, and recount the ones it loses."""
    learned = select(ArticleBanner.banner_id).where(
        ArticleBanner.article_id == article_id, ArticleBanner.origin == "learned"
    )
    stale = set(session.scalars(learned))
    if stale:
        session.execute(
            delete(ArticleBanner).where(
                ArticleBanner.article_id == article_id, ArticleBanner.origin == "learned"
            )
        )
    link_banners(
        session, article_id, learned_banners, site_id=site_id, seen_at=seen_at, origin="learned"
    )
    if stale:
        _recount_banners(session, stale)


def _latest_version(session: Session, article_id: int) -> ArticleVersion | None:
    return session.scalars(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article_id)
        .order_by(ArticleVersion.version.desc())
        .limit(1)
    ).first()


def record_version(
    session: Session, article_id: int, *, title: str | None, raw_body: str, seen_at: datetime
) -> int | None:
    """Keep the page's text as a new version of the article if it differs from the latest one.

    Returns the new version's number, or None when the text is unchanged (nothing is written).
    """
    latest = _latest_version(session, article_id)
    if latest is not None and latest.raw_body == raw_body:
        return None
    number = latest.version + 1 if latest is not None else 1
    session.add(
        ArticleVersion(
            article_id=article_id, version=number, seen_at=seen_at, title=title, raw_body=raw_body
        )
    )
    session.flush()
    return number


def refresh_latest_version(
    session: Session, article_id: int, *, title: str | None, raw_body: str
) -> None:
    """Give the latest version the text a re-extraction of the same page found."""
    latest = _latest_version(session, article_id)
    if latest is not None:
        latest.title = title
        latest.raw_body = raw_body
