"""An article's history: its versions, read as its site is known now, and the diffs between
them. A version that differs from the one before only by a notice the site repeats (now known
as boilerplate) is folded into it: a changed banner is not a changed article."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crawler.learning import clean_body
from storage.models import Article
from storage.queries import article_versions, boilerplate_hashes


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One version of an article as a reader sees it."""

    version: int
    seen_at: datetime
    title: str | None
    body: str
    diff: str  # unified diff from the version before, paragraph by paragraph; "" for the first


def article_history(session: Session, article: Article) -> list[HistoryEntry]:
    """Return the versions of an article that differ in text, oldest first, with their diffs."""
    boilerplate = boilerplate_hashes(session, article.site_id)
    entries: list[HistoryEntry] = []
    for stored in article_versions(session, article.id):
        body, _ = clean_body(stored.raw_body, boilerplate)
        previous = entries[-1] if entries else None
        if previous is not None and previous.body == body and previous.title == stored.title:
            continue
        entries.append(
            HistoryEntry(
                version=len(entries) + 1,
                seen_at=stored.seen_at,
                title=stored.title,
                body=body,
                diff=text_diff(previous, stored.title, body) if previous else "",
            )
        )
    return entries


def text_diff(previous: HistoryEntry, title: str | None, body: str) -> str:
    """Return a unified diff of title and paragraphs between two versions."""
    before = [f"# {previous.title or ''}", *previous.body.split("\n\n")]
    after = [f"# {title or ''}", *body.split("\n\n")]
    lines = difflib.unified_diff(
        before,
        after,
        fromfile=f"version {previous.version}",
        tofile=f"version {previous.version + 1}",
        lineterm="",
    )
    return "\n".join(lines)
