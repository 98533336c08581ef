"""Idempotent writes. Every function takes a Session first and never commits: the caller owns
the transaction (`storage.database.session_scope`)."""

from __future__ import annotations

import functools
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
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
def _upsert_seen(dialect: str, model: Any, keys: tuple[str, ...]) -> Any:
    """INSERT a `model` row, or only move its `last_seen_at` forward if `keys` already hold one;
    built once per dialect on the model's table (SQLAlchemy Core: no ORM bulk-insert machinery),
    so executing it costs no statement building or compiling."""
    table = _table(model)
    insert = _insert(dialect, table)
    statement = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={"last_seen_at": _later(table.c.last_seen_at, insert.excluded.last_seen_at)},
    )
    # RETURNING in no particular order, with the keys (callers map the ids by them): SQLAlchemy
    # then sends all the rows in one statement; ordered, it would send one per row on SQLite.
    return statement.returning(table.c.id, *(table.c[key] for key in keys))


def _run(session: Session, statement: Any, parameters: Any = None) -> Any:
    """Execute a Core statement on the session's connection (inside its transaction), past the
    ORM's statement handling: for the cached statements of the write path."""
    return session.connection().execute(statement, parameters)


def _sighted(
    rows: dict[tuple[int, str], dict[str, Any]], row: dict[str, Any], key: str
) -> dict[str, Any]:
    """The row of `rows` for the site and `key` of `row`: `row` itself at its first sighting,
    else the one held, its first and last sightings widened to `row`'s."""
    held = rows.setdefault((row["site_id"], row[key]), row)
    if held is not row:
        held["first_seen_at"] = min(held["first_seen_at"], row["first_seen_at"])
        held["last_seen_at"] = max(held["last_seen_at"], row["last_seen_at"])
    return held


def _upsert_keyed(
    session: Session, statement: Any, rows: dict[tuple[int, str], dict[str, Any]]
) -> dict[tuple[int, str], int]:
    """Run an upsert RETURNING (id, site id, key) of `rows`; return the ids by (site, key).
    Sorted by key: two crawlers writing one site's rows lock them in the same order."""
    returned = _run(session, statement, [rows[key] for key in sorted(rows)])
    return {(site_id, key): int(row_id) for row_id, site_id, key in returned}


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
    return record_fetches(session, [(record, site_id)], run_id=run_id)[0]


def record_fetches(
    session: Session, fetches: Sequence[tuple[FetchRecord, int]], *, run_id: int | None
) -> list[int]:
    """Store HTTP responses (each with its site's id), bodies compressed, in one statement;
    return their ids in the same order."""
    rows = [_fetch_values(record, site_id, run_id) for record, site_id in fetches]
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    ids = [int(fetch_id) for fetch_id in _run(session, _fetch_insert(dialect), rows).scalars()]
    # SQLite gives the rows of one INSERT rowids one above the largest in the table, in the
    # order of its VALUES, but returns them in no promised order: sorted, they are in order.
    return sorted(ids) if dialect == "sqlite" else ids


