"""Idempotent writes. Every function takes a Session first and never commits: the caller owns
the transaction (`storage.database.session_scope`)."""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import zstandard
from sqlalchemy import Table, bindparam, case, delete, select, update
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
from storage.records import ArticleRecord, BannerRecord, FetchRecord, StoredBody

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


def _table(model: Any) -> Table:
    """The Core table of a mapped class."""
    return cast(Table, model.__table__)


def _insert(dialect: str, table: Any) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


@functools.cache
def _upsert_seen(dialect: str, model: Any, keys: tuple[str, ...], *, returning_id: bool) -> Any:
    """INSERT a `model` row, or only move its `last_seen_at` forward if `keys` already hold one;
    built once per dialect on the model's table (SQLAlchemy Core: no ORM bulk-insert machinery),
    so executing it costs no statement building or compiling."""
    table = _table(model)
    insert = _insert(dialect, table)
    statement = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={"last_seen_at": _later(table.c.last_seen_at, insert.excluded.last_seen_at)},
    )
    # RETURNING in no particular order (callers use the ids as a set): SQLAlchemy then sends
    # all the rows in one statement; ordered, it would send one statement per row on SQLite.
    return statement.returning(table.c.id) if returning_id else statement


def _run(session: Session, statement: Any, parameters: Any = None) -> Any:
    """Execute a Core statement on the session's connection (inside its transaction), past the
    ORM's statement handling: for the cached statements of the write path."""
    return session.connection().execute(statement, parameters)


def _count_move(table: Table) -> Any:
    """UPDATE the `page_count` of the rows `ids` of a counted table (banners, site blocks) by
    `by`: counts move with the links that come and go, never recounted."""
    return (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .values(page_count=table.c.page_count + bindparam("by"))
    )


def _later(column: Any, value: Any) -> Any:
    """SQL for the later of `column` and `value`, on both backends."""
    return case((value > column, value), else_=column)


def upsert_site(session: Session, host: str, *, seen_at: datetime, name: str | None = None) -> int:
    """Return the id of the site `host`, adding it if it is new."""
    dialect = session.get_bind().dialect.name
    _run(session, _site_insert(dialect), {"host": host, "name": name, "first_seen_at": seen_at})
    site_id, site_name = _run(session, _SITE_BY_HOST, {"host": host}).one()
    if name and not site_name:
        _run(session, _SITE_NAME, {"site": site_id, "site_name": name})
    return int(site_id)


@functools.cache
def _site_insert(dialect: str) -> Any:
    return _insert(dialect, _table(Site)).on_conflict_do_nothing(index_elements=["host"])


_SITES = _table(Site)
_SITE_BY_HOST = select(_SITES.c.id, _SITES.c.name).where(_SITES.c.host == bindparam("host"))
_SITE_NAME = (
    update(_SITES).where(_SITES.c.id == bindparam("site")).values(name=bindparam("site_name"))
)


def record_fetch(session: Session, record: FetchRecord, *, site_id: int, run_id: int | None) -> int:
    """Store one HTTP response, its body compressed, and return its id."""
    stored = record.stored_body
    if stored is None and record.body is not None:
        stored = StoredBody.of(record.body)
    values = {
        "run_id": run_id,
        "site_id": site_id,
        "url": record.url,
        "final_url": record.final_url,
        "status": record.status,
        "content_type": record.content_type,
        "fetched_at": record.fetched_at,
        "page_kind": record.page_kind,
        "error": record.error,
        "encoding": record.encoding,
        "body_size": stored.size if stored else 0,
        "body_sha256": stored.sha256 if stored else None,
        "body_zstd": stored.zstd if stored else None,
    }
    return int(_run(session, _FETCH_INSERT, values).scalar_one())


_FETCH_INSERT = insert_into(_table(Fetch)).returning(_table(Fetch).c.id)


def fetch_body(fetch: Fetch) -> bytes | None:
    """Return the raw body of a stored fetch (Zstandard, or zlib for those stored before
    migration 0012)."""
    if fetch.body_zstd is not None:
        return zstandard.decompress(fetch.body_zstd)
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
    previous_hash = _run(session, _ARTICLE_HASH, {"url": record.canonical_url}).scalar()
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
    article_id = int(_run(session, statement, values).scalar_one())
    link_banners(session, article_id, record.banners, site_id=site_id, seen_at=record.fetched_at)
    replace_learned_banners(
        session,
        article_id,
        learned_banners,
        site_id=site_id,
        seen_at=record.fetched_at,
        is_new=previous_hash is None,
    )
    if previous_hash is None:
        outcome: ArticleOutcome = "new"
    elif previous_hash != record.content_hash:
        outcome = "updated"
    else:
        outcome = "unchanged"
    return ArticleWrite(article_id=article_id, outcome=outcome)


_ARTICLES = _table(Article)
_ARTICLE_HASH = select(_ARTICLES.c.content_hash).where(
    _ARTICLES.c.canonical_url == bindparam("url")
)


