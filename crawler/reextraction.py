"""Re-run extraction over the raw HTML the archive kept, so that older articles profit from a
newer extractor, new rules or what was learned since. Writes only what changes. No Scrapy."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session, sessionmaker

from crawler.decoding import decode_stored
from crawler.extraction import extract_article_or_reason
from crawler.items import ARTICLE, DateCandidate, PageItem
from crawler.learning import LearningSettings, relearn_site, store_article
from crawler.normalization import normalize_article
from storage.database import session_scope
from storage.models import Article, Fetch
from storage.queries import ArticleFilter, article_ids, latest_fetch, page_banner_texts
from storage.records import ArticleRecord
from storage.writes import fetch_body

LISTED_SOURCES = ("feed", "news-sitemap")  # date candidates only the crawl could see
BATCH_SIZE = 200


@dataclass
class ReextractionReport:
    """What `reextract_articles` did."""

    examined: int = 0
    changed: int = 0
    unchanged: int = 0
    no_article: int = 0  # the stored page gives no article now: the article is kept as it was
    no_raw_html: int = 0


def page_from_fetch(fetch: Fetch, listed_dates: tuple[DateCandidate, ...]) -> PageItem | None:
    """Rebuild the PageItem of a stored response, decoded as the crawl decoded it."""
    body = fetch_body(fetch)
    if body is None:
        return None
    decoded = decode_stored(body, fetch.content_type, fetch.encoding)
    return PageItem(
        url=fetch.url,
        final_url=fetch.final_url,
        status=fetch.status,
        fetched_at=fetch.fetched_at,
        page_kind=ARTICLE,
        content_type=fetch.content_type,
        body=body,
        text=decoded.text,
        encoding=decoded.encoding,
        listed_dates=listed_dates,
    )


def is_unchanged(article: Article, record: ArticleRecord) -> bool:
    """Tell whether a new extraction gives what the article already holds."""
    return (
        article.raw_body == record.body
        and article.title == record.title
        and tuple(article.authors) == record.authors
        and tuple(tuple(c) for c in article.date_candidates) == record.date_candidates
        and article.modified_at == record.modified_at
        and article.language == record.language
        and article.section == record.section
        and tuple(article.tags) == record.tags
        and article.description == record.description
        and article.site_name == record.site_name
        and article.extractor == record.extractor
        and article.extraction_settings == record.extraction_settings
        and page_banner_texts(article) == {banner.text for banner in record.banners}
    )


def reextract_article(
    session: Session, article: Article, *, min_text_chars: int, report: ReextractionReport
) -> None:
    """Re-extract one article from its stored page; store the result if anything changed."""
    report.examined += 1
    fetch = latest_fetch(session, article)
    listed = tuple(
        DateCandidate(source=source, value=value)
        for source, value in article.date_candidates
        if source in LISTED_SOURCES
    )
    page = page_from_fetch(fetch, listed) if fetch is not None else None
    if fetch is None or page is None:
        report.no_raw_html += 1
        return
    extracted, _ = extract_article_or_reason(page, min_text_chars=min_text_chars)
    if extracted is None:
        report.no_article += 1
        return
    # The article stays under its key, whatever a newer canonicalization would say.
    record = replace(normalize_article(extracted), canonical_url=article.canonical_url)
    if is_unchanged(article, record):
        report.unchanged += 1
        return
    store_article(session, record, site_id=article.site_id, fetch_id=fetch.id, is_refetch=False)
    report.changed += 1


def reextract_articles(
    sessions: sessionmaker[Session],
    article_filter: ArticleFilter,
    *,
    min_text_chars: int,
    learning: LearningSettings,
) -> ReextractionReport:
    """Re-extract every matching article, a batch per transaction, then relearn their sites."""
    report = ReextractionReport()
    with session_scope(sessions) as session:
        ids = article_ids(session, article_filter)
    sites: set[int] = set()
    for start in range(0, len(ids), BATCH_SIZE):
        with session_scope(sessions) as session:
            for article_id in ids[start : start + BATCH_SIZE]:
                article = session.get(Article, article_id)
                if article is None:  # deleted meanwhile
                    continue
                sites.add(article.site_id)
                reextract_article(session, article, min_text_chars=min_text_chars, report=report)
    for site_id in sorted(sites):
        with session_scope(sessions) as session:
            relearn_site(session, site_id, learning)
    return report
