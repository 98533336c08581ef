"""The crawl's garbage collection (crawler/garbage.py), driven by a crawler's own signals."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.extension import ExtensionManager
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.garbage import YOUNG_GENERATION_THRESHOLD, GarbageCollection
from crawler.spiders.news import NewsSpider


class Node:
    """An object that can be in a reference cycle and be watched with a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def a_cycle() -> weakref.ref[Node]:
    """Make two objects that only refer to each other (garbage for the collector alone)."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)


def project_crawler() -> Crawler:
    """A crawler with the project's extensions, built by Scrapy as a crawl builds them."""
    extensions = get_project_settings().getdict("EXTENSIONS")
    crawler = get_crawler(NewsSpider, settings_dict={"EXTENSIONS": extensions})
    ExtensionManager.from_crawler(crawler)
    return crawler


@pytest.fixture(autouse=True)
def collector_as_found() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    GarbageCollection.running, GarbageCollection.saved_thresholds = 0, None


def test_while_a_crawl_runs_what_it_started_with_is_left_out_of_collections():
    crawler = project_crawler()
    thresholds = gc.get_threshold()
    held_since_start = Node()
    crawler.signals.send_catch_log(signals.engine_started)

    assert gc.get_freeze_count() > 10_000  # the modules, classes and functions loaded so far
    assert not any(obj is held_since_start for obj in gc.get_objects())
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *thresholds[1:])

    crawler.signals.send_catch_log(signals.engine_stopped)
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0
    assert any(obj is held_since_start for obj in gc.get_objects())


def test_garbage_made_during_a_crawl_is_still_collected():
    crawler = project_crawler()
    crawler.signals.send_catch_log(signals.engine_started)
    made_while_crawling = a_cycle()

    assert made_while_crawling() is not None
    gc.collect()
    assert made_while_crawling() is None
    crawler.signals.send_catch_log(signals.engine_stopped)


def test_the_collector_is_restored_only_when_the_last_crawl_of_the_process_stops():
    first, second = project_crawler(), project_crawler()
    thresholds = gc.get_threshold()
    first.signals.send_catch_log(signals.engine_started)
    second.signals.send_catch_log(signals.engine_started)

    first.signals.send_catch_log(signals.engine_stopped)
    assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
    assert gc.get_freeze_count() > 0

    second.signals.send_catch_log(signals.engine_stopped)
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_a_crawl_whose_engine_never_started_changes_nothing():
    crawler = project_crawler()
    thresholds = gc.get_threshold()
    crawler.signals.send_catch_log(signals.engine_stopped)

    assert gc.get_threshold() == thresholds
    assert GarbageCollection.running == 0
