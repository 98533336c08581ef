"""What a site's recurring blocks teach: text that stands on many of a site's articles is not
article text.

Every paragraph of every extracted body is fingerprinted and counted per site over distinct
articles (`storage.writes.record_article_blocks`). A block on at least
`max(min_pages, min_share * articles of the site)` articles is boilerplate: it is taken out of
the bodies; if it reads as a sentence (a notice, a promo, a ticker, a consent text) it becomes a
banner of the articles that showed it, otherwise (navigation, labels, link lists) it is simply
dropped. Bodies are always recomputed from the raw extracted body and the current counts, so
the same pages in any order give the same archive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Self

from sqlalchemy.orm import Session

from crawler.items import DateCandidate
from crawler.normalization import (
    banner_fingerprint,
    choose_date,
    fingerprint,
    numeric_date_order,
)
from storage.database import transaction_cache
from storage.models import Site
from storage.queries import (
    articles_with_blocks,
    blocks_to_flip,
    boilerplate_hashes,
    site_article_count,
    site_articles,
)
from storage.records import ArticleRecord, BannerRecord
from storage.writes import (
    ArticleWrite,
    NewArticle,
    archived_urls,
    insert_new_articles,
    record_article_blocks,
    record_version,
    refresh_latest_version,
    set_article_body,
    upsert_article,
)

SENTENCE_END = re.compile(r"[.!?:…»\"')]\s*$|[.!?]\s")
MIN_NOTICE_WORDS = 5
LEARNED_KIND_WORDS = (
    ("cookie", ("cookie", "consent", "privacy settings", "datenschutz", "témoins")),
    ("newsletter", ("newsletter", "subscribe", "inbox", "sign up", "abonnez", "abonnieren")),
    ("ticker", ("breaking:", "breaking news", "eilmeldung", "dernière minute", "última hora")),
    ("promo", ("advertisement", "sponsored", "anzeige", "publicité")),
)


@dataclass(frozen=True, kw_only=True)
class LearningSettings:
    """How often a block must recur before it is taken for boilerplate."""

    min_pages: int = 3
    min_share: float = 0.1
    relearn_every: int = 25  # during a crawl, relearn a site after this many of its articles

    def __post_init__(self) -> None:
        if self.min_pages < 2:
            raise ValueError(f"ARCHIVE_LEARN_MIN_PAGES must be 2 or more, not {self.min_pages}")
        if not 0 < self.min_share <= 1:
            raise ValueError(f"ARCHIVE_LEARN_MIN_SHARE must be in (0, 1], not {self.min_share}")
        if self.relearn_every < 1:
            raise ValueError(f"ARCHIVE_LEARN_EVERY must be 1 or more, not {self.relearn_every}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        """Read ARCHIVE_LEARN_* from a settings mapping, with the defaults for what is unset."""
        default = cls()
        return cls(
            min_pages=int(settings.get("ARCHIVE_LEARN_MIN_PAGES", default.min_pages)),
            min_share=float(settings.get("ARCHIVE_LEARN_MIN_SHARE", default.min_share)),
            relearn_every=int(settings.get("ARCHIVE_LEARN_EVERY", default.relearn_every)),
        )

    def threshold(self, article_count: int) -> int:
        """Return on how many articles a block must stand to be boilerplate."""
        return max(self.min_pages, math.ceil(self.min_share * article_count))


def body_paragraphs(body: str) -> list[str]:
    """Return the paragraphs of a cleaned body."""
    return [paragraph for paragraph in body.split("\n\n") if paragraph.strip()]


def body_blocks(body: str) -> dict[str, str]:
    """Return the blocks of a body: fingerprint → paragraph text."""
    return {banner_fingerprint(paragraph): paragraph for paragraph in body_paragraphs(body)}


def is_notice_text(text: str) -> bool:
    """Tell whether a recurring block reads as a sentence (a notice) rather than a label."""
    return len(text.split()) >= MIN_NOTICE_WORDS and bool(SENTENCE_END.search(text))


def learned_kind(text: str) -> str:
    """Return the kind of a learned notice from its words."""
    lowered = text.casefold()
    for kind, words in LEARNED_KIND_WORDS:
        if any(word in lowered for word in words):
            return kind
    return "notice"


def clean_body(raw_body: str, boilerplate: set[str]) -> tuple[str, tuple[BannerRecord, ...]]:
    """Return the body without its boilerplate blocks, and the notices among them."""
    kept: list[str] = []
    notices: list[BannerRecord] = []
    for paragraph in body_paragraphs(raw_body):
        block_hash = banner_fingerprint(paragraph)
        if block_hash not in boilerplate:
            kept.append(paragraph)
        elif is_notice_text(paragraph):
            notices.append(
                BannerRecord(kind=learned_kind(paragraph), text=paragraph, text_hash=block_hash)
            )
    return "\n\n".join(kept), tuple(notices)


def relearn_site(
    session: Session,
    site_id: int,
    settings: LearningSettings,
    *,
    date_order_hint: str | None = None,
    article_count: int | None = None,
) -> int:
    """Bring a site's boilerplate up to date with its counts; re-clean the articles it changes.

    Returns how many articles were re-cleaned or re-dated. Works from stored raw bodies and
    date candidates, never re-fetches. `article_count`: the site's articles, if the caller
    knows them (else they are counted).
    """
    redated = relearn_date_order(session, site_id, hint=date_order_hint)
    if article_count is None:
        article_count = site_article_count(session, site_id)
    threshold = settings.threshold(article_count)
    flipped = blocks_to_flip(session, site_id, threshold)
    if not flipped:
        return redated
    for block in flipped:
        block.is_boilerplate = not block.is_boilerplate
    session.flush()
    _known_boilerplate(session).pop(site_id, None)  # what this transaction read is stale
    boilerplate = site_boilerplate(session, site_id)
    cleaned = 0
    for article in articles_with_blocks(session, [block.id for block in flipped]):
        body, notices = clean_body(article.raw_body or article.body, boilerplate)
        if body == article.body:
            continue
        set_article_body(
            session,
            article.id,
            body=body,
            content_hash=fingerprint(body),
            learned_banners=notices,
            site_id=site_id,
            seen_at=article.last_seen_at,
        )
        cleaned += 1
    return cleaned + redated


def site_boilerplate(session: Session, site_id: int) -> set[str]:
    """Return the blocks the site's articles are cleaned of, read once per transaction: a
    crawl stores a batch of a site's pages in one, and only relearning (which forgets what was
    read) changes them."""
    known = _known_boilerplate(session)
    if site_id not in known:
        known[site_id] = boilerplate_hashes(session, site_id)
    return known[site_id]


def _known_boilerplate(session: Session) -> dict[int, set[str]]:
    return transaction_cache(session, "site_boilerplate")


def relearn_date_order(session: Session, site_id: int, *, hint: str | None = None) -> int:
    """Re-read the site's ambiguous dates when its evidence (or `hint`) now gives another order."""
    site = session.get_one(Site, site_id)
    order = hint or site_date_order(site)
    if order == site.date_order:
        return 0
    site.date_order = order
    changed = 0
    for article in site_articles(session, site_id):
        candidates = tuple((s, v) for s, v in article.date_candidates)
        if not any(numeric_date_order(value) == "ambiguous" for _, value in candidates):
            continue
        dated = [DateCandidate(source=s, value=v) for s, v in candidates]
        published_at, source = choose_date(
            tuple(dated), dayfirst=order != "mdy", seen_at=article.first_seen_at
        )
        if published_at != article.published_at:
            article.published_at = published_at
            article.date_source = source
            changed += 1
    session.flush()
    return changed


