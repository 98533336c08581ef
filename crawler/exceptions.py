"""Why an item stops: DropItem subclasses, each named after the counter it shows in the stats
(`item_dropped_reasons_count/NotAnArticle`)."""

from __future__ import annotations

from scrapy.exceptions import DropItem


class StorageUnavailable(DropItem):
    """The archive cannot be written (locked past the busy timeout, disk full, server gone):
    the page is not archived, the crawl stops, and a later run fetches it again."""

    def __init__(self, message: str) -> None:
        # DEBUG: the pipeline has said it once, in one line; Scrapy would add the whole item.
        super().__init__(message, log_level="DEBUG")


class NotAnArticle(DropItem):
    """The page was archived as a fetch, but holds no article (listing, error, too short).

    Logged at DEBUG: most pages of a crawl are not articles, and that is no news.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, log_level="DEBUG")
