"""The DNS resolver of the crawl: Scrapy's caching resolver, refusing non-public answers.

PrivateAddressMiddleware checks a request's host before it is sent; this resolver checks the
address Twisted is about to connect to, at connect time. A host whose DNS answer changes between
the two (DNS rebinding: public when checked, 127.0.0.1 when connected) is refused here, on the
very address that would have been used (../shared/reliability-catalog.md, S07).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from crawler.middlewares import is_public_address

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase


class PublicAddressResolver(CachingThreadedResolver):
    """Resolve host names; refuse non-public addresses unless ARCHIVE_ALLOW_PRIVATE_ADDRESSES."""

    allow_private = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_private = crawler.settings.getbool("ARCHIVE_ALLOW_PRIVATE_ADDRESSES")
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        resolved = super().getHostByName(name, timeout)
        if not self.allow_private:
            resolved.addCallback(self._refuse_private, name)
        return resolved

    @staticmethod
    def _refuse_private(address: str, name: str) -> str:
        if not is_public_address(address):
            # Twisted reports any resolver error as "no results for hostname lookup": say why.
            reason = (
                f"{name} resolves to the non-public address {address}: refused at connect time "
                "(set ARCHIVE_ALLOW_PRIVATE_ADDRESSES to allow it)"
            )
            logger.warning("%s", reason)
            raise DNSLookupError(reason)
        return address