def _fetch_values(record: FetchRecord, site_id: int, run_id: int | None) -> dict[str, Any]:
    stored = record.stored_body
    if stored is None and record.body is not None:
        stored = StoredBody.of(record.body)
    return {
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


@functools.cache
def _fetch_insert(dialect: str) -> Any:
    """INSERT fetches RETURNING their ids, in one statement: on PostgreSQL in the order of the
    rows (SQLAlchemy numbers them); SQLAlchemy would send SQLite's one row at a time for that
    order, which `record_fetches` gets from the ids themselves instead."""
    fetches = _table(Fetch)
    return insert_into(fetches).returning(fetches.c.id, sort_by_parameter_order=dialect != "sqlite")


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
    values = _article_values(record, site_id=site_id, fetch_id=fetch_id)
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


def _article_values(record: ArticleRecord, *, site_id: int, fetch_id: int | None) -> dict[str, Any]:
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
    return values


def archived_urls(session: Session, urls: Sequence[str]) -> set[str]:
    """Return those of the canonical `urls` the archive has an article at."""
    if not urls:
        return set()
    return set(_run(session, _ARCHIVED_URLS, {"urls": sorted(set(urls))}).scalars())


@dataclass(frozen=True, kw_only=True)
class NewArticle:
    """An article the archive does not have yet, as `insert_new_articles` stores it: `record`
    cleaned of its site's boilerplate (`record.raw_body` the body as extracted), the notices
    among those blocks, and the blocks of the raw body (hash → text)."""

    record: ArticleRecord
    site_id: int
    fetch_id: int | None
    learned_banners: tuple[BannerRecord, ...]
    blocks: dict[str, str]


def insert_new_articles(session: Session, articles: Sequence[NewArticle]) -> list[int]:
    """Store articles new to the archive (distinct canonical URLs) with their banners, first
    versions and blocks, one statement per table for all of them; return their ids in order.

    What `upsert_article`, `record_version` and `record_article_blocks` do for one new
    article, for a crawl's batch of them (fifty statements become one: on PostgreSQL each is a
    round trip to the server)."""
    if not articles:
        return []
    dialect = session.get_bind().dialect.name
    rows = [
        _article_values(new.record, site_id=new.site_id, fetch_id=new.fetch_id) for new in articles
    ]
    returned = _run(session, _article_upsert(dialect), rows)
    ids = {url: int(article_id) for article_id, url in returned}
    article_ids = [ids[new.record.canonical_url] for new in articles]
    page, learned, versions, blocks = [], [], [], []
    for article_id, new in zip(article_ids, articles, strict=True):
        record, seen_at = new.record, new.record.fetched_at
        page.append(BannerLinks(article_id, record.banners, new.site_id, seen_at))
        learned.append(
            BannerLinks(article_id, new.learned_banners, new.site_id, seen_at, "learned")
        )
        raw_body = record.raw_body or record.body
        versions.append({"article_id": article_id, "version": 1, "seen_at": seen_at,
                         "title": record.title, "raw_body": raw_body})  # fmt: skip
        blocks.append(NewBlocks(article_id, new.blocks, new.site_id, seen_at))
    link_banners_many(session, [*page, *learned])  # a page's own link first, as one by one
    _run(session, _VERSION_INSERT, versions)
    record_new_article_blocks(session, blocks)
    return article_ids


_ARTICLES = _table(Article)
_ARTICLE_HASH = select(_ARTICLES.c.content_hash).where(
    _ARTICLES.c.canonical_url == bindparam("url")
)
_ARCHIVED_URLS = select(_ARTICLES.c.canonical_url).where(
    _ARTICLES.c.canonical_url.in_(bindparam("urls", expanding=True))
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
        _ARTICLES.c.id, _ARTICLES.c.canonical_url
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
    link_banners_many(session, [BannerLinks(article_id, banners, site_id, seen_at, origin)])


@dataclass(frozen=True)
class BannerLinks:
    """Banners to link to an article: what one page showed (or its learned notices)."""

    article_id: int
    banners: tuple[BannerRecord, ...]
    site_id: int
    seen_at: datetime
    origin: str = "page"


def link_banners_many(session: Session, wanted: Sequence[BannerLinks]) -> None:
    """Store the banners for their sites (once each) and link them to their articles, one
    statement per table for all of them. A link an article has already is left as it is but
    for its last sighting; of two links of one article to one banner the first is made.

    A banner's `page_count` moves by one for each article newly linked to it, in SQL: never
    recounted, since a notice on every page of a site of a million articles would cost a count
    of a million links for each page stored.
    """
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for links in wanted:
        for banner in links.banners:
            row = {"site_id": links.site_id, "kind": banner.kind, "text": banner.text,
                   "text_hash": banner.text_hash, "first_seen_at": links.seen_at,
                   "last_seen_at": links.seen_at, "page_count": 0}  # fmt: skip
            _sighted(rows, row, "text_hash")
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    upsert = _upsert_seen(dialect, Banner, ("site_id", "text_hash"))
    banner_ids = _upsert_keyed(session, upsert, rows)
    links_by_key: dict[tuple[int, int], dict[str, Any]] = {}
    for links in wanted:
        for banner in links.banners:
            banner_id = banner_ids[links.site_id, banner.text_hash]
            links_by_key.setdefault(
                (links.article_id, banner_id),
                {"article_id": links.article_id, "banner_id": banner_id,
                 "first_seen_at": links.seen_at, "last_seen_at": links.seen_at,
                 "origin": links.origin},
            )  # fmt: skip
    # Only the new links come back: a link the article has is left as it is...
    added = {
        (int(article_id), int(banner_id))
        for article_id, banner_id in _run(
            session, _link_banners(dialect), [links_by_key[key] for key in sorted(links_by_key)]
        )
    }
    _move_counts(session, _BANNER_COUNT_MOVE, Counter(banner_id for _, banner_id in added))
    kept: defaultdict[tuple[int, datetime], list[int]] = defaultdict(list)
    for (article_id, banner_id), link in sorted(links_by_key.items()):
        if (article_id, banner_id) not in added:  # ...but for its last sighting
            kept[article_id, link["last_seen_at"]].append(banner_id)
    for (article_id, seen_at), ids in kept.items():
        _run(session, _ARTICLE_BANNERS_SEEN, {"article": article_id, "ids": ids,
                                              "seen_at": seen_at})  # fmt: skip


def _move_counts(session: Session, statement: Any, moves: Counter[int]) -> None:
    """Move each row's `page_count` by its number in `moves` (row id → by): one statement for
    each distinct number."""
    by_amount: defaultdict[int, list[int]] = defaultdict(list)
    for row_id, amount in sorted(moves.items()):
        if amount:
            by_amount[amount].append(row_id)
    for amount, ids in sorted(by_amount.items()):
        _run(session, statement, {"ids": ids, "by": amount})


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
        _ARTICLE_BANNERS.c.article_id, _ARTICLE_BANNERS.c.banner_id
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
    if is_new:  # it gains all its blocks, and the upsert counts them
        record_new_article_blocks(session, [NewBlocks(article_id, blocks, site_id, seen_at)])
        return
    # All the article's blocks in one statement, compiled once per dialect, sorted by key (no
    # deadlock between two crawlers writing the same site's blocks).
    rows = [
        {"site_id": site_id, "block_hash": block_hash, "text": blocks[block_hash],
         "page_count": 0, "first_seen_at": seen_at, "last_seen_at": seen_at}
        for block_hash in sorted(blocks)
    ]  # fmt: skip
    dialect = session.get_bind().dialect.name
    old_ids = set(_run(session, _ARTICLE_BLOCK_IDS, {"article_id": article_id}).scalars())
    upsert = _upsert_seen(dialect, SiteBlock, ("site_id", "block_hash"))
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
        _run(session, _BLOCK_COUNT_MOVE, {"ids": added, "by": 1})


@dataclass(frozen=True)
class NewBlocks:
    """The blocks (hash → text) of an article that has none recorded yet."""

    article_id: int
    blocks: dict[str, str]
    site_id: int
    seen_at: datetime


def record_new_article_blocks(session: Session, articles: Sequence[NewBlocks]) -> None:
    """Record the blocks of articles that have none yet, counting each block once for each of
    them: one statement for the site blocks (a block several of them share counted by as many)
    and one for the links."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for new in articles:
        for block_hash, text in new.blocks.items():
            row = {"site_id": new.site_id, "block_hash": block_hash, "text": text, "page_count": 0,
                   "first_seen_at": new.seen_at, "last_seen_at": new.seen_at}  # fmt: skip
            _sighted(rows, row, "block_hash")["page_count"] += 1
    if not rows:
        return
    block_ids = _upsert_keyed(session, _upsert_counted_block(session.get_bind().dialect.name), rows)
    links = sorted(
        (new.article_id, block_ids[new.site_id, block_hash])
        for new in articles
        for block_hash in new.blocks
    )
    _run(
        session,
        _ARTICLE_BLOCK_INSERT,
        [{"article_id": article_id, "block_id": block_id} for article_id, block_id in links],
    )


_ARTICLE_BLOCKS = _table(ArticleBlock)
_SITE_BLOCKS = _table(SiteBlock)
_ARTICLE_BLOCK_INSERT = insert_into(_ARTICLE_BLOCKS)


@functools.cache
def _upsert_counted_block(dialect: str) -> Any:
    """INSERT a site's block counted by the new articles that hold it (`page_count`), or count
    it by as many more and move its `last_seen_at` forward: for the blocks of articles new to
    the archive."""
    insert = _insert(dialect, _SITE_BLOCKS)
    return insert.on_conflict_do_update(
        index_elements=["site_id", "block_hash"],
        set_={
            "last_seen_at": _later(_SITE_BLOCKS.c.last_seen_at, insert.excluded.last_seen_at),
            "page_count": _SITE_BLOCKS.c.page_count + insert.excluded.page_count,
        },
    ).returning(_SITE_BLOCKS.c.id, _SITE_BLOCKS.c.site_id, _SITE_BLOCKS.c.block_hash)


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
