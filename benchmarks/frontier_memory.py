"""Memory of a crawl's frontier on one machine: a million URLs queued at once (catalog L02).

Each run is a fresh process that builds the crawl's Scrapy scheduler with the project's settings
and queues URLs as a sitemap's would be queued (the spider's requests for listed pages, with
their dates, through the per-site budget of SpiderTrapMiddleware and Scrapy's duplicate filter),
reading the process's resident memory every `--every` URLs; then it takes them all out again.
The same in one run with Scrapy's own memory queue, the baseline: every request a Python object.

    python benchmarks/frontier_memory.py [--urls 1000000] [--every 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

ONE_RUN = """
import json, resource, sys, time
from pathlib import Path
from scrapy.utils.test import get_crawler
from crawler.documents import ListedPage
from crawler.items import DateCandidate
from crawler.middlewares import SpiderTrapMiddleware
from crawler.spiders.news import NewsSpider

def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

queue, urls, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
settings = {"SCHEDULER_MEMORY_QUEUE": queue, "ARCHIVE_MAX_PAGES_PER_SITE": urls + 1}
crawler = get_crawler(NewsSpider, settings)
crawler.spider = spider = crawler._create_spider(start_urls="https://news.example/")
crawler.stats.open_spider()
crawler.engine = crawler._create_engine()  # the scheduler's queues ask its downloader for slots
budget = SpiderTrapMiddleware.from_crawler(crawler)
scheduler_class = crawler.settings["SCHEDULER"]
from scrapy.utils.misc import load_object
scheduler = load_object(scheduler_class).from_crawler(crawler)
scheduler.open(spider)
samples = [(0, rss_mb())]
started = time.perf_counter()
sitemap = "https://news.example/sitemap-1.xml"
for start in range(0, urls, 1000):
    pages = [ListedPage(url=f"https://news.example/{2000 + n % 25}/{n % 12 + 1:02d}/"
                            f"story-{n}-harbour-council-plans.html",
                        dates=(DateCandidate(value=f"{2000 + n % 25}-{n % 12 + 1:02d}-01",
                                             source="sitemap"),))
             for n in range(start, min(start + 1000, urls))]
    for request in spider.requests_for_listed(pages, sitemap):
        if budget.admit(request):
            scheduler.enqueue_request(request)
    if (start + 1000) % every == 0 or start + 1000 >= urls:
        samples.append((min(start + 1000, urls), rss_mb()))
queued = time.perf_counter() - started
assert len(scheduler) == urls, len(scheduler)
started = time.perf_counter()
taken = 0
while scheduler.next_request() is not None:
    taken += 1
taken_seconds = time.perf_counter() - started
assert taken == urls, taken
print(json.dumps({"samples": samples, "queue_s": queued, "take_s": taken_seconds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

QUEUES = [
    ("Scrapy's memory queue (baseline)", "scrapy.squeues.LifoMemoryQueue"),
    ("newsarchive: SpillingLifoQueue", "crawler.frontier.SpillingLifoQueue"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=200_000, help="read memory every N URLs")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    results = []
    for name, queue in QUEUES:
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-c", ONE_RUN, queue, str(args.urls), str(args.every)],
            capture_output=True, text=True, cwd=root, check=False,
            env={**os.environ, "PYTHONPATH": str(root)},
        )  # fmt: skip
        if run.returncode != 0:
            raise SystemExit(f"{name} failed:\n{run.stderr[-3000:]}")
        results.append((name, json.loads(run.stdout), time.perf_counter() - started))

    processor = platform.processor() or platform.machine()
    print(f"machine: {socket.gethostname()}, {os.cpu_count()} cores, {processor}, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"{args.urls} URLs queued as a sitemap's, then all taken out again")
    print()
    print(f"{'frontier':36} {'RSS MB at N URLs queued':>40} {'bytes/URL':>10} "
          f"{'queue µs/URL':>13} {'take µs/URL':>12} {'peak MB':>8}")  # fmt: skip
    baseline = None
    for name, result, _ in results:
        samples = result["samples"]
        growth = (samples[-1][1] - samples[0][1]) * 1024 * 1024 / args.urls
        along = " ".join(f"{mb:.0f}" for _, mb in samples)
        print(f"{name:36} {along:>40} {growth:10.0f} "
              f"{1e6 * result['queue_s'] / args.urls:13.1f} "
              f"{1e6 * result['take_s'] / args.urls:12.1f} {result['peak_mb']:8.0f}")  # fmt: skip
        if baseline is None:
            baseline = growth
        else:
            print(f"  memory per queued URL: {growth / baseline:.2f}x the baseline's")
    print(f"(samples at {', '.join(str(n) for n, _ in results[0][1]['samples'])} URLs)")


if __name__ == "__main__":
    main()
