"""extract_article(): the article in a page, its metadata and its banners.

The only module that imports trafilatura, with crawler.fast_xpaths and crawler.tree_copies,
which it installs. The page is parsed once with lxml; notice boxes are found and taken out of
that tree (crawler.banners), structured metadata is read from it (crawler.metadata), then
trafilatura extracts the body and the rest of the metadata.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

import trafilatura
import trafilatura.metadata as tm
from htmldate import find_date
from lxml import etree, html
from trafilatura.settings import Document
from trafilatura.utils import DOCTYPE_TAG, FAULTY_HTML, INVALID_XML_CHARS, is_dubious_html

from crawler import fast_xpaths, tree_copies
from crawler.banners import find_banners, remove_banner_lines
from crawler.bodies import repair_body
from crawler.items import DEFAULT_MIN_TEXT_CHARS, DateCandidate, ExtractedArticle, PageItem
from crawler.metadata import (
    SECTION_META,
    MarkedElements,
    breadcrumb_labels,
    breadcrumb_section,
    declared_canonical_url,
    json_ld_article,
    meta_content,
    modified_candidates,
    page_language,
    published_candidates,
)
from crawler.normalization import DATE_TOKEN, to_utc

logger = logging.getLogger(__name__)

EXTRACTOR = f"trafilatura {version('trafilatura')}"
# The trafilatura options we use, written out once.
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "with_metadata": False,  # read_metadata() below: the same, without a second date search
    "deduplicate": False,
    "favor_precision": True,
    "fast": True,
}
# When the precise pass finds less than this, trafilatura's default balance is tried as well
# (without its fallback extractors): precision mode sometimes keeps only a fragment.
SHORT_TEXT_CHARS = 500
# The default pass's text wins if the precise one is under this share of its length...
MIN_PRECISE_SHARE = 0.3
# ...or if less than this share of the precise text is also in the default pass's text.
MIN_AGREEMENT = 0.5
# Bump when notice detection or the clean-up of extracted text changes what a page gives, so
# that `newsarchive reextract` can tell which articles an older version produced.
EXTRACTION_RULES_VERSION = 1
# A dateline is short and says little but the date: "Published on 30/05/2014 at 10:15".
MAX_DATELINE_WORDS = 6
MAX_DATELINE_CHARS = 80
# Elements a page may have (catalog B03): the longest real article pages have tens of
# thousands; a million takes gigabytes once trafilatura has copied the tree.
MAX_ELEMENTS = 300_000
# lxml.html's parser picks the Python class of each element in a Python method, called every
# time lxml makes an object for an element (thousands of times a page in trafilatura's pass);
# this lookup, done in C, gives every element lxml.html's HtmlElement (text_content() and the
# rest that trafilatura and the readers use). Only lxml.html's form-field classes are lost,
# which nothing here reads.
ELEMENT_CLASSES = etree.ElementDefaultClassLookup(
    element=html.HtmlElement,
    comment=html.HtmlComment,
    pi=html.HtmlProcessingInstruction,
    entity=html.HtmlEntity,
)
# trafilatura's costliest XPath expressions, run in Python with the same results, and without
# the copies of the page's tree that its passes here never read.
fast_xpaths.install()
tree_copies.install()


BYLINE_PREFIX = re.compile(r"^(?:by|von|par|por|di|door)\b\s*", re.IGNORECASE)
MAX_AUTHOR_CHARS = 60
# What trafilatura.utils.INVALID_XML_CHARS removes: C0 controls but tab, newline and carriage
# return, and the non-characters U+FFFE and U+FFFF.
INVALID_XML_CHARACTERS = tuple(
    chr(code) for code in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)
)


class ExtractionError(ValueError):
    """The page could not be read as HTML."""


def parse_html(text: str) -> html.HtmlElement:
    """Parse a decoded page into an lxml tree; raise ExtractionError if there is no document,
    or if libxml2 could not read all of it.

    The steps of trafilatura's loader (`trafilatura.utils.load_html`: its repairs of what lxml
    alone would mis-parse, its parser options, its test of what is HTML at all), so the tree is
    the one trafilatura expects, with one difference: libxml2's huge mode. Without it, libxml2
    stops at 256 levels of nesting or at a 10 MB text node and silently drops the rest of the
    page, which would be archived cut short as if whole (catalog B02, B03); the download cap
    (DOWNLOAD_MAXSIZE, 20 MB) bounds what huge mode reads. Past huge mode's own limits (2,048
    levels) or over MAX_ELEMENTS, the page is rejected, never archived truncated.
    """
    if not text.strip():
        raise ExtractionError("empty page")
    beginning = text[:50].lower()
    text = repair_html(text, beginning)
    parser = html.HTMLParser(
        collect_ids=False,
        default_doctype=False,
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        huge_tree=True,
    )
    parser.set_element_class_lookup(ELEMENT_CLASSES)
    # As text first; as UTF-8 if lxml refuses text with an encoding declaration or finds little.
    tree = _parse(text, parser)
    if tree is None or len(tree) < 1:
        tree = _parse(text.encode("utf-8", "surrogatepass"), parser)
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        raise ExtractionError("the page is nested too deep or too large to parse whole")
    if tree is None or (is_dubious_html(beginning) and len(tree) < 2):
        raise ExtractionError("not HTML")
    if tree.xpath("count(//*)") > MAX_ELEMENTS:
        raise ExtractionError(f"the page has over {MAX_ELEMENTS:,} elements")
    return tree


def repair_html(text: str, beginning: str) -> str:
    """trafilatura's `repair_faulty_html`, step for step, but for its removal of the characters
    libxml2 refuses: the regular expression runs only when the text holds one of them (a
    search for each is a C scan: 0.04 against 0.7 ms a generated page, 0.3 against 1.1 ms a
    real one; the rare page that has one pays both)."""
    if any(character in text for character in INVALID_XML_CHARACTERS):
        text = INVALID_XML_CHARS.sub("", text)
    # libxml2/LXML issue: https://bugs.launchpad.net/lxml/+bug/1955915
    if "doctype" in beginning:
        firstline, _, rest = text.partition("\n")
        text = DOCTYPE_TAG.sub("", firstline, count=1) + "\n" + rest
    # self-closing <html/> in the first lines
    for line in text[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            return FAULTY_HTML.sub(r"\1>", text, count=1)
    return text


def _parse(document: str | bytes, parser: html.HTMLParser) -> html.HtmlElement | None:
    try:
        return html.fromstring(document, parser=parser)
    except (ValueError, etree.LxmlError):  # an encoding declaration in text; nothing to parse
        return None


def extract_article(
    page: PageItem, *, min_text_chars: int = DEFAULT_MIN_TEXT_CHARS
) -> ExtractedArticle | None:
    """Return the article in `page`, or None (logged at DEBUG with the reason) if there is none."""
    article, reason = extract_article_or_reason(page, min_text_chars=min_text_chars)
    if article is None:
        logger.debug("no article at %s: %s", page.final_url, reason)
    return article


def extract_article_or_reason(
    page: PageItem,
    *,
    min_text_chars: int = DEFAULT_MIN_TEXT_CHARS,
    banner_selectors: tuple[str, ...] = (),
) -> tuple[ExtractedArticle | None, str]:
    """Return the article in `page`, or None and the reason there is none.

    `banner_selectors` are CSS selectors of the site's notice boxes, from its sources entry.
    """
    try:
        tree = parse_html(page.text)
    except ExtractionError as exc:
        return None, str(exc)
    return extract_from_tree(
        tree,
        url=page.final_url,
        fetched_at=page.fetched_at,
        listed_dates=page.listed_dates,
        min_text_chars=min_text_chars,
        banner_selectors=banner_selectors,
    )


def extract_from_tree(
    tree: html.HtmlElement,
    *,
    url: str,
    fetched_at: datetime,
    listed_dates: tuple[DateCandidate, ...] = (),
    min_text_chars: int = DEFAULT_MIN_TEXT_CHARS,
    banner_selectors: tuple[str, ...] = (),
) -> tuple[ExtractedArticle | None, str]:
    """Extract from a parsed page (trafilatura may change the tree)."""
    marked = MarkedElements.of(tree)
    found_banners = find_banners(tree, marked, banner_selectors)
    published = published_candidates(tree, url, listed_dates, marked)
    modified = modified_candidates(tree)
    language = page_language(tree)
    canonical = declared_canonical_url(tree, url)
    json_ld = json_ld_article(tree) or {}
    crumbs = breadcrumb_labels(tree, marked)

    document = run_trafilatura(tree, url)
    if document is None or not (document.text or "").strip():
        return None, "no main text found"
    metadata = read_metadata(tree, url, marked)
    title = metadata.title or _json_ld_text(json_ld.get("headline"))
    body = repair_body(tree, document.text or "")
    body, banners = remove_banner_lines(body, found_banners)
    body = strip_leading_repeats(body, title=title, breadcrumb=crumbs)
    if len(body) < min_text_chars:
        return None, f"main text too short ({len(body)} < {min_text_chars} characters)"
    if not published:
        # htmldate's search of the whole page is costly: only when nothing structured said.
        found = find_date(tree, url=url, original_date=True, extensive_search=True)
        if found:
            published.append(DateCandidate(value=found, source="htmldate"))
    return (
        ExtractedArticle(
            url=url,
            fetched_at=fetched_at,
            title=title,
            authors=_split_authors(metadata.author) or _json_ld_authors(json_ld),
            published_candidates=tuple(published),
            modified_candidates=tuple(modified),
            language=language,
            section=breadcrumb_section(crumbs, title)
            or _first(meta_content(tree, SECTION_META))
            or _json_ld_text(json_ld.get("articleSection"))
            or _first(metadata.categories),
            tags=tuple(metadata.tags or ()),
            description=metadata.description,
            site_name=metadata.sitename if metadata.sitename != urlsplit(url).netloc else None,
            declared_canonical_url=canonical,
            body=body,
            banners=banners,
            extractor=EXTRACTOR,
            extraction_settings=extraction_settings(min_text_chars),
        ),
        "",
    )


def extraction_settings(min_text_chars: int) -> str:
    """Return the settings an extraction ran with, as canonical JSON (kept with each article)."""
    return json.dumps(
        {
            "rules": EXTRACTION_RULES_VERSION,
            "trafilatura": TRAFILATURA_OPTIONS,
            "cross_check": [SHORT_TEXT_CHARS, MIN_PRECISE_SHARE, MIN_AGREEMENT],
            "min_text_chars": min_text_chars,
        },
        sort_keys=True,
    )


def read_metadata(tree: html.HtmlElement, url: str, marked: MarkedElements) -> Document:
    """Return trafilatura's metadata of a page (title, author, site name, description,
    categories, tags), as `trafilatura.metadata.extract_metadata` finds it, less its date search:
    dates come from crawler.metadata's candidates, and htmldate only when they find none."""
    metadata = tm.examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    try:
        metadata = tm.extract_meta_json(tree, metadata)
    except Exception:
        logger.debug("trafilatura could not read the JSON-LD of %s", url)
    metadata.title = metadata.title or tm.extract_title(tree)
    # trafilatura's own author search walks the whole page (about 13 ms a page): the byline
    # markup below finds what news pages mark up, at a fraction of the cost.
    metadata.author = metadata.author or byline_author(marked)
    if not metadata.sitename:
        metadata.sitename = tm.extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")
    metadata.clean_and_trim()
    return metadata


