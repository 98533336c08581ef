"""Page analysis in worker processes: the same result as in the reactor thread, and a page that
takes too long given up without holding a worker."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import select
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.analysis import analyze_page
from crawler.items import ARTICLE, LISTING, AnalysisRequest
from crawler.workers import (
    PAGES_AT_WORKERS,
    PIPE_MAX_SIZE,
    AnalysisPool,
    PageGate,
    default_processes,
)
from tests.support.processes import descendants, niceness
from tests.support.site_server import ARTICLES, DemoSite

ROOT = Path(__file__).resolve().parents[2]  # the checkout, for the processes a test starts

SITE = DemoSite("http://news.example")
FETCHED = datetime(2026, 11, 25, 12, tzinfo=UTC)


def request(path: str) -> AnalysisRequest:
    return AnalysisRequest(text=SITE.render(path).body.decode(), url=f"{SITE.base_url}{path}",
                           fetched_at=FETCHED, min_text_chars=200)  # fmt: skip


@pytest.fixture
def pool():
    workers = AnalysisPool(processes=2, timeout=60)
    yield workers
    workers.close()


def test_a_worker_process_gives_what_the_reactor_thread_would(pool):
    article = request(f"/news/{ARTICLES[0].slug}.html")
    listing = request("/")

    async def both():
        return await asyncio.gather(pool.analyze(article), pool.analyze(listing))

    in_workers = asyncio.run(both())
    assert in_workers == [analyze_page(article), analyze_page(listing)]
    assert in_workers[0].kind == ARTICLE
    assert in_workers[0].article is not None
    assert in_workers[0].article.body.startswith("NATO said Friday")
    assert in_workers[1].kind == LISTING
    assert f"{SITE.base_url}/news/{ARTICLES[1].slug}.html" in in_workers[1].links
    assert f"{SITE.base_url}/feed.xml" in in_workers[1].feeds


def test_a_page_over_the_timeout_is_given_up_and_the_pool_goes_on(pool):
    page = request(f"/news/{ARTICLES[0].slug}.html")
    pool.timeout = 0.000001  # no page is that quick: this one times out
    given_up = asyncio.run(pool.analyze(page))
    assert given_up.article is None
    assert given_up.rejection.startswith("extraction timed out")
    pool.timeout = 60
    assert asyncio.run(pool.analyze(page)).article is not None  # new workers took over


def oversized_page(paragraphs: int = 60_000) -> AnalysisRequest:
    """A real page that takes seconds to analyse: one article of 60,000 paragraphs."""
    paragraph = "<p>" + "Words of a very long article. " * 12 + "</p>"
    text = (f"<html><head><title>Long</title></head><body><article><h1>Long</h1>"
            f"{paragraph * paragraphs}</article></body></html>")  # fmt: skip
    return AnalysisRequest(text=text, url=f"{SITE.base_url}/news/long.html", fetched_at=FETCHED,
                           min_text_chars=200)  # fmt: skip


def test_pages_waiting_behind_a_slow_one_are_not_given_up():
    """The timeout counts a page's own analysis, not the time it waited for a worker: the slow
    page is given up by its worker, which goes on with the pages queued behind it."""
    workers = AnalysisPool(processes=1, timeout=2)
    quick = [request(f"/news/{article.slug}.html") for article in ARTICLES[:4]]

    async def slow_then_quick():
        return await asyncio.gather(*map(workers.analyze, [oversized_page(), *quick]))

    try:
        asyncio.run(workers.analyze(quick[0]))  # the worker is up
        executor = workers._executor
        slow, *rest = asyncio.run(slow_then_quick())
        assert workers._executor is executor  # the same workers: none was stopped
    finally:
        workers.close()
    assert slow.article is None
    assert slow.rejection == "extraction timed out after 2 s"
    assert [result.article.title for result in rest] == [a.title for a in ARTICLES[:4]]


def test_a_worker_gives_up_a_slow_page_and_goes_on():
    workers = AnalysisPool(processes=1, timeout=2)
    try:
        slow = asyncio.run(workers.analyze(oversized_page()))
        executor = workers._executor
        after = asyncio.run(workers.analyze(request(f"/news/{ARTICLES[0].slug}.html")))
        assert workers._executor is executor
    finally:
        workers.close()
    assert slow.rejection == "extraction timed out after 2 s"
    assert after.article is not None


def test_a_page_whose_analysis_raises_is_kept_with_the_reason(pool, caplog):
    """A library failing on one odd page (here cssselect, given a selector no sources file
    would pass) costs that page's analysis only: its fetch is archived with the reason, one
    warning line is logged, and the worker goes on."""
    article = request(f"/news/{ARTICLES[0].slug}.html")
    odd = replace(article, banner_selectors=("div[[role",))
    with caplog.at_level(logging.WARNING, logger="crawler.workers"):
        failed = asyncio.run(pool.analyze(odd))
    assert failed.article is None
    assert failed.rejection.startswith("analysis failed: SelectorSyntaxError: Expected ident")
    assert [record.getMessage() for record in caplog.records] == [f"{odd.url}: {failed.rejection}"]
    assert asyncio.run(pool.analyze(article)).article is not None


def test_the_crawl_waits_longer_for_pages_behind_others():
    workers = AnalysisPool(processes=2, timeout=60)
    # Its own minute, one more and half a minute of grace; then a minute a round of pages before.
    assert [workers.backstop(ahead) for ahead in (0, 1, 2, 3, 4)] == [150, 150, 210, 210, 270]


def test_pages_in_flight_when_the_workers_are_stopped_are_analysed_by_new_ones(pool):
    """A page over the timeout stops every worker of the pool; the pages the others held, or
    that waited for one, are analysed again by new workers, not lost (and the crawl not hung)."""
    page = request(f"/news/{ARTICLES[0].slug}.html")

    async def stopped_midway():
        pages = [asyncio.ensure_future(pool.analyze(page)) for _ in range(8)]
        await asyncio.sleep(0)  # one turn of the loop: every page is handed to the workers
        pool.restart(pool._executor)  # what a page over the timeout does
        return await asyncio.wait_for(asyncio.gather(*pages), 120)

    results = asyncio.run(stopped_midway())
    assert [result.article is not None for result in results] == [True] * 8


def test_workers_are_replaced_after_their_share_of_pages_without_stalling():
    """Python's own `max_tasks_per_child` deadlocks once a worker ends while pages wait (CPython
    gh-115634): 1 worker, 2 pages each, 7 pages queued at once hung forever."""
    workers = AnalysisPool(processes=1, timeout=60, pages_per_worker=2)
    pages = [request(f"/news/{article.slug}.html") for article in ARTICLES[:7]]

    async def all_pages():
        return await asyncio.wait_for(asyncio.gather(*map(workers.analyze, pages)), 120)

    try:
        results = asyncio.run(all_pages())
    finally:
        workers.close()
    assert [result.article.title for result in results] == [a.title for a in ARTICLES[:7]]


def test_workers_run_below_the_crawl_s_priority(pool):
    """When every core is busy, the reactor, the archive's writer and the database server come
    first; the workers take what is left."""
    asyncio.run(pool.analyze(request("/")))
    workers = [pid for pid in descendants(os.getpid()) if pid in pool._executor._processes]
    assert workers  # started on demand: one at least
    assert all(niceness(pid) > os.nice(0) for pid in workers)


def test_the_pages_queued_for_the_workers_wait_whole_in_their_pipe(pool):
    """A worker done with a page finds the next one whole in the pipe, rather than half written
    while the crawl process's feeder thread waits for the GIL behind the reactor: the pipes to
    the workers and back hold the pages queued ahead (one a worker and one more) at 200 KB,
    a large news page, each (Linux's default pipe holds 64 KB)."""
    asyncio.run(pool.analyze(request("/")))
    executor = pool._executor
    assert executor is not None
    allowed = int(Path(PIPE_MAX_SIZE).read_text())
    wanted = min(allowed, (pool.processes + 1) * 200_000)
    for queue in (executor._call_queue, executor._result_queue):
        assert fcntl.fcntl(queue._writer.fileno(), fcntl.F_GETPIPE_SZ) >= wanted


def test_workers_start_with_the_analysis_code_already_loaded(pool):
    """Workers are forked from a server that imported trafilatura once, not spawned to import
    it each (0.6 s of CPU a worker, three a crawl, again whenever the workers are replaced)."""

    async def loaded_before_the_first_page() -> list[str]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool._pool(), loaded_modules)

    assert "trafilatura" in asyncio.run(loaded_before_the_first_page())


