"""The items passed between the crawl's stages: frozen dataclasses, no Scrapy.

PageItem (spider) → ExtractedPageItem (extraction) → ArchivePageItem (normalization) → storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.records import ArticleRecord, FetchRecord, StoredBody

# Shortest body kept as an article (ARCHIVE_MIN_TEXT_CHARS).
DEFAULT_MIN_TEXT_CHARS = 200
# How the rejection of a page whose analysis raised begins.
ANALYSIS_FAILED = "analysis failed"

# What a fetched page is, as the spider sees it.
ARTICLE, LISTING, OTHER, ERROR, FEED, SITEMAP, ROBOTS = (
    "article", "listing", "other", "error", "feed", "sitemap", "robots",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class DateCandidate:
    """A date found for an article, with where it was found (`jsonld`, `meta`, `feed`, ...)."""

    value: str
    source: str


@dataclass(frozen=True, kw_only=True)
class PageItem:
    """One fetched page: what came over the wire, and what the spider knows about it."""

    url: str
    final_url: str
    status: int
    fetched_at: datetime
    page_kind: str
    content_type: str | None = None
    body: bytes = b""
    text: str = ""  # the body decoded (crawler.decoding), for an article
    encoding: str | None = None  # what an HTML page was decoded with
    listed_dates: tuple[DateCandidate, ...] = ()  # from the feed or sitemap that listed it
    listed_title: str | None = None
    error: str | None = None  # why the fetch failed, when there is no response
    # What the spider's analysis of an HTML page found (crawler.analysis): its article, or why
    # it has none; None when the page was not analysed (then the extraction stage does it).
    analysis: PageAnalysis | None = None


@dataclass(frozen=True, kw_only=True)
class BannerText:
    """A notice found on a page and kept out of its body."""

    kind: str
    text: str


@dataclass(frozen=True, kw_only=True)
class ExtractedArticle:
    """What extraction found in a page, as raw strings, with the page's identity."""

    url: str
    fetched_at: datetime
    title: str | None
    authors: tuple[str, ...]
    published_candidates: tuple[DateCandidate, ...]  # best first
    modified_candidates: tuple[DateCandidate, ...]
    language: str | None
    section: str | None
    tags: tuple[str, ...]
    description: str | None
    site_name: str | None
    declared_canonical_url: str | None
    body: str
    banners: tuple[BannerText, ...]
    extractor: str
    extraction_settings: str = "{}"


@dataclass(frozen=True, kw_only=True)
class ExtractedPageItem:
    """A page after extraction: the article, or why there is none."""

    page: PageItem
    article: ExtractedArticle | None
    rejection: str | None = None


@dataclass(frozen=True, kw_only=True)
class ArchivePageItem:
    """A page ready to store: the fetch, and the normalized article if there is one."""

    host: str
    fetch: FetchRecord
    article: ArticleRecord | None
    rejection: str | None = None


@dataclass(frozen=True, kw_only=True)
class AnalysisRequest:
    """An HTML page for a worker to analyse (crawler.analysis): the spider sends it.

    The page goes once, as its raw body and the encoding Scrapy decoded it with (the worker
    decodes it as Scrapy does: crawler.analysis), or as `text` when it was decoded otherwise
    (crawler.decoding's second try): a page's text beside its body would double what is
    pickled and piped to the worker.
    """

    url: str
    fetched_at: datetime
    listed_dates: tuple[DateCandidate, ...] = ()
    min_text_chars: int
    banner_selectors: tuple[str, ...] = ()
    body: bytes = b""  # the raw body, to compress for the archive off the reactor
    encoding: str = ""  # what `body` is decoded with, when `text` is not given
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class PageAnalysis:
    """What one HTML page is, and what it holds: its article, or the links to follow."""

    kind: str
    article: ExtractedArticle | None = None
    rejection: str = ""  # why an article page gave no article
    links: tuple[str, ...] = ()
    # Those of `links` that lead to the listing's next page (rel="next"): walked first.
    next_pages: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    stored_body: StoredBody | None = None  # the raw body, compressed by the worker
