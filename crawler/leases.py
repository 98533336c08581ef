"""SourceLeaseExtension: keep a source's lease while its crawl runs, give it back at the end.

`newsarchive crawl --due` takes the lease before the crawl starts (crawler.scheduling); this
extension renews it every third of its time to live, so that a crawl that dies stops renewing
and another run can take the source over, and releases it when the crawl closes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

from storage.database import make_engine, make_session_factory, session_scope
from storage.scheduling import release_lease, renew_lease

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class SourceLeaseExtension:
    def __init__(self, *, database_url: str, source: str, owner: str, ttl: timedelta) -> None:
        self.database_url = database_url
        self.source = source
        self.owner = owner
        self.ttl = ttl
        self.heartbeat = LoopingCall(self.renew)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        source = crawler.settings.get("ARCHIVE_SOURCE")
        owner = crawler.settings.get("ARCHIVE_LEASE_OWNER")
        if not source or not owner:
            raise NotConfigured  # a plain crawl of URLs: no source, no lease
        extension = cls(
            database_url=crawler.settings.get("ARCHIVE_DATABASE_URL"),
            source=source,
            owner=owner,
            ttl=timedelta(seconds=crawler.settings.getint("ARCHIVE_LEASE_SECONDS", 600)),
        )
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.engine = make_engine(self.database_url, immediate_transactions=True)
        self.sessions = make_session_factory(self.engine)
        self.heartbeat.start(self.ttl.total_seconds() / 3, now=False)

    def renew(self) -> None:
        with session_scope(self.sessions) as session:
            kept = renew_lease(
                session, self.source, owner=self.owner, now=datetime.now(UTC), ttl=self.ttl
            )
        if not kept:
            logger.warning("lost the lease of source %s to another run", self.source)

    def spider_closed(self, spider: Spider) -> None:
        if self.heartbeat.running:
            self.heartbeat.stop()
        with session_scope(self.sessions) as session:
            release_lease(session, self.source, owner=self.owner)
        self.engine.dispose()
