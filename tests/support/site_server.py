"""The local test news site: the sample site of `newsarchive demo`, served on 127.0.0.1."""

from __future__ import annotations

from crawler.demo.articles import ARTICLES
from crawler.demo.server import serve_demo_site
from crawler.demo.site import NOTICE_TEXT, NOTICE_TITLE, READERS_NOTICE, DemoSite

__all__ = [
    "ARTICLES",
    "NOTICE_TEXT",
    "NOTICE_TITLE",
    "READERS_NOTICE",
    "DemoSite",
    "serve_demo_site",
]
