"""Everything the crawl learns from an HTML page, from one parse: made to run in a worker process.

`analyze_page` parses the decoded page once, tells an article from a listing
(crawler.classification), and then either extracts the article (crawler.extraction) or lists
the links and feeds to follow. It is pure (no Scrapy, no I/O); its arguments and result are
plain picklable values, so crawler.workers can run it in a process pool, off Scrapy's reactor,
on every core.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from lxml import html

from crawler.classification import classify_page
from crawler.decoding import decode_stored
from crawler.extraction import ExtractionError, extract_from_tree, parse_html
from crawler.items import ANALYSIS_FAILED, ARTICLE, OTHER, AnalysisRequest, PageAnalysis
from crawler.normalization import followable_url
from storage.records import StoredBody

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")
# Links to files that are not pages (as Scrapy's LinkExtractor skips them).
FILE_EXTENSIONS = (
    "7z 7zip apk bz2 cdr dmg ico iso jar rar tar tgz gz pdf xz zip exe bin "
    "mng pct bmp gif jpg jpeg png pst psp tif tiff ai drw dxf eps ps svg webp avif heic "
    "mp3 wma ogg wav ra aac mid au aiff flac m4a opus "
    "3gp asf asx avi mov mp4 mpg qt rm swf wmv m4v webm flv mkv "
    "css csv doc docx js ppt pptx rss xls xlsx odt ods odg odp epub"
)
IGNORED = frozenset(f".{extension}" for extension in FILE_EXTENSIONS.split())
MAX_REASON_CHARS = 200
MAX_LINKS = 5000  # links followed from one page (catalog L06): a page of 100,000 links is a trap


def analyze_page(request: AnalysisRequest) -> PageAnalysis:
    """Parse the page once; return its kind and its article, or its links and feeds, and its
    raw body compressed as the archive keeps it."""
    try:
        analysis = _analyze(request)
    except Exception as exc:  # a library's bug on one odd page: the fetch is kept, with the reason
        analysis = PageAnalysis(kind=OTHER, rejection=failure(exc))
    if request.body:
        return replace(analysis, stored_body=StoredBody.of(request.body))
    return analysis


def page_text(request: AnalysisRequest) -> str:
    """The page as text: as sent, or its body decoded with the encoding the crawl read it with,
    as Scrapy decodes it (crawler.decoding.decode_stored)."""
    if request.text or not request.encoding:
        return request.text
    return decode_stored(request.body, None, request.encoding).text


def failure(error: Exception) -> str:
    """The one-line reason a page's analysis raised `error`."""
    message = " ".join(str(error).split())[:MAX_REASON_CHARS]
    return f"{ANALYSIS_FAILED}: {type(error).__name__}" + (f": {message}" if message else "")


def _analyze(request: AnalysisRequest) -> PageAnalysis:
    try:
        tree = parse_html(page_text(request))
    except ExtractionError as exc:
        return PageAnalysis(kind=OTHER, rejection=str(exc))
    kind = classify_page(tree)
    if kind == ARTICLE:
        article, reason = extract_from_tree(
            tree,
            url=request.url,
            fetched_at=request.fetched_at,
            listed_dates=request.listed_dates,
            min_text_chars=request.min_text_chars,
            banner_selectors=request.banner_selectors,
        )
        return PageAnalysis(kind=kind, article=article, rejection=reason)
    base = base_url(tree, request.url)
    links = page_links(tree, base)
    next_pages = next_page_links(tree, base)  # `<link rel="next">` too, which is no `<a>`
    known = set(links)
    return PageAnalysis(
        kind=kind,
        links=(*links, *(url for url in next_pages if url not in known)),
        next_pages=next_pages,
        feeds=feed_links(tree, base),
    )


def base_url(tree: html.HtmlElement, url: str) -> str:
    """The URL relative links of the page are read against: its `<base href>`, or its own."""
    declared = tree.xpath("//base/@href")
    return (followable_url(str(declared[0]), url) or url) if declared else url


def page_links(tree: html.HtmlElement, base: str) -> tuple[str, ...]:
    """The http(s) links of `<a>` and `<area>` elements, as Scrapy's LinkExtractor finds them
    (absolute, safe, unique, in page order; no links to files such as images or PDFs)."""
    found: dict[str, None] = {}
    for href in tree.xpath("//a/@href | //area/@href"):
        url = followable_url(str(href), base)
        if url is None:
            continue
        name = urlsplit(url).path.lower().rsplit("/", 1)[-1]
        if "." in name and f".{name.rpartition('.')[2]}" in IGNORED:
            continue
        found.setdefault(url.split("#", 1)[0], None)
        if len(found) >= MAX_LINKS:
            break
    return tuple(found)


def next_page_links(tree: html.HtmlElement, base: str) -> tuple[str, ...]:
    """The links to the next page of a listing: `<a rel="next">` and `<link rel="next">` (rel
    is a list of tokens; HTML's pagination markup)."""
    found: dict[str, None] = {}
    for link in tree.xpath("//a[@rel][@href] | //link[@rel][@href]"):
        if "next" in link.get("rel").lower().split():
            url = followable_url(link.get("href"), base)
            if url is not None:
                found.setdefault(url.split("#", 1)[0], None)
    return tuple(found)


def feed_links(tree: html.HtmlElement, base: str) -> tuple[str, ...]:
    """The feeds a page declares with `<link rel="alternate" type="application/rss+xml">`."""
    feeds = []
    for link in tree.xpath("//link[@rel='alternate'][@href]"):
        url = followable_url(link.get("href"), base)
        if url and (link.get("type") or "").lower() in FEED_TYPES:
            feeds.append(url)
    return tuple(dict.fromkeys(feeds))