def byline_author(marked: MarkedElements) -> str | None:
    """Return the author named by the page's byline markup (rel=author, itemprop, class)."""
    for element in marked.bylines:
        text = " ".join(element.text_content().split())
        text = BYLINE_PREFIX.sub("", text).strip(" ,|-")
        if 3 <= len(text) <= MAX_AUTHOR_CHARS and not any(ch.isdigit() for ch in text):
            return text
    return None


def run_trafilatura(tree: html.HtmlElement, url: str) -> Document | None:
    """Run trafilatura's main-text extraction with TRAFILATURA_OPTIONS (comments off, favouring
    precision); cross-check a short result with a pass at trafilatura's default balance."""
    precise = _bare_extraction(tree, url, **TRAFILATURA_OPTIONS)
    if precise is not None and len(precise.text or "") >= SHORT_TEXT_CHARS:
        return precise
    balanced = _bare_extraction(
        tree, url, **{**TRAFILATURA_OPTIONS, "favor_precision": False, "fast": True}
    )
    if balanced is None or precise is None:
        return balanced or precise
    return precise if agrees_with(precise.text or "", balanced.text or "") else balanced


def agrees_with(precise: str, balanced: str) -> bool:
    """Tell whether the precise text is a fair part of the balanced one: not a fragment, and
    mostly made of the same lines (not another block of the page)."""
    if len(precise) < MIN_PRECISE_SHARE * len(balanced):
        return False
    balanced_lines = {_key(line) for line in balanced.split("\n")}
    lines = [line for line in precise.split("\n") if line.strip()]
    shared = sum(len(line) for line in lines if _key(line) in balanced_lines)
    return shared >= MIN_AGREEMENT * (sum(len(line) for line in lines) or 1)


