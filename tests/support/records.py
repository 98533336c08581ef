"""Builders of storage records for tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from crawler.normalization import banner_fingerprint, fingerprint
from storage.records import ArticleRecord, BannerRecord, FetchRecord

FETCHED_AT = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
NOTICE = BannerRecord(
    kind="alert",
    text="Consular assistance in Russia\n\nRussia is currently at war in Ukraine.",
    text_hash=banner_fingerprint(
        "Consular assistance in Russia\n\nRussia is currently at war in Ukraine."
    ),
)


def article_record(
    slug: str = "story", *, body: str | None = None, **changes: object
) -> ArticleRecord:
    body = body or f"The body of {slug}. It says something about the harbour and the town."
    record = ArticleRecord(
        canonical_url=f"https://news.example/{slug}",
        url=f"https://news.example/{slug}",
        host="news.example",
        title=f"Title of {slug}",
        authors=("A. Writer",),
        published_at=datetime(2014, 5, 30, 7, 40, tzinfo=UTC),
        language="en",
        section="World",
        tags=("NATO",),
        body=body,
        content_hash=fingerprint(body),
        extractor="trafilatura 2.3.1",
        fetched_at=FETCHED_AT,
        banners=(NOTICE,),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def fetch_record(url: str = "https://news.example/story", **changes: object) -> FetchRecord:
    record = FetchRecord(
        url=url, final_url=url, status=200, fetched_at=FETCHED_AT, content_type="text/html",
        page_kind="article", body=b"<html><body>page</body></html>",
    )  # fmt: skip
    return replace(record, **changes)  # type: ignore[arg-type]
