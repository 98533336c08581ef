"""Storage for scheduled crawls: source leases, run history per source, HTTP validators.

Functions take a Session first and never commit, like `storage.writes`; the time comes in as
an argument, so tests drive the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import CrawlRun, HttpValidator, SourceLease
from storage.writes import dialect_insert


@dataclass(frozen=True, kw_only=True)
class LeaseHolder:
    """Who holds a source, until when."""

    owner: str
    expires_at: datetime


def acquire_lease(
    session: Session,
    source: str,
    *,
    owner: str,
    now: datetime,
    ttl: timedelta,
    is_owner_gone: Callable[[str], bool] = lambda owner: False,
) -> LeaseHolder | None:
    """Take the source for `owner` until `now + ttl`; return None on success, or who holds it.

    A lease is free when it was released, has expired, or its holder is known to be gone
    (`is_owner_gone`, e.g. a process of this machine that no longer runs). The update is
    conditional on what was read, so two runs started at once cannot both win.
    """
    session.execute(
        dialect_insert(session, SourceLease)
        .values(source=source, owner=None, expires_at=None)
        .on_conflict_do_nothing(index_elements=["source"])
    )
    lease = session.get_one(SourceLease, source, populate_existing=True)
    if (
        lease.owner is not None
        and lease.expires_at is not None
        and lease.expires_at > now
        and not is_owner_gone(lease.owner)
    ):
        return LeaseHolder(owner=lease.owner, expires_at=lease.expires_at)
    taken = session.execute(
        update(SourceLease)
        .where(
            SourceLease.source == source,
            SourceLease.owner.is_(None)
            if lease.owner is None
            else SourceLease.owner == lease.owner,
        )
        .values(owner=owner, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        latest = session.get_one(SourceLease, source, populate_existing=True)
        return LeaseHolder(owner=latest.owner or "?", expires_at=latest.expires_at or now)
    return None


def renew_lease(
    session: Session, source: str, *, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Extend `owner`'s lease; False if it lost the source meanwhile."""
    result = session.execute(
        update(SourceLease)
        .where(SourceLease.source == source, SourceLease.owner == owner)
        .values(expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_lease(session: Session, source: str, *, owner: str) -> None:
    """Give the source back, if `owner` still holds it."""
    session.execute(
        update(SourceLease)
        .where(SourceLease.source == source, SourceLease.owner == owner)
        .values(owner=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )


def mark_interrupted_runs(session: Session, source: str, *, now: datetime) -> int:
    """Mark the source's runs still 'running' (their process died) as interrupted."""
    result = session.execute(
        update(CrawlRun)
        .where(CrawlRun.source == source, CrawlRun.status == "running")
        .values(status="interrupted", finish_reason="interrupted", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def source_runs(session: Session, source: str, limit: int = 50) -> list[CrawlRun]:
    """Return a source's latest runs, newest first."""
    return list(
        session.scalars(
            select(CrawlRun)
            .where(CrawlRun.source == source)
            .order_by(CrawlRun.id.desc())
            .limit(limit)
        )
    )


def idle_run_count(runs: list[CrawlRun]) -> int:
    """Count the latest finished runs in a row (newest first) that found nothing new."""
    count = 0
    for run in runs:
        if run.status != "finished":
            continue
        if run.articles_new_count or run.articles_updated_count:
            break
        count += 1
    return count


def validators_for(session: Session, url: str) -> HttpValidator | None:
    """Return the ETag and Last-Modified last seen for `url`."""
    return session.scalars(select(HttpValidator).where(HttpValidator.url == url)).first()


def save_validators(
    session: Session, url: str, *, etag: str | None, last_modified: str | None, now: datetime
) -> None:
    """Remember the validators of a response for the next conditional request."""
    insert = dialect_insert(session, HttpValidator).values(
        url=url, etag=etag, last_modified=last_modified, checked_at=now
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["url"],
            set_={"etag": etag, "last_modified": last_modified, "checked_at": now},
        )
    )
