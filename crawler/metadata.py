"""Structured metadata read straight from a page's tree: JSON-LD, meta tags, `<time>`,
breadcrumbs, rel=canonical, language. Pure functions over an lxml tree, no Scrapy."""

from __future__ import annotations

import bisect
import itertools
import json
import re
import weakref
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from lxml import etree, html

from crawler.items import DateCandidate
from crawler.normalization import DATE_TOKEN

ARTICLE_TYPES = frozenset(
    {
        "Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle",
        "OpinionNewsArticle", "ReviewNewsArticle", "BackgroundNewsArticle", "Report",
        "ScholarlyArticle", "TechArticle", "LiveBlogPosting", "SatiricalArticle",
    }
)  # fmt: skip
PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "datePublished",
    "publish-date", "pubdate", "publishdate", "date", "dc.date", "dc.date.issued",
    "dcterms.created", "sailthru.date", "parsely-pub-date", "cXenseParse:recs:publishtime",
)  # fmt: skip
SECTION_META = ("article:section", "og:article:section", "section", "parsely-section")
MODIFIED_META = (
    "article:modified_time", "og:updated_time", "dateModified", "last-modified",
    "dcterms.modified", "dc.date.modified",
)  # fmt: skip
URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|-|$)")
# Elements whose class or id says they hold a date: date, time, published, posted, byline, meta.
MARK_ATTRIBUTES = ("class", "id", "role", "aria-label")
MARKED_XPATH = "//*[@class or @id or @role or @aria-label]"  # what MarkedElements.of finds
NO_MARKS = (None,) * len(MARK_ATTRIBUTES)
# Byline markup (crawler.extraction.byline_author), also found by MarkedElements.of.
BYLINE_XPATH = (
    "//*[@rel='author' or @itemprop='author' or contains(@class, 'author') "
    "or contains(@class, 'byline')][not(self::meta or self::link or self::script)]"
)
NOT_BYLINES = frozenset({"meta", "link", "script"})
SEPARATOR = "\x00"
DATELINE_MARKS = re.compile(r"date|time|publish|posted|byline|meta")
NOT_DATELINES = {"script", "style", "time", "meta", "head", "html", "body"}
MAX_DATELINE_CHARS = 120
MAX_DATELINES = 3
BREADCRUMB_MARKS = re.compile(r"breadcrumb|crumbs")
BREADCRUMB_SEPARATORS = frozenset({">", "/", "\u00bb", "\u203a", "|"})
HOME_LABELS = frozenset(
    {"home", "accueil", "startseite", "inicio", "início", "home page", "homepage"}
)


class MarkedElements:
    """The elements of a page that carry a class, id, role or aria-label, with those attributes
    in lower case: read once, searched by each reader of the page (XPath `contains()` over every
    element costs far more).

    The attributes of all the elements are kept as one text, an element's a line of it
    (separated by NUL, which no attribute holds: lxml reads one as U+FFFD), so that a reader's
    pattern runs once over the page's marks instead of once per element. The patterns are
    literal words (crawler.banners' tries, the date and breadcrumb words): a match never spans
    two elements' lines.
    """

    def __init__(
        self,
        elements: list[html.HtmlElement],
        marks: list[str],
        bylines: list[html.HtmlElement],
    ) -> None:
        self.elements = elements
        self.text = SEPARATOR.join(marks)
        self.starts = list(itertools.accumulate((len(m) + 1 for m in marks[:-1]), initial=0))
        # The elements of BYLINE_XPATH, in document order, found in the same walk.
        self.bylines = bylines

    @classmethod
    def of(cls, tree: html.HtmlElement) -> MarkedElements:
        # The elements of MARKED_XPATH and of BYLINE_XPATH, in document order: walked in
        # Python, which is faster than libxml2's evaluation of those expressions (0.7 against
        # 1.0 ms a real page for the first; the second, 0.8-1.9 ms, adds two reads an element).
        elements, marks, bylines = [], [], []
        for element in tree.iter(etree.Element):
            get = element.get
            class_ = get("class")
            values = (class_, get("id"), get("role"), get("aria-label"))  # MARK_ATTRIBUTES
            if values != NO_MARKS:
                elements.append(element)
                marks.append(" ".join(filter(None, values)).lower())
            if (
                (class_ is not None and ("author" in class_ or "byline" in class_))
                or get("rel") == "author"
                or get("itemprop") == "author"
            ) and element.tag not in NOT_BYLINES:
                bylines.append(element)
        return cls(elements, marks, bylines)

    def matching(self, pattern: re.Pattern[str]) -> Iterator[html.HtmlElement]:
        """Yield, in document order, the elements whose attributes match `pattern`."""
        lines = dict.fromkeys(
            bisect.bisect_right(self.starts, match.start()) - 1
            for match in pattern.finditer(self.text)
        )
        return (self.elements[line] for line in lines)


