"""The sample news site, rendered in code: The Harbour Gazette.

`newsarchive demo` and the test suite serve it on loopback (crawler.demo.server). It has what a
crawler meets on a real news site: robots.txt with a Sitemap line and a disallowed folder, a
sitemap index with a gzipped news sitemap, an RSS feed whose links carry utm_* parameters, a
home page with pagination, section and tag pages, two article templates, a site-wide notice
box on every page (like embassypages.com's consular notice), a ticker, a cookie box, a
newsletter promo inside the article and a readers' notice inside the article text of one
template, under a class that says nothing, plus the awkward cases: an old URL that redirects,
a print version with rel=canonical, a page too short to be an article, a 404, a 500 and a PDF.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import parse_qs, urlsplit

from crawler.demo.articles import ARTICLES, SampleArticle

SITE_NAME = "The Harbour Gazette"
PAGE_SIZE = 6
NOTICE_TITLE = "Travel notice for the coast."
NOTICE_TEXT = (
    "The northern pier is closed after storm damage. Are you planning to sail this weekend? "
    "Check the harbour master's notices before you leave the quay."
)
NOTICE_TEXT_LATER = "The northern pier has reopened. Thank you for your patience."
TICKER_TEXT = "Breaking: ferry timetable changes from Monday, see the port authority's page."
COOKIE_TEXT = "We use cookies to remember your preferences and to count visits to our pages."
# Inside the article text of the "notice" template, under a class that says nothing: only its
# recurrence across pages gives it away (crawler.learning).
READERS_NOTICE = (
    "Readers' notice: the print edition will not appear on Whit Monday; the digital edition "
    "will be published as usual."
)
NEWSLETTER_TEXT = "Get the morning briefing: the day's harbour news in your inbox at seven."
CORRECTION = (
    "Correction: an earlier version of this article gave the wrong date for the summit in "
    "Wales; it opens on the fourth of September."
)
SHORT_PAGE = "/news/editors-note.html"
PDF = b"%PDF-1.4\n%%EOF\n"


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    location: str | None = None


def _sections() -> list[str]:
    return sorted({article.section for article in ARTICLES})


def _slug(label: str) -> str:
    return label.lower().replace(" ", "-")


def _article_path(article: SampleArticle) -> str:
    return f"/news/{article.slug}.html"


def _date(article: SampleArticle) -> datetime:
    return datetime.fromisoformat(article.published)


class DemoSite:
    """Renders every page of the sample site for a given base URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        # Edition 2 is the site a day later: the first article carries a correction, and the
        # travel notice has changed (tests of article versions and incremental crawls).
        self.edition = 1

    def notice_text(self) -> str:
        """The site-wide notice, as this edition shows it."""
        return NOTICE_TEXT if self.edition == 1 else NOTICE_TEXT_LATER

    def render(self, target: str) -> Response:
        """Return the response for a request target (path and query)."""
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        by_path = {_article_path(article): article for article in ARTICLES}
        if path in ("/", "/index.html"):
            return self._home(int(query.get("page", ["1"])[0] or 1))
        if path in by_path:
            return self._html(self._article(by_path[path]))
        routes: dict[str, Callable[[], Response]] = {
            "/robots.txt": self._robots,
            "/sitemap.xml": self._sitemap_index,
            "/sitemap-pages.xml": self._sitemap_pages,
            "/sitemap-news.xml.gz": self._news_sitemap,
            "/feed.xml": self._feed,
            "/about/": lambda: self._html(self._about()),
            SHORT_PAGE: lambda: self._html(self._short_page()),
            "/files/annual-report.pdf": lambda: Response(200, "application/pdf", PDF),
            "/broken/": lambda: Response(500, "text/html", b"<h1>Internal Server Error</h1>"),
        }  # fmt: skip
        if path in routes:
            return routes[path]()
        if path.startswith("/section/"):
            return self._listing_for(path.split("/")[2], by_section=True)
        if path.startswith("/tag/"):
            return self._listing_for(path.split("/")[2], by_section=False)
        if path.startswith("/old/"):
            return Response(301, "text/html", b"", location=f"/news/{path.split('/')[2]}.html")
        if path.startswith("/print/") and path.removeprefix("/print") in by_path:
            return self._html(self._article(by_path[path.removeprefix("/print")], printed=True))
        return Response(404, "text/html", b"<h1>Not found</h1>")

    # --- machine-readable pages -------------------------------------------------------

    def _robots(self) -> Response:
        text = f"User-agent: *\nDisallow: /private/\n\nSitemap: {self.base_url}/sitemap.xml\n"
        return Response(200, "text/plain", text.encode())

    def _sitemap_index(self) -> Response:
        entries = "".join(
            f"<sitemap><loc>{self.base_url}{path}</loc></sitemap>"
            for path in ("/sitemap-news.xml.gz", "/sitemap-pages.xml")
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}'
            "</sitemapindex>"
        )
        return Response(200, "application/xml", xml.encode())

    def _news_sitemap(self) -> Response:
        entries = "".join(
            f"<url><loc>{self.base_url}{_article_path(a)}</loc>"
            f"<news:news><news:publication><news:name>{SITE_NAME}</news:name>"
            "<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{a.published}</news:publication_date>"
            f"<news:title>{escape(a.title)}</news:title></news:news></url>"
            for a in ARTICLES
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{entries}</urlset>"
        )
        return Response(200, "application/x-gzip", gzip.compress(xml.encode(), mtime=0))

    def _sitemap_pages(self) -> Response:
        paths = ["/", "/about/", *(f"/section/{_slug(s)}/" for s in _sections())]
        entries = "".join(f"<url><loc>{self.base_url}{p}</loc></url>" for p in paths)
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        )
        return Response(200, "application/xml", xml.encode())

    def _feed(self) -> Response:
        items = "".join(
            f"<item><title>{escape(a.title)}</title>"
            f"<link>{self.base_url}{_article_path(a)}?utm_source=rss&amp;utm_medium=feed</link>"
            f"<guid isPermaLink='false'>{a.slug}</guid>"
            f"<pubDate>{_date(a).strftime('%a, %d %b %Y %H:%M:%S %z')}</pubDate>"
            f"<description>{escape(a.paragraphs[0])}</description></item>"
            for a in ARTICLES[:PAGE_SIZE]
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{SITE_NAME}</title><link>{self.base_url}/</link>"
            f"<description>News from the harbour</description>{items}</channel></rss>"
        )
        return Response(200, "application/rss+xml", xml.encode())

    # --- HTML pages ---------------------------------------------------------------------

    def _html(self, page: str) -> Response:
        return Response(200, "text/html; charset=utf-8", page.encode("utf-8"))

    def _page(self, title: str, content: str, *, head: str = "", lang: str = "en") -> str:
        nav = "".join(
            f'<li><a href="/section/{_slug(s)}/">{escape(s)}</a></li>' for s in _sections()
        )
        return (
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title>"
            f'<link rel="alternate" type="application/rss+xml" href="/feed.xml">{head}</head>'
            f'<body><header class="site-header"><a class="logo" href="/">{SITE_NAME}</a>'
            f'<nav class="main-nav"><ul><li><a href="/">Home</a></li>{nav}'
            '<li><a href="/about/">About us</a></li></ul></nav></header>'
            f'<div class="ticker-bar"><span>{escape(TICKER_TEXT)}</span></div>'
            '<div class="box-container"><div class="alert alert-warning" role="alert">'
            f"<h4>{escape(NOTICE_TITLE)}</h4><p>{escape(self.notice_text())}</p></div></div>"
            f'<main id="content">{content}</main>'
            '<footer class="site-footer"><p>© 2014 The Harbour Gazette. All rights reserved.</p>'
            '<ul><li><a href="/about/">About us</a></li><li><a href="/private/staff.html">Staff'
            '</a></li><li><a href="/files/annual-report.pdf">Annual report</a></li></ul></footer>'
            f'<div id="cookie-consent" class="cookie-banner"><p>{escape(COOKIE_TEXT)}</p>'
            "<button>Accept</button></div></body></html>"
        )

    def _teasers(self, articles: list[SampleArticle] | tuple[SampleArticle, ...]) -> str:
        return "".join(
            f'<article class="teaser"><h2><a href="{_article_path(a)}">{escape(a.title)}</a></h2>'
            f"<p>{escape(a.paragraphs[0][:140])}…</p></article>"
            for a in articles
        )

    def _home(self, page_number: int) -> Response:
        pages = (len(ARTICLES) + PAGE_SIZE - 1) // PAGE_SIZE
        if not 1 <= page_number <= pages:
            return Response(404, "text/html", b"<h1>Not found</h1>")
        start = (page_number - 1) * PAGE_SIZE
        content = "<h1>Latest news</h1>" + self._teasers(ARTICLES[start : start + PAGE_SIZE])
        head = ""
        links = []
        if page_number < pages:
            head += f'<link rel="next" href="/?page={page_number + 1}">'
            links.append(f'<a class="next" href="/?page={page_number + 1}">Older stories</a>')
        if page_number > 1:
            links.append(f'<a class="prev" href="/?page={page_number - 1}">Newer stories</a>')
        if page_number == 1:
            # Awkward links a crawler meets: an old URL that redirects, a print version, a short
            # note, a broken page, a missing page.
            first, second = ARTICLES[1], ARTICLES[2]
            content += (
                '<aside class="more"><ul>'
                f'<li><a href="/old/{first.slug}">{escape(first.title)} (archive link)</a></li>'
                f'<li><a href="/print{_article_path(second)}">Print version</a></li>'
                f'<li><a href="{SHORT_PAGE}">A note from the editor</a></li>'
                '<li><a href="/broken/">Live blog</a></li><li><a href="/missing/">Gone</a></li>'
                "</ul></aside>"
            )
        content += f'<nav class="pagination">{" ".join(links)}</nav>'
        return self._html(self._page(f"{SITE_NAME}: latest news", content, head=head))

    def _listing_for(self, key: str, *, by_section: bool) -> Response:
        if by_section:
            chosen = [a for a in ARTICLES if _slug(a.section) == key]
        else:
            chosen = [a for a in ARTICLES if key in {_slug(t) for t in a.tags}]
        if not chosen:
            return Response(404, "text/html", b"<h1>Not found</h1>")
        label = chosen[0].section if by_section else key
        content = f"<h1>{escape(label)}</h1>" + self._teasers(chosen)
        return self._html(self._page(f"{label} | {SITE_NAME}", content))

    def _about(self) -> str:
        content = (
            "<h1>About us</h1><p>The Harbour Gazette has covered the town and its port since 1921."
            " It is published by a cooperative of its readers and journalists.</p>"
        )
        return self._page(f"About us | {SITE_NAME}", content)

    def _short_page(self) -> str:
        content = "<article><h1>A note from the editor</h1><p>We are back tomorrow.</p></article>"
        head = '<meta property="og:type" content="article">'
        return self._page(f"A note from the editor | {SITE_NAME}", content, head=head)

    def _article(self, article: SampleArticle, *, printed: bool = False) -> str:
        canonical = f"{self.base_url}{_article_path(article)}"
        tags = "".join(
            f'<li><a href="/tag/{_slug(tag)}/">{escape(tag)}</a></li>' for tag in article.tags
        )
        texts = list(article.paragraphs)
        if self.edition > 1 and article is ARTICLES[0]:
            texts.append(CORRECTION)
        paragraphs = [f"<p>{escape(p)}</p>" for p in texts]
        published = _date(article)
        head = (
            f'<link rel="canonical" href="{canonical}">'
            f'<meta name="description" content="{escape(article.paragraphs[0][:150])}">'
        )
        if article.template == "notice" or printed:
            content = (
                '<div class="crumbs"><ul class="breadcrumb"><li><a href="/">Home</a></li>'
                f'<li><a href="/section/{_slug(article.section)}/">{escape(article.section)}'
                f"</a></li><li>{escape(article.title)}</li></ul></div>"
                f"<h1>{escape(article.title)}</h1>"
                f'<p class="date">Published on {published:%d/%m/%Y}</p>'
                f'<div class="content">{paragraphs[0]}<p class="txt">{escape(READERS_NOTICE)}</p>'
                f"{''.join(paragraphs[1:])}</div>"
                f'<div class="tags"><ul>{tags}</ul></div>'
            )
            return self._page(f"{article.title} | {SITE_NAME}", content, head=head)
        json_ld = (
            '{"@context": "https://schema.org", "@type": "NewsArticle", '
            f'"headline": "{article.title}", "datePublished": "{article.published}", '
            f'"author": {{"@type": "Person", "name": "{article.author}"}}, '
            f'"publisher": {{"@type": "Organization", "name": "{SITE_NAME}"}}}}'
        )
        head += (
            '<meta property="og:type" content="article">'
            f'<meta property="og:site_name" content="{SITE_NAME}">'
            f'<meta property="article:published_time" content="{article.published}">'
            f'<meta property="article:section" content="{escape(article.section)}">'
            + "".join(f'<meta property="article:tag" content="{escape(t)}">' for t in article.tags)
            + f'<meta name="author" content="{escape(article.author)}">'
            f'<script type="application/ld+json">{json_ld}</script>'
        )
        promo = (
            f'<aside class="newsletter-signup"><p>{escape(NEWSLETTER_TEXT)}</p>'
            '<a href="/about/">Sign up</a></aside>'
        )
        body = "".join(paragraphs[:2]) + promo + "".join(paragraphs[2:])
        content = (
            f'<article class="story"><h1>{escape(article.title)}</h1>'
            f'<p class="byline">By <span class="author">{escape(article.author)}</span>, '
            f'<time datetime="{article.published}">{published:%d %B %Y}</time></p>'
            f'<div class="story-body">{body}</div><ul class="tags">{tags}</ul></article>'
        )
        return self._page(f"{article.title} | {SITE_NAME}", content, head=head)