def _bare_extraction(tree: html.HtmlElement, url: str, **options: Any) -> Document | None:
    document = trafilatura.bare_extraction(tree, url=url, **options)
    return document if isinstance(document, Document) else None


def strip_leading_repeats(text: str, *, title: str | None, breadcrumb: list[str]) -> str:
    """Drop the headline, breadcrumb and dateline lines that open a body, if extraction kept them.

    Only lines before the first real paragraph are looked at, so a body that quotes its own
    headline or a date later on is left alone.
    """
    lines = [line.strip() for line in text.split("\n")]
    title_key = _key(title)
    crumb_keys = {_key(label) for label in breadcrumb}
    crumb_line = _key(" ".join(breadcrumb))
    index = 0
    while index < len(lines):
        line = lines[index]
        key = _key(line)
        if not line:
            index += 1
            continue
        is_repeat = (
            (title_key and key == title_key)
            or (crumb_keys and (key in crumb_keys or key == crumb_line))
            or (
                title_key
                and crumb_keys
                and key.endswith(title_key)
                and len(key) < 2 * len(title_key) + 40
            )
            or is_dateline(line)
        )
        if not is_repeat:
            break
        index += 1
    return "\n".join(lines[index:]).strip()


def is_dateline(line: str) -> bool:
    """Tell whether a line is a dateline: short, with a readable date and little else."""
    if len(line) > MAX_DATELINE_CHARS or not (match := DATE_TOKEN.search(line)):
        return False
    rest = line[: match.start()] + line[match.end() :]
    return len(rest.split()) <= MAX_DATELINE_WORDS and to_utc(match.group(0)) is not None


def _key(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _split_authors(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(
        name.strip() for name in re.split(r";|\band\b|,(?=\s*\w+\s+\w+)", value) if name.strip()
    )


def _json_ld_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _json_ld_authors(entry: dict[str, object]) -> tuple[str, ...]:
    authors = entry.get("author")
    if not isinstance(authors, list):
        authors = [authors]
    names = []
    for author in authors:
        if isinstance(author, str):
            names.append(author)
        elif isinstance(author, dict) and isinstance(author.get("name"), str):
            names.append(author["name"])
    return tuple(names)
