"""Source leases: two runs of one source never overlap; a dead run's source is taken over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.database import session_scope
from storage.scheduling import (
    acquire_lease,
    idle_run_count,
    mark_interrupted_runs,
    release_lease,
    renew_lease,
    save_validators,
    source_runs,
    validators_for,
)
from storage.writes import start_run

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)


def take(sessions, owner: str, now: datetime = NOW, gone: bool = False):
    with session_scope(sessions) as session:
        return acquire_lease(
            session, "gazette", owner=owner, now=now, ttl=TTL, is_owner_gone=lambda o: gone
        )


def test_a_second_run_is_refused_while_the_first_holds_the_source(sessions):
    assert take(sessions, "host:1") is None
    holder = take(sessions, "host:2")
    assert holder is not None
    assert (holder.owner, holder.expires_at) == ("host:1", NOW + TTL)


def test_an_expired_lease_is_taken_over(sessions):
    take(sessions, "host:1")
    assert take(sessions, "host:2", now=NOW + TTL + timedelta(seconds=1)) is None
    assert take(sessions, "host:1", now=NOW + TTL + timedelta(seconds=2)) is not None


def test_a_lease_whose_holder_is_gone_is_taken_at_once(sessions):
    take(sessions, "host:1")
    assert take(sessions, "host:2", gone=True) is None


def test_renewal_keeps_the_source_and_release_frees_it(sessions):
    take(sessions, "host:1")
    with session_scope(sessions) as session:
        assert renew_lease(session, "gazette", owner="host:1", now=NOW + TTL, ttl=TTL)
        assert not renew_lease(session, "gazette", owner="host:2", now=NOW, ttl=TTL)
    assert take(sessions, "host:2", now=NOW + TTL + timedelta(minutes=1)) is not None
    with session_scope(sessions) as session:
        release_lease(session, "gazette", owner="host:1")
    assert take(sessions, "host:2") is None


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(sessions):
    with session_scope(sessions) as session:
        start_run(session, ["https://news.example/"], started_at=NOW, source="gazette")
        start_run(session, ["https://news.example/"], started_at=NOW, source="other")
        assert mark_interrupted_runs(session, "gazette", now=NOW) == 1
        (run,) = source_runs(session, "gazette")
        assert (run.status, run.finished_at) == ("interrupted", NOW)
        assert source_runs(session, "other")[0].status == "running"


def test_idle_runs_count_the_latest_finished_runs_without_news(sessions):
    with session_scope(sessions) as session:
        for new in (3, 0, 0):
            run_id = start_run(session, [], started_at=NOW, source="gazette")
            run = source_runs(session, "gazette")[0]
            assert run.id == run_id
            run.status = "finished"
            run.articles_new_count = new
        session.flush()
        assert idle_run_count(source_runs(session, "gazette")) == 2


def test_validators_are_kept_per_url(sessions):
    with session_scope(sessions) as session:
        save_validators(
            session, "https://news.example/feed.xml", etag='"a"', last_modified=None, now=NOW
        )
        save_validators(
            session, "https://news.example/feed.xml", etag='"b"', last_modified="x", now=NOW
        )
        known = validators_for(session, "https://news.example/feed.xml")
        assert known is not None
        assert (known.etag, known.last_modified) == ('"b"', "x")
        assert validators_for(session, "https://news.example/other.xml") is None


def test_failed_urls_are_those_whose_last_fetch_failed_for_a_passing_reason(sessions):
    from storage.queries import failed_urls
    from storage.writes import record_fetch, upsert_site
    from tests.support.records import fetch_record

    def fetch(session, site_id, path: str, status: int, minutes: int) -> None:
        record = fetch_record(f"https://news.example{path}", status=status,
                              fetched_at=NOW + timedelta(minutes=minutes))  # fmt: skip
        record_fetch(session, record, site_id=site_id, run_id=None)

    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=NOW)
        fetch(session, site_id, "/timeout", 0, 1)
        fetch(session, site_id, "/busy", 503, 1)
        fetch(session, site_id, "/recovered", 502, 1)
        fetch(session, site_id, "/recovered", 200, 2)
        fetch(session, site_id, "/gone", 404, 1)
        fetch(session, site_id, "/old", 500, -60 * 24 * 30)
        assert failed_urls(session, ["www.news.example"], since=NOW - timedelta(days=7)) == [
            "https://news.example/busy",
            "https://news.example/timeout",
        ]
        assert failed_urls(session, ["other.example"], since=NOW - timedelta(days=7)) == []


def test_a_page_that_keeps_failing_is_asked_for_less_and_less_then_not_at_all(sessions):
    from storage.queries import RetryBackoff, failed_urls
    from storage.writes import record_fetch, upsert_site
    from tests.support.records import fetch_record

    backoff = RetryBackoff(first=timedelta(minutes=30), attempts=3)
    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=NOW)
        for minutes, path in ((0, "/once"), (0, "/twice"), (10, "/twice")):
            record = fetch_record(f"https://news.example{path}", status=503,
                                  fetched_at=NOW + timedelta(minutes=minutes))  # fmt: skip
            record_fetch(session, record, site_id=site_id, run_id=None)
        for minutes in range(3):
            record = fetch_record("https://news.example/always", status=0,
                                  fetched_at=NOW + timedelta(minutes=minutes))  # fmt: skip
            record_fetch(session, record, site_id=site_id, run_id=None)

        def due(minutes: int) -> list[str]:
            return failed_urls(session, ["news.example"], since=NOW - timedelta(days=7),
                               now=NOW + timedelta(minutes=minutes), backoff=backoff)  # fmt: skip

        assert due(20) == []  # within 30 minutes of a failure
        assert due(30) == ["https://news.example/once"]  # one failure: 30 minutes
        assert due(69) == ["https://news.example/once"]  # two: 60 minutes after the last
        assert due(70) == ["https://news.example/once", "https://news.example/twice"]
        assert "https://news.example/always" not in due(60 * 24)  # three: given up
