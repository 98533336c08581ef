"""The export form of an article: one flat record, the same for JSON Lines, CSV, `show --format
json` and `newsarchive extract`."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from storage.models import Article
from storage.queries import article_banners
from storage.records import ArticleRecord

EXPORT_FIELDS = (
    "id", "url", "site", "title", "authors", "published", "modified", "date_source",
    "date_candidates", "language",
    "section", "tags", "description", "site_name", "body", "banners", "content_hash",
    "extractor", "first_seen", "last_seen",
)  # fmt: skip
LIST_FIELDS = ("authors", "tags", "banners", "date_candidates")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def article_export(article: Article) -> dict[str, Any]:
    """Return the export record of a stored article."""
    return {
        "id": article.id,
        "url": article.canonical_url,
        "site": article.site.host,
        "title": article.title,
        "authors": list(article.authors),
        "published": _iso(article.published_at),
        "modified": _iso(article.modified_at),
        "date_source": article.date_source,
        "date_candidates": [{"source": s, "value": v} for s, v in article.date_candidates],
        "language": article.language,
        "section": article.section,
        "tags": list(article.tags),
        "description": article.description,
        "site_name": article.site_name,
        "body": article.body,
        "banners": [{"kind": b.kind, "text": b.text} for b in article_banners(article)],
        "content_hash": article.content_hash,
        "extractor": article.extractor,
        "first_seen": _iso(article.first_seen_at),
        "last_seen": _iso(article.last_seen_at),
    }


def record_export(record: ArticleRecord) -> dict[str, Any]:
    """Return the export record of an article that is not stored (no id, seen once)."""
    return {
        "id": None,
        "url": record.canonical_url,
        "site": record.host,
        "title": record.title,
        "authors": list(record.authors),
        "published": _iso(record.published_at),
        "modified": _iso(record.modified_at),
        "date_source": record.date_source,
        "date_candidates": [{"source": s, "value": v} for s, v in record.date_candidates],
        "language": record.language,
        "section": record.section,
        "tags": list(record.tags),
        "description": record.description,
        "site_name": record.site_name,
        "body": record.body,
        "banners": [{"kind": b.kind, "text": b.text} for b in record.banners],
        "content_hash": record.content_hash,
        "extractor": record.extractor,
        "first_seen": _iso(record.fetched_at),
        "last_seen": _iso(record.fetched_at),
    }


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write one JSON object per line; return how many were written."""
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


# A cell starting with one of these is a formula to spreadsheet programs (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """Prefix text a spreadsheet would run as a formula with `'` (OWASP's advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write a CSV with a header row; list fields are JSON-encoded, and text cells that a
    spreadsheet would read as a formula are prefixed with `'`. Return the row count."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for record in records:
        row = dict(record)
        for name in LIST_FIELDS:
            row[name] = json.dumps(row[name], ensure_ascii=False)
        writer.writerow({name: spreadsheet_safe(value) for name, value in row.items()})
        count += 1
    return count
