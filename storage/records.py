"""Frozen dataclasses that are the contract for writing to the archive.

The crawler builds these; `storage.writes` stores them. They hold only normalized values:
aware UTC datetimes, canonical URLs, clean text.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime

import zstandard

# Zstandard level of stored bodies. On the 181 pages of ../shared/benchmarks/article-extraction
# level 3 packs HTML 5.1 times in 0.45 ms a page, where zlib (the archive's format before
# migration 0012) packed it 4.5 times at its level 3 in 1.35 ms.
BODY_COMPRESSION = 3
# One compressor per thread, kept: zstandard.compress() makes a new one (and its context) for
# each body, a third of the time it takes a page (0.89 against 0.57 ms on those pages).
_compressors = threading.local()


def compress_body(body: bytes) -> bytes:
    """`body` as one Zstandard frame at BODY_COMPRESSION (it records its content size)."""
    compressor = getattr(_compressors, "zstd", None)
    if compressor is None:
        compressor = _compressors.zstd = zstandard.ZstdCompressor(level=BODY_COMPRESSION)
    return compressor.compress(body)


@dataclass(frozen=True, kw_only=True)
class StoredBody:
    """A response body as the archive keeps it: compressed, with its size and SHA-256."""

    size: int
    sha256: str
    zstd: bytes  # one Zstandard frame, which records its content size

    @classmethod
    def of(cls, body: bytes) -> StoredBody:
        """Compress `body` (in a worker process for analysed pages: crawler.analysis)."""
        return cls(
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
            zstd=compress_body(body),
        )


@dataclass(frozen=True, kw_only=True)
class FetchRecord:
    """One HTTP response as it was received."""

    url: str
    final_url: str
    status: int
    fetched_at: datetime
    content_type: str | None = None
    page_kind: str = "other"  # article, listing, other, error
    body: bytes | None = None
    error: str | None = None
    encoding: str | None = None  # what an HTML page was decoded with
    stored_body: StoredBody | None = None  # `body` compressed already, if it was


@dataclass(frozen=True, kw_only=True)
class BannerRecord:
    """A notice seen on a page: its kind (notice, alert, ticker, cookie, newsletter, promo)."""

    kind: str
    text: str
    text_hash: str


@dataclass(frozen=True, kw_only=True)
class ArticleRecord:
    """An article, normalized and ready to store."""

    canonical_url: str
    url: str
    host: str
    title: str | None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    modified_at: datetime | None = None
    date_source: str | None = None
    # Every publication date found, best first, as (source, value): the rule that chose
    # `published_at` is "the first that reads as a date", and `date_source` names it.
    date_candidates: tuple[tuple[str, str], ...] = ()
    language: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    site_name: str | None = None
    body: str
    raw_body: str = ""  # the body before learned site blocks were taken out ("" = same as body)
    content_hash: str
    extractor: str
    extraction_settings: str = "{}"  # canonical JSON of the options that produced it
    fetched_at: datetime
    banners: tuple[BannerRecord, ...] = field(default=())