@functools.cache
def _article_upsert(dialect: str) -> Any:
    """INSERT an article, or update it keeping first-seen and moving last-seen forward only."""
    insert = _insert(dialect, _ARTICLES)
    changes: dict[str, Any] = {
        name: insert.excluded[name]
        for name in (*EXTRACTED_FIELDS, "raw_body", "date_candidates", "fetch_id")
    }
    changes["last_seen_at"] = _later(_ARTICLES.c.last_seen_at, insert.excluded.last_seen_at)
    changes["first_seen_at"] = case(
        (
            insert.excluded.first_seen_at < _ARTICLES.c.first_seen_at,
            insert.excluded.first_seen_at,
        ),
        else_=_ARTICLES.c.first_seen_at,
    )
    return insert.on_conflict_do_update(index_elements=["canonical_url"], set_=changes).returning(
        _ARTICLES.c.id
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
    """Store `banners` for the site (once each) and link them to the article.

    A banner's `page_count` moves by one for each article newly linked to it, in SQL: never
    recounted, since a notice on every page of a site of a million articles would cost a count
    of a million links for each page stored.
    """
    if not banners:
        return
    dialect = session.get_bind().dialect.name
    unique = {banner.text_hash: banner for banner in banners}
    rows = [
        {"site_id": site_id, "kind": banner.kind, "text": banner.text, "text_hash": text_hash,
         "first_seen_at": seen_at, "last_seen_at": seen_at, "page_count": 0}
        for text_hash, banner in sorted(unique.items())
    ]  # fmt: skip
    upsert = _upsert_seen(dialect, Banner, ("site_id", "text_hash"), returning_id=True)
    banner_ids = sorted(_run(session, upsert, rows).scalars())
    links = [
        {"article_id": article_id, "banner_id": banner_id, "first_seen_at": seen_at,
         "last_seen_at": seen_at, "origin": origin}
        for banner_id in banner_ids
    ]  # fmt: skip
    # Only the new links come back: a link the article has is left as it is...
    added = set(_run(session, _link_banners(dialect), links).scalars())
    if added:
        _run(session, _BANNER_COUNT_MOVE, {"ids": sorted(added), "by": 1})
    if len(added) < len(banner_ids):  # ...but for its last sighting
        kept = sorted(set(banner_ids) - added)
        _run(session, _ARTICLE_BANNERS_SEEN, {"article": article_id, "ids": kept,
                                              "seen_at": seen_at})  # fmt: skip


_BANNERS, _ARTICLE_BANNERS = _table(Banner), _table(ArticleBanner)
_BANNER_COUNT_MOVE = _count_move(_BANNERS)
_ARTICLE_BANNERS_SEEN = (
    update(_ARTICLE_BANNERS)
    .where(
        _ARTICLE_BANNERS.c.article_id == bindparam("article"),
        _ARTICLE_BANNERS.c.banner_id.in_(bindparam("ids", expanding=True)),
    )
    .values(last_seen_at=_later(_ARTICLE_BANNERS.c.last_seen_at, bindparam("seen_at")))
)


@functools.cache
def _link_banners(dialect: str) -> Any:
    """INSERT an article's banner links, skipping those it has; RETURNING the new ones."""
    insert = _insert(dialect, _ARTICLE_BANNERS)
    return insert.on_conflict_do_nothing(index_elements=["article_id", "banner_id"]).returning(
        _ARTICLE_BANNERS.c.banner_id
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
    is_new: bool = False,
) -> None:
    """Record which blocks (hash → text) an article's body holds, and count them per site.

    Replaces what was recorded for the article before, so a re-crawl counts nothing twice;
    `is_new` (the article was just inserted: it has no blocks yet) saves looking them up.
    A block's `page_count` moves by one for each article that gains or loses it, in SQL, so two
    crawlers writing the same site's blocks at once count both.
    """
    # All the article's blocks in one statement, compiled once per dialect, sorted by key (no
    # deadlock between two crawlers writing the same site's blocks).
    rows = [
        {"site_id": site_id, "block_hash": block_hash, "text": blocks[block_hash],
         "page_count": int(is_new), "first_seen_at": seen_at, "last_seen_at": seen_at}
        for block_hash in sorted(blocks)
    ]  # fmt: skip
    dialect = session.get_bind().dialect.name
    if is_new:  # it gains all its blocks, and the upsert counts them
        counted = _run(session, _upsert_counted_block(dialect), rows).scalars() if rows else []
        gone, added = [], sorted(counted)
    else:
        old_ids = set(_run(session, _ARTICLE_BLOCK_IDS, {"article_id": article_id}).scalars())
        upsert = _upsert_seen(dialect, SiteBlock, ("site_id", "block_hash"), returning_id=True)
        new_ids = set(_run(session, upsert, rows).scalars()) if rows else set()
        gone, added = sorted(old_ids - new_ids), sorted(new_ids - old_ids)
    if gone:
        _run(session, _ARTICLE_BLOCKS_DELETE, {"article_id": article_id, "ids": gone})
        _run(session, _BLOCK_COUNT_MOVE, {"ids": gone, "by": -1})
    if added:
        _run(
            session,
            _ARTICLE_BLOCK_INSERT,
            [{"article_id": article_id, "block_id": block_id} for block_id in added],
        )
        if not is_new:
            _run(session, _BLOCK_COUNT_MOVE, {"ids": added, "by": 1})


_ARTICLE_BLOCKS = _table(ArticleBlock)
_SITE_BLOCKS = _table(SiteBlock)
_ARTICLE_BLOCK_INSERT = insert_into(_ARTICLE_BLOCKS)


@functools.cache
def _upsert_counted_block(dialect: str) -> Any:
    """INSERT a site's block counted once, or count it once more and move its `last_seen_at`
    forward: for the blocks of an article new to the archive."""
    insert = _insert(dialect, _SITE_BLOCKS)
    return insert.on_conflict_do_update(
        index_elements=["site_id", "block_hash"],
        set_={
            "last_seen_at": _later(_SITE_BLOCKS.c.last_seen_at, insert.excluded.last_seen_at),
            "page_count": _SITE_BLOCKS.c.page_count + 1,
        },
    ).returning(_SITE_BLOCKS.c.id)


_ARTICLE_BLOCK_IDS = select(_ARTICLE_BLOCKS.c.block_id).where(
    _ARTICLE_BLOCKS.c.article_id == bindparam("article_id")
)
_ARTICLE_BLOCKS_DELETE = delete(_ARTICLE_BLOCKS).where(
    _ARTICLE_BLOCKS.c.article_id == bindparam("article_id"),
    _ARTICLE_BLOCKS.c.block_id.in_(bindparam("ids", expanding=True)),
)
_BLOCK_COUNT_MOVE = _count_move(_SITE_BLOCKS)


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
    is_new: bool = False,
) -> None:
    """Make `learned_banners` the article's learned banners, and recount the ones it loses
    (`is_new`: the article was just inserted and has none yet)."""
    stale = (
        set()
        if is_new
        else set(_run(session, _LEARNED_BANNER_IDS, {"article_id": article_id}).scalars())
    )
    if stale:  # unlinked, and linked again below if still learned (counted -1, then +1)
        _run(session, _LEARNED_BANNERS_DELETE, {"article_id": article_id})
        _run(session, _BANNER_COUNT_MOVE, {"ids": sorted(stale), "by": -1})
    link_banners(
        session, article_id, learned_banners, site_id=site_id, seen_at=seen_at, origin="learned"
    )


