"""Page analysis off Scrapy's reactor: a pool of worker processes, one per core and one more.

Extraction is what an archive crawl spends its CPU on; run in the reactor thread it would also
stall every download while it works. `AnalysisPool.analyze` sends a page to a worker process
(`crawler.analysis.analyze_page`: one parse, classification, extraction or links) and awaits
the result, so the reactor keeps fetching while all cores extract. A page whose own analysis
takes longer than the timeout is given up by its worker, which goes on with the next page, and
recorded as an extraction timeout (../shared/reliability-catalog.md, L05); the time a page waits
for a worker does not count. Should a worker be stuck where it cannot notice (inside a C
library), the crawl process gives the page up later and replaces the workers, so the stuck one
cannot hold a core.

Workers are forked from a fork server (multiprocessing's "forkserver" start method) that imported
`crawler.analysis` (trafilatura, lxml, htmldate) and the process's main module once: a new
worker starts analysing at once, without the 0.6 s of CPU each spawned worker spent importing,
and shares those modules' memory with the others. The fork server is a fresh Python process,
not a copy of the crawl process: no reactor, threads or sockets are inherited.

`ARCHIVE_EXTRACTION_PROCESSES` sets the number of workers (default: `default_processes()`, one
per core the crawl may run on and one more); 0 analyses in the reactor thread, as a plain
Scrapy callback would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import heapq
import itertools
import logging
import math
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.spawn
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import FrameType

from crawler.items import ANALYSIS_FAILED, ARTICLE, AnalysisRequest, PageAnalysis

logger = logging.getLogger(__name__)

# A worker is replaced after this many pages: whatever a pathological page leaves behind in
# lxml or trafilatura caches does not accumulate.
PAGES_PER_WORKER = 2000
PR_SET_PDEATHSIG = 1
WATCHDOG_SECONDS = 0.5
DEFAULT_ANALYSIS_TIMEOUT = 60.0
# Workers run below the crawl process's priority: when the cores are all busy, the reactor,
# the archive's writer and the database server answer first, and the workers take what is left.
WORKER_NICENESS = 10
TIMED_OUT = "extraction timed out"
# The crawl's main script, for its fork server to load (crawler.workers_main).
WORKERS_SCRIPT_VARIABLE = "_NEWSARCHIVE_WORKERS_SCRIPT"
# A worker's alarm takes effect between Python steps: one lxml call over a page of tens of
# megabytes (a parse, an XPath) can outlast it by seconds, and is no reason to stop the workers.
BACKSTOP_GRACE = 30.0
# Bytes the pipes between the crawl process and its workers hold (Linux's default is 64 KB,
# less than one news page): the pages queued for the workers wait whole in the pipe, so a
# worker takes its next page without waiting for the crawl process's threads to write it.
PIPE_BYTES = 1 << 20
PIPE_MAX_SIZE = "/proc/sys/fs/pipe-max-size"  # what an unprivileged process may ask


class PageTimeout(BaseException):
    """A worker's page is over its time. A BaseException: trafilatura's and htmldate's
    `except Exception` clauses must not catch it halfway through the page."""


class _Alarm:
    armed = False


def _out_of_time(signum: int, frame: FrameType | None) -> None:
    if _Alarm.armed:  # not a late alarm for a page already done
        raise PageTimeout


def timed_out(timeout: float) -> PageAnalysis:
    return PageAnalysis(kind=ARTICLE, rejection=f"{TIMED_OUT} after {timeout:.0f} s")


def analyze_page(request: AnalysisRequest) -> PageAnalysis:
    """crawler.analysis.analyze_page, imported where a page is analysed (a worker, or a crawl
    without workers): the crawl process itself never loads trafilatura."""
    from crawler import analysis

    return analysis.analyze_page(request)


def analyze_within(request: AnalysisRequest, timeout: float) -> PageAnalysis:
    """In a worker: analyse the page, or give it up once its own analysis has taken `timeout`
    seconds (a real-time alarm, set when the worker starts the page); the worker lives on."""
    if not hasattr(signal, "setitimer"):
        return analyze_page(request)
    signal.signal(signal.SIGALRM, _out_of_time)
    try:
        _Alarm.armed = True
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return analyze_page(request)
        finally:
            _Alarm.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except PageTimeout:
        return timed_out(timeout)


def start_worker(crawl: int, niceness: int) -> None:
    """Initialise a worker process: lower its priority by `niceness` and tie it to `crawl`."""
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    die_with_crawl(crawl)


def die_with_crawl(crawl: int) -> None:
    """In a worker: end when the crawl process `crawl` that asked for it is gone, so that a
    crawl killed with SIGKILL leaves no worker behind, nor a page analysed for nobody.

    Forked from the fork server, a worker waits on the crawl process itself (a pidfd, readable
    once the crawl has ended, also if it ended while this worker was still starting): its
    parent is the fork server, which lives on as long as any of its workers does (each holds
    the pipe whose closing ends it), so it cannot be what a worker watches. Spawned (where
    there are no pidfds), the worker's parent is the crawl: the kernel's parent-death signal
    (Linux) and a watchdog thread that notices the worker was handed to another parent.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    try:
        crawl_ended = os.pidfd_open(crawl)
    except ProcessLookupError:
        os._exit(1)  # the crawl is already gone
    except (AttributeError, OSError):  # no pidfd: this worker was spawned by the crawl
        crawl_ended = None

    def watch() -> None:
        if crawl_ended is not None:
            select.select([crawl_ended], [], [])
        else:
            while os.getppid() == parent:
                time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="crawl-watchdog", daemon=True).start()


def worker_context() -> multiprocessing.context.BaseContext:
    """How workers start: forked from a fork server that preloaded `crawler.analysis` where a
    worker can wait on the crawl process (pidfds: Linux 5.3 and later), else spawned. The fork
    server is the process's own, shared by every pool; the first pool to need a worker starts
    it."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.analysis", *main_module_preload()])
    return context


def start_fork_server(context: multiprocessing.context.BaseContext | None = None) -> None:
    """Start the workers' fork server now, where workers are forked from one (`context`, by
    default `worker_context()`): it loads the analysis code (trafilatura, lxml, htmldate) on
    another core while the crawl process loads Scrapy and opens the crawl. Returns at once;
    does nothing if the server runs already."""
    if (context or worker_context()).get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


def main_module_preload() -> list[str]:
    """The module that started this process, for the fork server to load too.

    multiprocessing runs a process's main module again in every worker it starts (its rule, so
    that functions defined there can be sent): `scrapy crawl`'s script, or scrapyd's
    `python -m scrapyd.runner`, imports Scrapy, which each worker then imported for itself
    (0.3-0.4 s before its first page and 11 MB a worker, again whenever the workers are
    replaced). Loaded once in the fork server, it is already there when a worker runs it.
    `python -m crawler` (a package's `__main__`, which multiprocessing does not run again)
    needs nothing; the `newsarchive` script, a light one, goes the way of any script.
    """
    # The main module as a worker will look it up: by name (run with -m) or by path.
    started_by = multiprocessing.spawn.get_preparation_data("worker")
    if name := started_by.get("init_main_from_name"):
        return [] if name == "__main__" or name.endswith(".__main__") else [name]
    if script := started_by.get("init_main_from_path"):
        # A script (a console script such as `scrapy`): loaded by crawler.workers_main.
        os.environ[WORKERS_SCRIPT_VARIABLE] = script
        return ["crawler.workers_main"]
    return []  # python -c, an interactive session


# Pages handed to the workers at once, per worker: a worker done with one page finds the next
# waiting for it in the pipe, and the rest wait in the crawl process, where an urgent page can go
# before them (rather than behind the 170 pages a crawl holds, in ProcessPoolExecutor's queue).
PAGES_AT_WORKERS = 3


class PageGate:
    """Lets at most `limit` pages through at once; of the pages waiting, urgent ones first, then
    in the order they came (asyncio, in the reactor's loop)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.through = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    async def enter(self, *, urgent: bool = False) -> None:
        if self.through < self.limit and not self._waiting:
            self.through += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (0 if urgent else 1, next(self._arrivals), turn))
        try:
            await turn  # `leave` hands its place over: `through` stays as it is
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.leave()  # given a place it will not use
            raise

    def leave(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():  # not cancelled while it waited
                turn.set_result(None)
                return
        self.through -= 1


class AnalysisPool:
    """Worker processes analysing pages; shared by every crawl of the process.

    Workers are replaced every `pages_per_worker` pages, a whole pool at a time: the pool in
    use is retired (it finishes the pages it holds, then its processes end) and a new one takes
    the next pages. Not with ProcessPoolExecutor's own `max_tasks_per_child`, which deadlocks
    on Python 3.11 to 3.13 when a worker ends while pages wait (CPython gh-115634).
    """

    def __init__(
        self, processes: int, timeout: float, *, pages_per_worker: int = PAGES_PER_WORKER
    ) -> None:
        self.processes = processes
        self.timeout = timeout
        self.pages_per_worker = pages_per_worker
        self._executor: ProcessPoolExecutor | None = None
        self._submitted = 0  # pages given to the pool in use
        self._in_flight = 0  # pages given to the workers and not yet back
        self._context = worker_context()
        self._gate = PageGate(max(processes, 1) * PAGES_AT_WORKERS)
        if processes > 0:
            # Started by `newsarchive crawl` already (then this does nothing); a crawl started
            # otherwise (`scrapy crawl`, scrapyd) starts it as it opens, not once the first page
            # waits for a worker.
            start_fork_server(self._context)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is not None and self._submitted >= self.pages_per_worker * self.processes:
            self._executor.shutdown(wait=False)  # retired: it finishes what it holds
            self._executor = None
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=self._context,
                initializer=start_worker,
                initargs=(os.getpid(), WORKER_NICENESS),
            )
            widen_pipes(self._executor)
            self._submitted = 0
        self._submitted += 1
        return self._executor

    def backstop(self, ahead: int) -> float:
        """Seconds the crawl process waits for a page handed to the workers behind `ahead`
        others: a timeout for each round of pages before it and its own, one more, and
        BACKSTOP_GRACE for a library call the alarm has to wait out. Only a worker stuck where
        its alarm cannot reach runs into it."""
        return self.timeout * (math.ceil((ahead + 1) / self.processes) + 1) + BACKSTOP_GRACE

    async def analyze(self, request: AnalysisRequest, *, urgent: bool = False) -> PageAnalysis:
        """Analyse the page in a worker; never raises for the page's sake. An `urgent` page
        (the next page of a listing) goes before the pages waiting for a worker."""
        if self.processes <= 0:
            return _reported(request, analyze_page(request))
        await self._gate.enter(urgent=urgent)
        try:
            return await self._analyze(request)
        finally:
            self._gate.leave()

    async def _analyze(self, request: AnalysisRequest) -> PageAnalysis:
        for _ in range(2):
            executor = self._pool()
            future = asyncio.get_running_loop().run_in_executor(
                executor, analyze_within, request, self.timeout
            )
            backstop = self.backstop(self._in_flight)
            self._in_flight += 1
            try:
                analysis = await asyncio.wait_for(future, backstop)
            except TimeoutError:
                logger.warning("extraction of %s did not end in %.0f s: its workers are replaced",
                               request.url, backstop)  # fmt: skip
                self.restart(executor)
                return timed_out(self.timeout)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the crawl itself is cancelling this page
                # Another page's timeout stopped the workers, and this page with them.
                self.restart(executor)
            except BrokenProcessPool:
                # Another page's timeout stopped the workers, or a worker died.
                self.restart(executor)
            else:
                return _reported(request, analysis)
            finally:
                self._in_flight -= 1
        logger.warning("extraction of %s failed twice: its workers were stopped", request.url)
        return PageAnalysis(kind=ARTICLE, rejection="extraction failed: its workers were stopped")

    def restart(self, executor: ProcessPoolExecutor) -> None:
        """Stop the workers of `executor` (a stuck one included); the next page starts new."""
        if self._executor is executor:
            self._executor = None
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def widen_pipes(executor: ProcessPoolExecutor, size: int = PIPE_BYTES) -> None:
    """Let the pipes carrying pages to `executor`'s workers and their analyses back hold
    `size` bytes, or as many as /proc/sys/fs/pipe-max-size allows (Linux; elsewhere, or where
    a pipe may not grow, they keep their size).

    In a 64 KB pipe a 90 KB page is written in parts: a worker done with one page waits for the
    crawl process's queue feeder thread, which waits for the GIL behind the reactor and the
    writer, to write the rest of the next. Whole in the pipe, the pages queued ahead are there
    when a worker is free (docs/performance.md: the cores' idle share during a crawl of the
    generated site 5.1-5.3% before, 1.7-2.2% after)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    with contextlib.suppress(OSError, ValueError):
        size = min(size, int(Path(PIPE_MAX_SIZE).read_text()))
    for queue in (getattr(executor, "_call_queue", None), getattr(executor, "_result_queue", None)):
        connection = getattr(queue, "_writer", None)
        if connection is not None:
            with contextlib.suppress(OSError):  # over the system's limit: the default stays
                fcntl.fcntl(connection.fileno(), set_size, size)


def _reported(request: AnalysisRequest, analysis: PageAnalysis) -> PageAnalysis:
    """Log, in the crawl process, a page its worker gave up or could not analyse."""
    if analysis.rejection.startswith((TIMED_OUT, ANALYSIS_FAILED)):
        logger.warning("%s: %s", request.url, analysis.rejection)
    return analysis


_pools: dict[tuple[int, float], AnalysisPool] = {}


def default_processes() -> int:
    """One worker per core this process may run on (its CPU affinity, as `taskset` or a
    container's cpuset leave it), and one more: the crawl process itself uses part of a core,
    and while a worker waits for its next page the extra one (also at the workers' lower
    priority) takes the core. On 2 cores, 3 workers crawled the real pages 7% faster than 2 in
    six alternating pairs of runs, 4 no faster than 3 (docs/performance.md)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity outside Linux
        cores = os.cpu_count() or 1
    return cores + 1


def analysis_pool(processes: int | None, timeout: float) -> AnalysisPool:
    """The process's pool for these settings (crawls of one process share it)."""
    count = default_processes() if processes is None else processes
    key = (count, timeout)
    if key not in _pools:
        _pools[key] = AnalysisPool(count, timeout)
    return _pools[key]


def close_pools() -> None:
    for pool in _pools.values():
        pool.close()
    _pools.clear()