def date_order_votes(candidates: tuple[tuple[str, str], ...]) -> tuple[int, int]:
    """Return (day-first, month-first) evidence an article's date candidates give: 0 or 1 each."""
    orders = {numeric_date_order(value) for _, value in candidates}
    return int("dmy" in orders), int("mdy" in orders)


def site_date_order(site: Site) -> str | None:
    """Return the order of day and month the site's unambiguous dates show, if they show one."""
    if site.monthfirst_votes > site.dayfirst_votes:
        return "mdy"
    return "dmy" if site.dayfirst_votes else None


def read_published(record: ArticleRecord, date_order: str | None) -> ArticleRecord:
    """Return the record with its publication date read in the site's order of day and month."""
    candidates = tuple(DateCandidate(source=s, value=v) for s, v in record.date_candidates)
    published_at, source = choose_date(
        candidates, dayfirst=date_order != "mdy", seen_at=record.fetched_at
    )
    return replace(record, published_at=published_at, date_source=source)


def store_article(
    session: Session,
    record: ArticleRecord,
    *,
    site_id: int,
    fetch_id: int | None,
    is_refetch: bool = True,
    date_order_hint: str | None = None,
) -> ArticleWrite:
    """Store an extracted article as its site is known: cleaned of its boilerplate, dates read
    in its order of day and month; count its blocks and its date evidence.

    A fetched page whose text changed becomes a new version of the article; a re-extraction of
    a stored page (`is_refetch=False`) refines the latest version instead. `date_order_hint`
    ("dmy" or "mdy", from the sources file) overrides what the site's dates show.
    """
    site = session.get_one(Site, site_id)
    cleaned, notices = _as_site_knows(session, record, site, date_order_hint)
    write = upsert_article(
        session, cleaned, site_id=site_id, fetch_id=fetch_id, learned_banners=notices
    )
    if is_refetch:
        record_version(
            session,
            write.article_id,
            title=record.title,
            raw_body=record.body,
            seen_at=record.fetched_at,
            is_new=write.outcome == "new",
        )
    else:
        refresh_latest_version(session, write.article_id, title=record.title, raw_body=record.body)
    if write.outcome == "new":
        _count_date_votes(site, record)
    record_article_blocks(
        session,
        write.article_id,
        body_blocks(record.body),
        site_id=site_id,
        seen_at=record.fetched_at,
        is_new=write.outcome == "new",
    )
    return write


