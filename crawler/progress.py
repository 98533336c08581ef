"""ProgressExtension: a live line on stderr while a crawl runs (pages, articles, errors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from rich.console import Console
from rich.live import Live
from rich.text import Text
from scrapy import signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


def progress_line(stats: dict[str, object]) -> str:
    """Return the one-line summary of a crawl's stats so far."""

    def count(key: str) -> int:
        value = stats.get(key, 0)
        return int(value) if isinstance(value, int | float) else 0

    stored = count("archive/articles_new") + count("archive/articles_updated")
    return (
        f"pages fetched {count('archive/pages_fetched')} · "
        f"articles new {count('archive/articles_new')}, "
        f"updated {count('archive/articles_updated')}, "
        f"unchanged {count('archive/articles_unchanged')} · "
        f"not articles {count('item_dropped_reasons_count/NotAnArticle')} · "
        f"errors {count('archive/fetch_errors') + count('spider_exceptions/count')}"
        + ("" if stored or count("archive/pages_fetched") else " · starting")
    )


class _LiveStats:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    def __rich__(self) -> Text:
        return Text(progress_line(self.stats.get_stats()), style="cyan")


class ProgressExtension:
    """Shows progress while the crawl runs; `newsarchive crawl` enables it on a terminal."""

    def __init__(self, stats: StatsCollector, console: Console) -> None:
        self.live = Live(_LiveStats(stats), console=console, refresh_per_second=4, transient=True)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None  # noqa: S101 - Scrapy always provides one
        extension = cls(crawler.stats, Console(stderr=True))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        self.live.start()

    def spider_closed(self) -> None:
        self.live.stop()
