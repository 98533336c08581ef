"""Feeds, sitemaps and robots.txt: tell them apart and read them, safely.

Every XML document goes through one hardened parser: no external entities, no DTD loading, no
network access, and libxml2's default size limits (no huge_tree), so an entity bomb or an XXE
feed cannot read files or exhaust memory. Pure functions, no Scrapy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from crawler.items import FEED, ROBOTS, SITEMAP, DateCandidate

GZIP_MAGIC = b"\x1f\x8b"
SITEMAP_LINE = re.compile(rb"^\s*sitemap\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
ATOM = "{http://www.w3.org/2005/Atom}"
MAX_ENTRIES = 50_000  # the sitemap protocol's own limit per file


@dataclass(frozen=True, kw_only=True)
class ListedPage:
    """A page a feed or sitemap lists, with what the listing says about it."""

    url: str
    dates: tuple[DateCandidate, ...] = ()
    title: str | None = None


@dataclass(frozen=True, kw_only=True)
class Sitemap:
    """A parsed sitemap: an index of other sitemaps, or a list of pages."""

    is_index: bool
    sitemap_urls: tuple[str, ...] = ()
    pages: tuple[ListedPage, ...] = ()


def xml_parser() -> etree.XMLParser:
    """Return the one parser used for untrusted XML (feeds, sitemaps)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(body: bytes) -> etree._Element | None:
    """Parse untrusted XML; return its root, or None if it is not XML."""
    try:
        root = etree.fromstring(body, parser=xml_parser())
    except etree.XMLSyntaxError:
        return None
    return root


def _local(tag: object) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def document_kind(url: str, body: bytes) -> str | None:
    """Return ROBOTS, FEED or SITEMAP for a machine-readable document, or None for anything else.

    `body` is already decompressed.
    """
    if url.split("?", 1)[0].lower().endswith("/robots.txt"):
        return ROBOTS
    head = body[:2048].lstrip().lower()
    if not head.startswith(b"<?xml") and not head.startswith(
        (b"<rss", b"<feed", b"<urlset", b"<sitemapindex", b"<rdf")
    ):
        return None
    root = parse_xml(body)
    if root is None:
        return None
    name = _local(root.tag)
    if name in {"urlset", "sitemapindex"}:
        return SITEMAP
    if name in {"rss", "feed", "rdf"}:
        return FEED
    return None


def robots_sitemaps(body: bytes) -> list[str]:
    """Return the URLs of the `Sitemap:` lines of a robots.txt."""
    return [match.decode("utf-8", "replace") for match in SITEMAP_LINE.findall(body)]


def parse_sitemap(body: bytes) -> Sitemap:
    """Read a sitemap or sitemap index, news sitemap tags included."""
    root = parse_xml(body)
    if root is None:
        return Sitemap(is_index=False)
    if _local(root.tag) == "sitemapindex":
        locs = [_child_text(entry, "loc") for entry in root if _local(entry.tag) == "sitemap"]
        return Sitemap(is_index=True, sitemap_urls=tuple(loc for loc in locs if loc)[:MAX_ENTRIES])
    pages: list[ListedPage] = []
    for entry in root:
        if _local(entry.tag) != "url":
            continue
        loc = _child_text(entry, "loc")
        if not loc:
            continue
        dates: list[DateCandidate] = []
        title = None
        for news in entry.iter("{*}news"):
            if published := _child_text(news, "publication_date"):
                dates.append(DateCandidate(value=published, source="news-sitemap"))
            title = _child_text(news, "title") or title
        pages.append(ListedPage(url=loc, dates=tuple(dates), title=title))
        if len(pages) >= MAX_ENTRIES:
            break
    return Sitemap(is_index=False, pages=tuple(pages))


def parse_feed(body: bytes) -> list[ListedPage]:
    """Return the pages an RSS 1.0/2.0 or Atom feed lists, with their dates and titles."""
    root = parse_xml(body)
    if root is None:
        return []
    pages: list[ListedPage] = []
    for item in root.iter("{*}item", f"{ATOM}entry"):
        url = _item_link(item)
        if not url:
            continue
        dates = [
            DateCandidate(value=value, source="feed")
            for name in ("pubdate", "published", "date", "issued", "updated")
            if (value := _child_text(item, name))
        ]
        pages.append(ListedPage(url=url, dates=tuple(dates[:1]), title=_child_text(item, "title")))
        if len(pages) >= MAX_ENTRIES:
            break
    return pages


def _item_link(item: etree._Element) -> str | None:
    for child in item:
        if _local(child.tag) != "link":
            continue
        href = child.get("href")
        if href and child.get("rel", "alternate") == "alternate":
            return str(href).strip()
        if child.text and child.text.strip():
            return str(child.text).strip()
    guid = next((c for c in item if _local(c.tag) == "guid"), None)
    if guid is not None and guid.get("isPermaLink", "true") == "true" and guid.text:
        text = str(guid.text).strip()
        if text.startswith(("http://", "https://")):
            return text
    return None


def _child_text(element: etree._Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name and child.text and child.text.strip():
            return str(child.text).strip()
    return None