@dataclass(frozen=True)
class FetchedArticle:
    """An article a crawl fetched, with its site's and its fetch's ids."""

    record: ArticleRecord
    site_id: int
    fetch_id: int | None


def store_articles(
    session: Session, articles: Sequence[FetchedArticle], *, date_order_hint: str | None = None
) -> list[ArticleWrite]:
    """Store a crawl's batch of fetched articles, each as `store_article` stores it, in order.

    The articles new to the archive (the first page of each canonical URL it does not have)
    are written together, one statement per table (`storage.writes.insert_new_articles`); the
    others, known articles and a URL's later pages, follow one by one in their order.
    """
    known = archived_urls(session, [article.record.canonical_url for article in articles])
    first_of_url: dict[str, int] = {}
    for position, article in enumerate(articles):
        if article.record.canonical_url not in known:
            first_of_url.setdefault(article.record.canonical_url, position)
    new_positions = sorted(first_of_url.values())
    new = []
    for position in new_positions:
        article = articles[position]
        site = session.get_one(Site, article.site_id)
        cleaned, notices = _as_site_knows(session, article.record, site, date_order_hint)
        new.append(
            NewArticle(
                record=cleaned,
                site_id=article.site_id,
                fetch_id=article.fetch_id,
                learned_banners=notices,
                blocks=body_blocks(article.record.body),
            )
        )
        _count_date_votes(site, article.record)
    new_ids = dict(zip(new_positions, insert_new_articles(session, new), strict=True))
    return [
        ArticleWrite(article_id=new_ids[position], outcome="new")
        if position in new_ids
        else store_article(
            session,
            article.record,
            site_id=article.site_id,
            fetch_id=article.fetch_id,
            date_order_hint=date_order_hint,
        )
        for position, article in enumerate(articles)
    ]


def _as_site_knows(
    session: Session, record: ArticleRecord, site: Site, date_order_hint: str | None
) -> tuple[ArticleRecord, tuple[BannerRecord, ...]]:
    """Return the record cleaned of its site's boilerplate (`raw_body` the body as extracted),
    its date read in the site's order of day and month, and the notices among those blocks."""
    body, notices = clean_body(record.body, site_boilerplate(session, site.id))
    cleaned = replace(record, body=body, raw_body=record.body, content_hash=fingerprint(body))
    if record.date_candidates:
        cleaned = read_published(cleaned, date_order_hint or site.date_order)
    return cleaned, notices


def _count_date_votes(site: Site, record: ArticleRecord) -> None:
    """Add a new article's evidence of the site's order of day and month."""
    dayfirst, monthfirst = date_order_votes(record.date_candidates)
    site.dayfirst_votes += dayfirst
    site.monthfirst_votes += monthfirst
