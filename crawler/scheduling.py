"""Which sources are due, and taking them: the logic of `newsarchive crawl --due`, `sources`
and `schedule`. No Scrapy; the time comes in as an argument."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from crawler.sources import Source, next_run_at
from storage.database import session_scope
from storage.models import CrawlRun
from storage.scheduling import (
    LeaseHolder,
    acquire_lease,
    idle_run_count,
    mark_interrupted_runs,
    source_runs,
)


def lease_owner() -> str:
    """Name this process as a lease holder: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_owner_gone(owner: str) -> bool:
    """Tell whether a lease holder is a process of this machine that no longer runs.

    Holders on other machines are never judged gone: their lease has to expire.
    """
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False


@dataclass(frozen=True, kw_only=True)
class SourceStatus:
    """Where a source stands: its last run and when it is next due."""

    source: Source
    last_run: CrawlRun | None
    idle_runs: int
    next_run_at: datetime
    is_due: bool


def source_status(session: Session, source: Source, now: datetime) -> SourceStatus:
    """Return a source's last run, idle streak and next run."""
    runs = source_runs(session, source.name)
    last = runs[0] if runs else None
    idle = idle_run_count(runs)
    next_at = next_run_at(source, last.started_at if last else None, idle, now)
    return SourceStatus(
        source=source,
        last_run=last,
        idle_runs=idle,
        next_run_at=next_at,
        is_due=source.enabled and next_at <= now,
    )


def claim_due_sources(
    sessions: sessionmaker[Session],
    sources: list[Source],
    *,
    owner: str,
    now: datetime,
    ttl: timedelta,
    names: set[str] | None = None,
) -> tuple[list[Source], list[tuple[Source, LeaseHolder]]]:
    """Take the lease of every due source (or of the named ones, due or not).

    Returns the sources taken, and those another run holds. Runs of a taken source still
    marked running died without finishing: they are marked interrupted, never complete.
    """
    claimed: list[Source] = []
    refused: list[tuple[Source, LeaseHolder]] = []
    for source in sources:
        with session_scope(sessions) as session:
            status = source_status(session, source, now)
            wanted = source.name in names if names is not None else status.is_due
            if not wanted:
                continue
            holder = acquire_lease(
                session, source.name, owner=owner, now=now, ttl=ttl, is_owner_gone=is_owner_gone
            )
            if holder is not None:
                refused.append((source, holder))
                continue
            mark_interrupted_runs(session, source.name, now=now)
            claimed.append(source)
    return claimed, refused
