"""The frontier of a crawl on one machine, in bounded memory (catalog L02).

Scrapy keeps every request it has not fetched yet as a Python object in memory: about 2 KB each,
so a sitemap index listing a million articles takes two gigabytes before the first is fetched.
`SpillingLifoQueue`, Scrapy's `SCHEDULER_MEMORY_QUEUE` here, keeps the newest requests of each
site and priority (Scrapy's scheduler has a queue for each) in memory, up to
`ARCHIVE_FRONTIER_MEMORY_REQUESTS`, and moves the oldest ones, as JSON (the shared crawl's
serializer, `crawler.distributed`: no pickle, no code), to a temporary SQLite database of its
own. SQLite deletes that file when the queue closes, and a
process that is killed leaves nothing behind either: the file is unlinked as soon as it is
created and only its open handle keeps it. Nothing is resumed from it: a killed crawl starts
again from its start URLs and skips what the archive already holds, as it always did.

Why not Scrapy's disk queues: they need JOBDIR, which pickles the requests and the spider's
state into a folder the next run trusts (catalog S12), and queuelib's files are only consistent
after a clean close.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections import deque
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request
from scrapy.utils.request import request_from_dict

from crawler.distributed import dumps, loads, request_dict

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# Requests each queue (one per site and priority) keeps in memory before the oldest move to disk.
DEFAULT_MEMORY_REQUESTS = 2000
# Page cache of a queue's database (KiB): what it holds in memory of the spilled requests.
CACHE_KIB = 1024


class SpillingLifoQueue:
    """A last-in first-out queue of requests: the newest `memory_requests` in memory, older
    ones in a temporary SQLite database, brought back, newest first, when memory runs empty.

    A request that cannot be written as JSON (a callback that is not the spider's, an object in
    its meta that JSON cannot carry) stays in memory; it may then come out before requests
    pushed after it, which a crawl's order does not depend on."""

    def __init__(
        self,
        spider: Spider | None,
        memory_requests: int = DEFAULT_MEMORY_REQUESTS,
        stats: StatsCollector | None = None,
    ) -> None:
        self.spider = spider
        self.stats = stats
        self.memory_requests = max(2, memory_requests)
        self.memory: deque[Request] = deque()
        self.database: sqlite3.Connection | None = None
        self.spilled = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        return cls(
            crawler.spider,
            crawler.settings.getint("ARCHIVE_FRONTIER_MEMORY_REQUESTS", DEFAULT_MEMORY_REQUESTS),
            crawler.stats,
        )

    def push(self, request: Request) -> None:
        self.memory.append(request)
        if len(self.memory) > self.memory_requests:
            self._spill(len(self.memory) // 2)

    def pop(self) -> Request | None:
        if not self.memory and self.spilled:
            self._unspill()
        return self.memory.pop() if self.memory else None

    def peek(self) -> Request | None:
        if not self.memory and self.spilled:
            self._unspill()
        return self.memory[-1] if self.memory else None

    def close(self) -> None:
        if self.database is not None:
            self.database.close()  # SQLite deletes the file
            self.database = None
        self.memory.clear()
        self.spilled = 0

    def __len__(self) -> int:
        return len(self.memory) + self.spilled

    def _spill(self, count: int) -> None:
        """Move the `count` oldest requests in memory to the database (below everything
        already there being older still, the order of the stack is kept). Should the file
        fail (a full disk), they stay in memory and the queue stops spilling, saying so once."""
        taken = [self.memory.popleft() for _ in range(count)]
        rows, kept = [], []
        for request in taken:
            try:
                rows.append((dumps(request_dict(request, self.spider)),))
            except (TypeError, ValueError):
                kept.append(request)
        try:
            if rows:
                database = self._database()
                database.execute("BEGIN")
                database.executemany("INSERT INTO frontier (entry) VALUES (?)", rows)
                database.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.database is not None and self.database.in_transaction:
                self.database.execute("ROLLBACK")
            logger.warning("the frontier's temporary file cannot grow (%s): requests stay in "
                           "memory from now on", exc)  # fmt: skip
            self.memory.extendleft(reversed(taken))
            self.memory_requests = sys.maxsize
            return
        self.memory.extendleft(reversed(kept))
        self.spilled += len(rows)
        if self.stats is not None and rows:
            self.stats.inc_value("archive/frontier_spilled", len(rows))

    def _unspill(self) -> None:
        """Bring back the newest spilled requests, half as many as memory holds (room for
        the requests their pages lead to before the next spill)."""
        database = self._database()
        database.execute("BEGIN")
        rows = database.execute(
            "SELECT id, entry FROM frontier ORDER BY id DESC LIMIT ?", (self.memory_requests // 2,)
        ).fetchall()
        database.execute("DELETE FROM frontier WHERE id >= ?", (rows[-1][0],))
        database.execute("COMMIT")
        self.spilled -= len(rows)
        for _, entry in reversed(rows):
            self.memory.append(request_from_dict(loads(entry), spider=self.spider))

    def _database(self) -> sqlite3.Connection:
        if self.database is None:
            # "": a private temporary database, deleted by SQLite when closed (unlinked at once).
            self.database = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            # A rollback journal in memory: a failed write (a full disk) is undone, not half made.
            self.database.execute("PRAGMA journal_mode = MEMORY")
            self.database.execute("PRAGMA synchronous = OFF")
            self.database.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self.database.execute(
                "CREATE TABLE frontier (id INTEGER PRIMARY KEY, entry TEXT NOT NULL)"
            )
        return self.database