def loaded_modules() -> list[str]:
    return list(sys.modules)


@pytest.mark.parametrize("started_as", ["module", "script"])
def test_workers_do_not_load_again_what_the_crawl_s_main_module_loaded(started_as):
    """A crawl started by `scrapy crawl` (a script) or by scrapyd (`python -m scrapyd.runner`):
    multiprocessing runs that main module again in each worker, which imported Scrapy for
    itself (0.3-0.4 s of CPU and 11 MB a worker); the fork server loads it once instead."""
    main_module = ROOT / "tests" / "support" / "main_module.py"
    command = ["-m", "tests.support.main_module"] if started_as == "module" else [str(main_module)]
    run = subprocess.run(
        [sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"  # the worker had it from the fork server


CRAWL_WITH_WORKERS = """
import asyncio, multiprocessing, sys
sys.path.insert(0, {root!r})
from tests.crawler.test_workers import oversized_page, request
from tests.support.processes import cpu_seconds
from crawler import workers as w
if {start!r} == "spawn":  # as where there are no pidfds
    w.worker_context = lambda: multiprocessing.get_context("spawn")
from crawler.workers import AnalysisPool
pool = AnalysisPool(processes=2, timeout=600)
async def busy_workers():
    await asyncio.gather(pool.analyze(request("/")), pool.analyze(request("/")))
    workers = list(pool._executor._processes)
    used = sum(map(cpu_seconds, workers))
    slow = asyncio.ensure_future(pool.analyze(oversized_page()))  # 25 s of analysis
    while sum(map(cpu_seconds, workers)) < used + 0.5:  # a worker is well into it
        await asyncio.sleep(0.05)
    print("analysing", flush=True)
    await slow
asyncio.run(busy_workers())
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on pidfds (Linux)")
@pytest.mark.parametrize("start", ["forkserver", "spawn"])
def test_a_crawl_killed_outright_leaves_no_worker_behind(start):
    """SIGKILL gives the crawl process no chance to stop its workers: they (and the fork server
    they came from) end on their own, a worker halfway through a page of 25 s included, instead
    of holding memory, or a core, for nobody. Also when workers are spawned, as where the fork
    server is not used."""
    command = [sys.executable, "-c", CRAWL_WITH_WORKERS.format(root=str(ROOT), start=start)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as crawl:  # fmt: skip
        try:
            assert crawl.stdout is not None
            assert crawl.stdout.readline() == "analysing\n"
            started = descendants(crawl.pid)
            assert len(started) >= 2  # the fork server or resource tracker, and a worker
            ended = [os.pidfd_open(pid) for pid in started]
        finally:
            crawl.kill()
    for pid, pidfd in zip(started, ended, strict=True):
        readable, _, _ = select.select([pidfd], [], [], 10)  # the page needs 25
        os.close(pidfd)
        assert readable, f"process {pid} outlived its crawl"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_the_default_pool_has_a_worker_per_core_the_crawl_may_use_and_one_more():
    """A crawl pinned to one core (taskset, a container's cpuset) starts 2 workers, not one
    more than the machine's cores."""
    allowed = os.sched_getaffinity(0)
    assert default_processes() == len(allowed) + 1
    try:
        os.sched_setaffinity(0, {min(allowed)})
        assert default_processes() == 2
    finally:
        os.sched_setaffinity(0, allowed)


def test_the_gate_lets_through_its_limit_and_an_urgent_page_before_those_waiting():
    gate = PageGate(limit=2)
    through: list[str] = []
    most = 0

    async def page(name: str, urgent: bool = False) -> None:
        nonlocal most
        await gate.enter(urgent=urgent)
        through.append(name)
        most = max(most, gate.through)
        await asyncio.sleep(0)
        gate.leave()

    async def pages() -> None:
        await gate.enter()  # two pages at the workers already
        await gate.enter()
        waiting = [asyncio.ensure_future(page(name)) for name in ("a", "b", "c")]
        waiting.append(asyncio.ensure_future(page("next page", urgent=True)))
        await asyncio.sleep(0)  # all four wait
        assert through == []
        gate.leave()
        gate.leave()
        await asyncio.gather(*waiting)

    asyncio.run(pages())
    assert through == ["next page", "a", "b", "c"]
    assert most == 2
    assert gate.through == 0


def test_a_page_cancelled_while_it_waits_for_the_gate_takes_no_place():
    gate = PageGate(limit=1)

    async def cancelled_then_next() -> tuple[int, bool, bool]:
        await gate.enter()
        given_up = asyncio.ensure_future(gate.enter())
        handed_over = asyncio.ensure_future(gate.enter())
        later = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0)
        given_up.cancel()  # cancelled while it waits
        gate.leave()  # the place goes to the next one waiting...
        handed_over.cancel()  # ...cancelled before it could take it: it passes it on
        await asyncio.sleep(0)
        await asyncio.wait_for(later, 5)
        return gate.through, given_up.cancelled(), handed_over.cancelled()

    assert asyncio.run(cancelled_then_next()) == (1, True, True)


def test_the_next_page_of_a_listing_is_analysed_before_the_pages_waiting_for_a_worker():
    """Each page of a pagination is found on the one before: in the executor's queue, behind
    the pages a crawl holds (170 at once), each step waited a second and the walk was left for
    the end of the crawl, one page at a time."""
    workers = AnalysisPool(processes=1, timeout=60)
    article = request(f"/news/{ARTICLES[0].slug}.html")
    finished: list[str] = []

    async def analysed(name: str, urgent: bool = False) -> None:
        await workers.analyze(article, urgent=urgent)
        finished.append(name)

    async def pages() -> None:
        queued = [asyncio.ensure_future(analysed(f"page {i}")) for i in range(12)]
        await asyncio.sleep(0)  # the first pages are at the worker, the others wait
        await asyncio.wait_for(asyncio.gather(*queued, analysed("next page", urgent=True)), 120)

    try:
        asyncio.run(pages())
    finally:
        workers.close()
    assert len(finished) == 13
    # Behind the pages handed to the worker before it came, ahead of all the others.
    assert finished.index("next page") == PAGES_AT_WORKERS