_LEARNED_BANNER_IDS = select(_ARTICLE_BANNERS.c.banner_id).where(
    _ARTICLE_BANNERS.c.article_id == bindparam("article_id"),
    _ARTICLE_BANNERS.c.origin == "learned",
)
_LEARNED_BANNERS_DELETE = delete(_ARTICLE_BANNERS).where(
    _ARTICLE_BANNERS.c.article_id == bindparam("article_id"),
    _ARTICLE_BANNERS.c.origin == "learned",
)


_VERSIONS = _table(ArticleVersion)
_LATEST_VERSION = (
    select(_VERSIONS.c.id, _VERSIONS.c.version, _VERSIONS.c.raw_body)
    .where(_VERSIONS.c.article_id == bindparam("article_id"))
    .order_by(_VERSIONS.c.version.desc())
    .limit(1)
)
_VERSION_INSERT = insert_into(_VERSIONS)
_VERSION_TEXT = (
    update(_VERSIONS)
    .where(_VERSIONS.c.id == bindparam("version_id"))
    .values(title=bindparam("new_title"), raw_body=bindparam("new_raw_body"))
)


def record_version(
    session: Session,
    article_id: int,
    *,
    title: str | None,
    raw_body: str,
    seen_at: datetime,
    is_new: bool = False,
) -> int | None:
    """Keep the page's text as a new version of the article if it differs from the latest one
    (`is_new`: the article was just inserted and has no version yet).

    Returns the new version's number, or None when the text is unchanged (nothing is written).
    """
    latest = None if is_new else _run(session, _LATEST_VERSION, {"article_id": article_id}).first()
    if latest is not None and latest.raw_body == raw_body:
        return None
    number = latest.version + 1 if latest is not None else 1
    _run(
        session,
        _VERSION_INSERT,
        {"article_id": article_id, "version": number, "seen_at": seen_at, "title": title,
         "raw_body": raw_body},
    )  # fmt: skip
    return int(number)


def refresh_latest_version(
    session: Session, article_id: int, *, title: str | None, raw_body: str
) -> None:
    """Give the latest version the text a re-extraction of the same page found."""
    latest = _run(session, _LATEST_VERSION, {"article_id": article_id}).first()
    if latest is not None:
        _run(
            session,
            _VERSION_TEXT,
            {"version_id": latest.id, "new_title": title, "new_raw_body": raw_body},
        )