# The JSON-LD objects of the trees being read, found and parsed once a tree: classification,
# the dates, the title and the breadcrumb each ask for them (five searches of the whole tree and
# five parses of its scripts a page before, 0.25 ms of a generated page's 8).
_JSON_LD: weakref.WeakKeyDictionary[html.HtmlElement, tuple[dict[str, Any], ...]] = (
    weakref.WeakKeyDictionary()
)


def json_ld_objects(tree: html.HtmlElement) -> list[dict[str, Any]]:
    """Return every JSON-LD object of the page, `@graph` members included; bad JSON is skipped.

    Read once for each tree, as it is then: the readers of a page look at it before anything
    (trafilatura's cleaning of its own copy aside) changes it."""
    known = _JSON_LD.get(tree)
    if known is None:
        known = _JSON_LD[tree] = tuple(_read_json_ld(tree))
    return list(known)


def _read_json_ld(tree: html.HtmlElement) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        objects.extend(_flatten_json_ld(data))
    return objects


def _flatten_json_ld(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for entry in data:
            yield from _flatten_json_ld(entry)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _flatten_json_ld(data["@graph"])


def json_ld_types(entry: dict[str, Any]) -> set[str]:
    """Return the schema.org types of a JSON-LD object."""
    types = entry.get("@type", [])
    return {str(t).rsplit("/", 1)[-1] for t in (types if isinstance(types, list) else [types])}


def json_ld_article(tree: html.HtmlElement) -> dict[str, Any] | None:
    """Return the page's JSON-LD article object (NewsArticle, BlogPosting, ...), if any."""
    for entry in json_ld_objects(tree):
        if json_ld_types(entry) & ARTICLE_TYPES:
            return entry
    return None


def meta_content(tree: html.HtmlElement, names: tuple[str, ...]) -> list[str]:
    """Return the contents of the meta tags with these names or properties, in `names` order."""
    wanted = {name.lower(): index for index, name in enumerate(names)}
    found: list[tuple[int, str]] = []
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        content = (meta.get("content") or "").strip()
        if key in wanted and content:
            found.append((wanted[key], content))
    return [content for _, content in sorted(found, key=lambda pair: pair[0])]


def published_candidates(
    tree: html.HtmlElement,
    url: str,
    listed: tuple[DateCandidate, ...] = (),
    marked: MarkedElements | None = None,
) -> list[DateCandidate]:
    """Return candidates for the publication date, most trustworthy first.

    JSON-LD `datePublished`, then meta tags, then the feed or sitemap that listed the page,
    then `<time datetime>` elements, then a visible dateline, then a date in the URL path.
    """
    candidates: list[DateCandidate] = []
    article = json_ld_article(tree)
    if article and isinstance(article.get("datePublished"), str):
        candidates.append(DateCandidate(value=article["datePublished"], source="jsonld"))
    candidates += [
        DateCandidate(value=v, source="meta") for v in meta_content(tree, PUBLISHED_META)
    ]
    candidates += listed
    for time_element in tree.xpath("//time[@datetime]")[:3]:
        candidates.append(DateCandidate(value=time_element.get("datetime"), source="time"))
    candidates += dateline_candidates(tree, marked)
    if match := URL_DATE.search(url):
        year, month, day = match.groups()
        candidates.append(
            DateCandidate(value=f"{year}-{int(month):02d}-{int(day):02d}", source="url")
        )
    return candidates


def dateline_candidates(
    tree: html.HtmlElement, marked: MarkedElements | None = None
) -> list[DateCandidate]:
    """Return dates from the visible datelines of a page ("Published on 30/05/2014")."""
    candidates: list[DateCandidate] = []
    for element in (marked or MarkedElements.of(tree)).matching(DATELINE_MARKS):
        if element.tag in NOT_DATELINES:
            continue
        text = " ".join(element.text_content().split())
        if len(text) > MAX_DATELINE_CHARS or not (match := DATE_TOKEN.search(text)):
            continue
        candidate = DateCandidate(value=match.group(0), source="dateline")
        if candidate not in candidates:
            candidates.append(candidate)
        if len(candidates) == MAX_DATELINES:
            break
    return candidates


def modified_candidates(tree: html.HtmlElement) -> list[DateCandidate]:
    """Return candidates for the last-modified date, most trustworthy first."""
    candidates: list[DateCandidate] = []
    article = json_ld_article(tree)
    if article and isinstance(article.get("dateModified"), str):
        candidates.append(DateCandidate(value=article["dateModified"], source="jsonld"))
    candidates += [DateCandidate(value=v, source="meta") for v in meta_content(tree, MODIFIED_META)]
    return candidates


def breadcrumb_labels(tree: html.HtmlElement, marked: MarkedElements | None = None) -> list[str]:
    """Return the labels of the page's breadcrumb trail (JSON-LD BreadcrumbList, then markup)."""
    for entry in json_ld_objects(tree):
        if "BreadcrumbList" in json_ld_types(entry):
            items = entry.get("itemListElement") or []
            labels = []
            for item in sorted(
                (i for i in items if isinstance(i, dict)), key=lambda i: int(i.get("position", 0))
            ):
                name = item.get("name") or (item.get("item") or {}).get("name")
                if isinstance(name, str) and name.strip():
                    labels.append(" ".join(name.split()))
            if labels:
                return labels
    for trail in (marked or MarkedElements.of(tree)).matching(BREADCRUMB_MARKS):
        items = trail.xpath(".//li") or trail.xpath(".//a | .//span[not(*)]")
        labels = [" ".join(item.text_content().split()) for item in items]
        labels = [label for label in labels if label and label not in BREADCRUMB_SEPARATORS]
        if labels:
            return labels
    return []


def breadcrumb_section(crumbs: list[str], title: str | None) -> str | None:
    """Return the section of an article from its breadcrumb labels: the deepest label that is
    neither the home page nor the article's own title."""
    labels = [label for label in crumbs if label.casefold() not in HOME_LABELS]
    if labels and title and labels[-1].casefold() == title.strip().casefold():
        labels = labels[:-1]
    if labels and len(labels[-1]) <= 60:
        return labels[-1]
    return None


def declared_canonical_url(tree: html.HtmlElement, base_url: str) -> str | None:
    """Return the page's rel=canonical URL (or og:url), made absolute, if it declares one."""
    for link in tree.xpath("//link[@href]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            return _absolute(str(link.get("href")), base_url)
    og_url = meta_content(tree, ("og:url",))
    return _absolute(og_url[0], base_url) if og_url else None


def _absolute(href: str, base_url: str) -> str:
    return urljoin(base_url, href.strip())


def page_language(tree: html.HtmlElement) -> str | None:
    """Return the language the page declares (`<html lang>`, then meta tags), if any."""
    lang = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    if lang and lang.strip():
        return str(lang).strip()
    declared = meta_content(tree, ("og:locale", "content-language", "language", "dc.language"))
    if declared:
        return declared[0]
    for meta in tree.iter("meta"):
        if (meta.get("http-equiv") or "").lower() == "content-language" and meta.get("content"):
            return str(meta.get("content"))
    return None
