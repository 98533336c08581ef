"""Python's garbage collector, tuned while a crawl runs (a Scrapy extension).

CPython collects its youngest generation every 700 new container objects, and its whole heap
(all the modules, classes and functions of Scrapy, Twisted, SQLAlchemy, ...: 130,000 objects
once a crawl has started) every so often after that. A crawl makes and drops objects by the
hundred for every page (requests, Deferreds, coroutines, items), which kept its process
collecting: 3.3-3.8 s of the crawl process's 20 s of CPU for 5,000 pages (docs/performance.md).

While a crawl runs, the objects the process holds when its engine starts are frozen (left out
of every collection: they live as long as the process) and the youngest generation is
collected every YOUNG_GENERATION_THRESHOLD new objects: 0.4-0.5 s for the same crawl, most of
it before its engine starts. Objects made during the crawl are collected as before, only less
often (the crawl process's memory at 20,000 pages is the same either way); once the last crawl
of the process stops, the collector is as it was (for a program that runs crawls in its own
process).
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Self

from scrapy import signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

YOUNG_GENERATION_THRESHOLD = 20_000


class GarbageCollection:
    """Freeze what a crawl starts with and collect the young generation less often."""

    running = 0  # crawls of this process whose engine runs
    saved_thresholds: tuple[int, int, int] | None = None

    def __init__(self) -> None:
        self.started = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls()
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_started(self) -> None:
        process = GarbageCollection  # the collector is the process's: so is this state
        self.started = True
        process.running += 1
        if process.running > 1:
            return  # another crawl of this process tuned it already
        gc.collect()  # what start-up left as garbage is not frozen with the rest
        gc.freeze()
        process.saved_thresholds = gc.get_threshold()
        _, middle, oldest = process.saved_thresholds
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)

    def engine_stopped(self) -> None:
        process = GarbageCollection
        if not self.started:
            return
        self.started = False
        process.running -= 1
        if process.running > 0 or process.saved_thresholds is None:
            return
        gc.set_threshold(*process.saved_thresholds)
        process.saved_thresholds = None
        gc.unfreeze()
