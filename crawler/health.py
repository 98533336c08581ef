"""The health of each site in a crawl: median body length, share of text taken out as banners,
share of articles with a date. A site whose figures jump from its previous crawl is flagged,
since that usually means it changed its layout and extraction needs a look."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from sqlalchemy.orm import Session

from storage.models import CrawlRunSite
from storage.queries import previous_run_health, run_article_sizes

MIN_ARTICLES = 5  # fewer articles than this in either crawl say nothing reliable
BODY_RATIO_LIMITS = (0.5, 2.0)
MAX_DATED_DROP = 0.3
MAX_BANNER_JUMP = 0.25


@dataclass(frozen=True, kw_only=True)
class ArticleSample:
    """What health needs of one article: its body, raw body, page banners and date."""

    body_chars: int
    raw_body_chars: int
    page_banner_chars: int
    is_dated: bool


@dataclass(frozen=True, kw_only=True)
class SiteFigures:
    article_count: int
    median_body_chars: int
    banner_share: float
    dated_share: float


def measure(samples: list[ArticleSample]) -> SiteFigures:
    """Return a site's figures for the articles of one crawl."""
    removed = sum(s.raw_body_chars - s.body_chars + s.page_banner_chars for s in samples)
    total = removed + sum(s.body_chars for s in samples)
    return SiteFigures(
        article_count=len(samples),
        median_body_chars=int(statistics.median(s.body_chars for s in samples)),
        banner_share=removed / total if total else 0.0,
        dated_share=sum(s.is_dated for s in samples) / len(samples),
    )


def health_warnings(current: SiteFigures, previous: SiteFigures | None) -> list[str]:
    """Return what jumped since the previous crawl of the site, as sentences."""
    if previous is None or min(current.article_count, previous.article_count) < MIN_ARTICLES:
        return []
    warnings = []
    if previous.median_body_chars:
        ratio = current.median_body_chars / previous.median_body_chars
        if not BODY_RATIO_LIMITS[0] <= ratio <= BODY_RATIO_LIMITS[1]:
            warnings.append(
                f"median body length {previous.median_body_chars} → "
                f"{current.median_body_chars} characters"
            )
    if previous.dated_share - current.dated_share >= MAX_DATED_DROP:
        warnings.append(
            f"articles with a date {previous.dated_share:.0%} → {current.dated_share:.0%}"
        )
    if abs(current.banner_share - previous.banner_share) >= MAX_BANNER_JUMP:
        warnings.append(
            f"text taken out as banners {previous.banner_share:.0%} → {current.banner_share:.0%}"
        )
    return warnings


def record_crawl_health(session: Session, run_id: int) -> list[CrawlRunSite]:
    """Measure each site of a crawl, compare with its previous crawl, and store the result."""
    by_site: dict[int, list[ArticleSample]] = {}
    for site_id, body, raw_body, page_banners, is_dated in run_article_sizes(session, run_id):
        by_site.setdefault(site_id, []).append(
            ArticleSample(
                body_chars=body,
                raw_body_chars=raw_body,
                page_banner_chars=page_banners,
                is_dated=is_dated,
            )
        )
    rows = []
    for site_id, samples in sorted(by_site.items()):
        figures = measure(samples)
        before = previous_run_health(session, site_id, run_id)
        previous = (
            SiteFigures(
                article_count=before.article_count,
                median_body_chars=before.median_body_chars,
                banner_share=before.banner_share,
                dated_share=before.dated_share,
            )
            if before is not None
            else None
        )
        row = CrawlRunSite(
            run_id=run_id,
            site_id=site_id,
            article_count=figures.article_count,
            median_body_chars=figures.median_body_chars,
            banner_share=figures.banner_share,
            dated_share=figures.dated_share,
            warnings=health_warnings(figures, previous),
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows
