"""End-to-end crawl throughput on a generated news site, against two baselines, in one run.

    python benchmarks/crawl_throughput.py [--articles 5000] [--postgresql URL] [--checkpoints 1000]
                                          [--rounds 3]

Serves a generated site (tests/support/news_farm.py: three templates, pages of about 86 KB
shaped as real news pages, as benchmarks/page_shapes.py measures them) from a separate process
on 127.0.0.1, with every page rendered before the clock starts, then measures:

- newsarchive: `newsarchive crawl` of the whole site into a new SQLite archive (and into
  PostgreSQL with --postgresql): wall time, pages per second, CPU seconds per page (the crawl
  process and its worker processes), peak RSS; and, every `--checkpoints` archived articles,
  the resident memory of the crawl process and of its workers and the rate since the last
  checkpoint, to show whether memory grows or speed falls as the archive grows; and how the
  CPU divides between the crawl process and its worker processes;
- baseline (a): plain trafilatura extracting the same article pages in a loop on one core,
  before every run and after the last: each run's ratio is to the mean of the loops just
  before and after it (the machine's speed drifts within minutes);
- baseline (b): a bare Scrapy spider fetching the same pages and doing nothing with them;
- ceilings (c) and (d): a Scrapy spider handing each page to a pool of processes (one per core
  and one more, as the crawl's workers) that extracts it with plain trafilatura (c), or with
  the trafilatura pass the crawl runs (precision, fast, its XPath evaluated as
  crawler.fast_xpaths does, without the tree copies crawler.tree_copies skips: d), storing
  nothing:
  what a crawl on this machine could reach with trafilatura, before parsing once, metadata,
  notices, dates and the archive.

With --postgresql, the CPU the PostgreSQL server's processes on this machine used during the
crawl is reported too: it runs on the same two cores. With --rounds N, the archive crawls run
N times (SQLite, PostgreSQL, SQLite, ...), each against its own baseline, and the median ratio
of each database is reported.

Figures go to stdout as a table, with the machine's name, core count and the ratios.
"""

from __future__ import annotations

import argparse
import ctypes
import gzip
import multiprocessing
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402

from crawler.workers import default_processes  # noqa: E402
from storage.database import make_engine  # noqa: E402
from tests.support.news_farm import NewsFarm, serve_news_farm  # noqa: E402
from tests.support.processes import children, cpu_seconds, descendants  # noqa: E402

LOCAL = ["-s", "ARCHIVE_ALLOW_PRIVATE_ADDRESSES=1", "-s", "AUTOTHROTTLE_ENABLED=0",
         "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
         "-s", "CONCURRENT_REQUESTS=16"]  # fmt: skip
PR_SET_CHILD_SUBREAPER = 36
# The command a user runs (its workers import the script that started them: measured from
# `python -m crawler` instead, they skipped that); the module where the project is not installed.
_SCRIPT = Path(sys.executable).with_name("newsarchive")
NEWSARCHIVE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "crawler"]


@dataclass
class Run:
    name: str
    pages: int
    wall: float
    cpu: float
    peak_rss_mb: float
    # (articles archived, seconds since the start, memory of the crawl: crawl_memory_mb)
    checkpoints: list[tuple[int, float, tuple[float, float, float]]] = field(default_factory=list)
    # CPU seconds of each process the crawl started (its fork server, workers), last read
    worker_cpu: dict[int, float] = field(default_factory=dict)
    # CPU seconds of each process of a PostgreSQL server on this machine: at the start, last read
    server_cpu_start: dict[int, float] = field(default_factory=dict)
    server_cpu: dict[int, float] = field(default_factory=dict)
    baseline: float = 0.0  # (a), pages a second: the mean of its loops just before and after

    @property
    def server_seconds(self) -> float:
        return sum(
            used - self.server_cpu_start.get(pid, 0.0) for pid, used in self.server_cpu.items()
        )

    @property
    def rate(self) -> float:
        return self.pages / self.wall


def serve(farm_articles: int, port_pipe: Connection) -> None:
    """Serve the generated site, every page rendered in advance, in its own process (so that
    serving does not share the crawl's cores' GIL)."""
    with serve_news_farm(farm_articles, prerender=True) as server:
        port_pipe.send(server.server_address[1])
        threading.Event().wait()  # until the benchmark terminates this process


def start_site(articles: int) -> tuple[str, multiprocessing.Process]:
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(articles, send), daemon=True)
    server.start()
    return f"http://127.0.0.1:{receive.recv()}", server


# --- the real pages of ../shared/benchmarks/article-extraction as one site --------------------


def real_page_paths(folder: Path, copies: int) -> list[str]:
    """The URL paths of the benchmark's real article pages, each served at `copies` URLs (a
    longer run: the crawl's start-up is a smaller share of it)."""
    count = len(list(folder.glob("html/*.html.gz")))
    return [f"/real/{copy}/{number}.html" for copy in range(copies) for number in range(count)]


def real_pages(folder: Path, copies: int) -> dict[str, bytes]:
    """The real article pages at their paths, under a home page that lists them all."""
    pages = [gzip.decompress(file.read_bytes()) for file in sorted(folder.glob("html/*.html.gz"))]
    paths = real_page_paths(folder, copies)
    site = {path: pages[index % len(pages)] for index, path in enumerate(paths)}
    teasers = "".join(f'<article><h2><a href="{path}">Story {index}</a></h2></article>'
                      for index, path in enumerate(paths))  # fmt: skip
    home = f"<html><head><title>Real pages</title></head><body>{teasers}</body></html>"
    site["/"] = home.encode()
    return site


class _RealPageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pages: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path.split("?", 1)[0])
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_real(folder: Path, copies: int, port_pipe: Connection) -> None:
    _RealPageHandler.pages = real_pages(folder, copies)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RealPageHandler)
    server.daemon_threads = True
    port_pipe.send(server.server_address[1])
    server.serve_forever()


def start_real_site(folder: Path, copies: int) -> tuple[str, multiprocessing.Process]:
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve_real, args=(folder, copies, send), daemon=True)
    server.start()
    return f"http://127.0.0.1:{receive.recv()}", server


def measure(
    name: str,
    pages: int,
    command: list[str],
    *,
    count: Callable[[], int] | None = None,
    every: int = 1000,
    database_server: bool = False,
) -> Run:
    """Run `command` in a child process; return its wall time, CPU time and peak RSS, and, if
    `count` tells how many articles are archived so far, the memory of the crawl (its process
    and its worker processes) each time another `every` articles are in."""
    run = Run(name, pages, 0.0, 0.0, 0.0)
    if database_server:  # a PostgreSQL server on this machine: its CPU counts as the run's
        run.server_cpu_start = database_server_cpu_seconds()
    ours = set(children(os.getpid()))  # the site's server: not the run's
    used_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        next_checkpoint, reaped = every, False
        try:
            while count is not None:
                finished, status, usage = os.wait4(child.pid, os.WNOHANG)
                if finished:
                    reaped = True
                    break
                archived = count()
                run.worker_cpu.update(workers_cpu_seconds(child.pid))
                if database_server:
                    run.server_cpu.update(database_server_cpu_seconds())
                if archived >= next_checkpoint:
                    elapsed = time.perf_counter() - started
                    run.checkpoints.append((archived, elapsed, crawl_memory_mb(child.pid)))
                    next_checkpoint = (archived // every + 1) * every
                time.sleep(0.25)
            else:
                _, status, usage = os.wait4(child.pid, 0)  # its peak RSS
                reaped = True
        finally:
            if not reaped:  # the benchmark failed or was interrupted: no crawl left behind
                child.kill()
                child.wait()
        run.wall = time.perf_counter() - started
        reap_left_behind(ours)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{name} failed:\n{errors.read().decode()[-3000:]}")
    # CPU: the run's process and every process it started, reaped by it or, left behind, here.
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu = used.ru_utime + used.ru_stime - used_before.ru_utime - used_before.ru_stime
    run.peak_rss_mb = usage.ru_maxrss / 1024
    return run


def adopt_orphans() -> None:
    """Make this process the reaper of what a run leaves behind (a crawl's fork server ends
    just after the crawl, with its workers' CPU time), so that their CPU counts as the run's."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)


def reap_left_behind(ours: set[int]) -> None:
    """Wait for the processes a finished run left to this one (see adopt_orphans)."""
    while left := set(children(os.getpid())) - ours:
        for pid in left:
            os.waitpid(pid, 0)


def workers_cpu_seconds(pid: int) -> dict[int, float]:
    """The CPU seconds (user and system) each process the crawl started has used so far."""
    used = {}
    for worker in descendants(pid):
        try:
            used[worker] = cpu_seconds(worker)
        except FileNotFoundError:
            continue
    return used


def empty_archive(database_url: str, folder: str, round_: int) -> str:
    """A new SQLite archive for another round, or the PostgreSQL database emptied of the last
    round's tables."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{folder}/archive-{round_}.db"
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return database_url


def database_server_cpu_seconds() -> dict[int, float]:
    """The CPU seconds each process of a PostgreSQL server on this machine has used so far (its
    backends end with their connections: read while the crawl runs). Empty without one."""
    used = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                used[int(entry.name)] = cpu_seconds(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return used


def crawl_memory_mb(pid: int) -> tuple[float, float, float]:
    """The memory of the crawl, in MB: the resident memory of its process, and of the processes
    it started (fork server, workers) summed, and their proportional share (PSS: memory the
    workers share with the fork server they came from counted once)."""
    started = descendants(pid)
    return (_memory_kb(pid, "VmRSS:", "status") / 1024,
            sum(_memory_kb(p, "VmRSS:", "status") for p in started) / 1024,
            sum(_memory_kb(p, "Pss:", "smaps_rollup") for p in started) / 1024)  # fmt: skip


def _memory_kb(pid: int, key: str, file: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/{file}").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(key)), 0)


def archived_articles(database_url: str) -> Callable[[], int]:
    """A function that counts the articles in the archive being filled (read-only)."""
    engine = make_engine(database_url)

    def count() -> int:
        try:
            with engine.connect() as connection:
                return int(connection.execute(text("SELECT count(*) FROM articles")).scalar() or 0)
        except DBAPIError:
            return 0  # not created yet

    return count


TRAFILATURA_LOOP = """
import sys, time, urllib.request, trafilatura
urls = sys.argv[1:]
bodies = [urllib.request.urlopen(url).read().decode() for url in urls]
started = time.process_time()
for body in bodies:
    trafilatura.extract(body, include_comments=False)
print(time.process_time() - started)
"""

BARE_SCRAPY = """
import sys
from scrapy import Spider, Request
from scrapy.crawler import CrawlerProcess

urls = open(sys.argv[1]).read().split()

class Bare(Spider):
    name = "bare"
    async def start(self):
        for url in urls:
            yield Request(url, callback=self.parse)
    def parse(self, response):
        return None

process = CrawlerProcess({"LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": 16,
                          "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "ROBOTSTXT_OBEY": False,
                          "TELNETCONSOLE_ENABLED": False})
process.crawl(Bare)
process.start()
"""

# The bare spider, each page extracted in a pool of processes (argv[2]: "plain" for
# trafilatura's defaults, "crawl" for the pass crawler.extraction runs first; argv[3]: how many).
SCRAPY_TRAFILATURA = """
import asyncio, os, sys
from concurrent.futures import ProcessPoolExecutor
import trafilatura
from scrapy import Spider, Request
from scrapy.crawler import CrawlerProcess

urls = open(sys.argv[1]).read().split()
OPTIONS = {"plain": {}, "crawl": {"favor_precision": True, "fast": True}}[sys.argv[2]]
if sys.argv[2] == "crawl":  # with the crawl's Python evaluation of trafilatura's XPath
    from crawler import fast_xpaths, tree_copies  # and without the copies it never reads
    fast_xpaths.install()
    tree_copies.install()

def extract(body):
    return len(trafilatura.extract(body.decode(), include_comments=False, **OPTIONS) or "")

class Extracting(Spider):
    name = "extracting"
    pool = ProcessPoolExecutor(int(sys.argv[3]))  # as many as the crawl's workers
    async def start(self):
        for url in urls:
            yield Request(url, callback=self.parse)
    async def parse(self, response):
        await asyncio.wrap_future(self.pool.submit(extract, response.body))

process = CrawlerProcess({"LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": 16,
                          "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "ROBOTSTXT_OBEY": False,
                          "TELNETCONSOLE_ENABLED": False})
process.crawl(Extracting)
process.start()
Extracting.pool.shutdown()
"""


def trafilatura_loop(urls: list[str]) -> float:
    """Baseline (a): plain trafilatura's pages a second over `urls`, one core."""
    loop = subprocess.run(
        [sys.executable, "-c", TRAFILATURA_LOOP, *urls], capture_output=True, text=True, check=True
    )
    return len(urls) / float(loop.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--checkpoints", type=int, default=1000,
                        help="report memory every this many archived articles")  # fmt: skip
    parser.add_argument("--postgresql", metavar="URL", help="also crawl into this (empty) database")
    parser.add_argument("--baseline-pages", type=int, default=500,
                        help="article pages the trafilatura loop extracts")  # fmt: skip
    parser.add_argument("--real-pages", metavar="DIR", type=Path,
                        help="crawl the real pages of this article-extraction benchmark folder "
                             "instead of the generated site")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1,
                        help="crawl into each archive this many times, alternating")  # fmt: skip
    parser.add_argument("--copies", type=int, default=10,
                        help="with --real-pages: URLs each real page is served at")  # fmt: skip
    args = parser.parse_args()
    adopt_orphans()

    if args.real_pages:
        base, server = start_real_site(args.real_pages, args.copies)
        article_urls = [base + path for path in real_page_paths(args.real_pages, args.copies)]
        args.articles = len(article_urls)
        site = f"{len(article_urls)} URLs of {len(article_urls) // args.copies} real article pages"
    else:
        base, server = start_site(args.articles)
        farm = NewsFarm(base, args.articles)
        article_urls = [base + path for path in farm.article_paths()]
        site = f"{args.articles} article pages (+ {farm.listings} listings)"
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as folder:
        url_file = Path(folder) / "urls.txt"
        url_file.write_text("\n".join(article_urls))

        sample = article_urls[: args.baseline_pages]
        # (a) before every run and after the last: this machine's speed drifts within minutes,
        # so each run is compared with the loops just before and after it.
        trafilatura_rates = [trafilatura_loop(sample)]

        def measured(run: Run) -> None:
            trafilatura_rates.append(trafilatura_loop(sample))
            run.baseline = (trafilatura_rates[-2] + trafilatura_rates[-1]) / 2
            runs.append(run)

        measured(measure("(b) bare Scrapy fetch", len(article_urls),
                         [sys.executable, "-c", BARE_SCRAPY, str(url_file)]))  # fmt: skip
        ceilings = [("(c) Scrapy + plain trafilatura, all cores", "plain"),
                    ("(d) Scrapy + the crawl's trafilatura pass", "crawl")]  # fmt: skip
        for name, options in ceilings:
            command = [sys.executable, "-c", SCRAPY_TRAFILATURA, str(url_file), options,
                       str(default_processes())]  # fmt: skip
            measured(measure(name, len(article_urls), command))

        databases = [("SQLite", f"sqlite:///{folder}/archive.db")]
        if args.postgresql:
            databases.append(("PostgreSQL", args.postgresql))
        # The real pages, served out of their sites, link to pages this server does not have:
        # the crawl fetches the home page and the pages it lists, the pages the baselines get.
        same_pages = ["-s", "DEPTH_LIMIT=1"] if args.real_pages else []
        for round_ in range(args.rounds):
            for label, database in databases:
                if round_:
                    database = empty_archive(database, folder, round_)
                command = [*NEWSARCHIVE, "crawl", f"{base}/", "--db", database,
                           "--no-progress", *LOCAL, *same_pages]  # fmt: skip
                count = archived_articles(database)
                measured(measure(f"newsarchive, {label}", args.articles, command, count=count,
                                 every=args.checkpoints,
                                 database_server=label == "PostgreSQL"))  # fmt: skip
    server.terminate()
    trafilatura_rate = sum(trafilatura_rates) / len(trafilatura_rates)

    processor = platform.processor() or platform.machine()
    print(f"machine: {socket.gethostname()}, {os.cpu_count()} cores, {processor}, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(
        f"site: {site}, "
        f"baseline (a): plain trafilatura.extract on {len(sample)} of them, one core, before "
        f"each run and after the last: {', '.join(f'{r:.1f}' for r in trafilatura_rates)} "
        f"pages/s (mean {trafilatura_rate:.1f}, {1000 / trafilatura_rate:.1f} ms/page); each "
        "run's ratio is to the mean of the loops just before and after it"
    )
    print()
    print(f"{'run':44} {'pages':>6} {'wall s':>8} {'pages/s':>8} {'CPU ms/page':>12} "
          f"{'peak RSS MB':>12} {'(a) pages/s':>12} {'x trafilatura':>14}")  # fmt: skip
    for run in runs:
        print(f"{run.name:44} {run.pages:6d} {run.wall:8.1f} {run.rate:8.1f} "
              f"{1000 * run.cpu / run.pages:12.1f} {run.peak_rss_mb:12.0f} "
              f"{run.baseline:12.1f} {run.rate / run.baseline:14.2f}")  # fmt: skip
    if args.rounds > 1:
        for label, _ in databases:
            ratios = sorted(r.rate / r.baseline for r in runs if r.name.endswith(label))
            each = ", ".join(f"{ratio:.2f}" for ratio in ratios)
            print(f"newsarchive, {label}: median {statistics.median(ratios):.2f}x trafilatura "
                  f"over {len(ratios)} rounds ({each})")  # fmt: skip
    bare, ceiling = runs[0], runs[2]
    for run in runs[3:]:
        print(f"{run.name}: {bare.rate / run.rate:.1f}x slower than the bare Scrapy fetch, "
              f"{ceiling.rate / run.rate:.1f}x slower than (d)")  # fmt: skip
        workers = sum(run.worker_cpu.values())
        print(f"  CPU a page: crawl process (reactor, writer, passing pages) "
              f"{1000 * (run.cpu - workers) / run.pages:.1f} ms, worker processes "
              f"{1000 * workers / run.pages:.1f} ms (read from /proc every 0.25 s)")  # fmt: skip
        if run.server_cpu:
            server_ms = 1000 * run.server_seconds / run.pages
            print(f"  the PostgreSQL server, on the same cores: {server_ms:.1f} ms of CPU a page "
                  "(its processes, read from /proc every 0.25 s)")  # fmt: skip
        before = (0, 0.0)
        for archived, elapsed, (own, workers, share) in run.checkpoints:
            rate = (archived - before[0]) / (elapsed - before[1])
            before = (archived, elapsed)
            print(f"  at {archived:6d} articles: crawl process {own:6.0f} MB RSS, "
                  f"worker processes {workers:6.0f} MB RSS ({share:4.0f} MB PSS); "
                  f"{rate:6.1f} articles/s since the last line")  # fmt: skip


if __name__ == "__main__":
    main()
