"""A generated news site of any size, served on 127.0.0.1: for shared-crawl tests and benchmarks.

Its pages look like real ones: a navigation bar, a cookie notice, teasers, related links and a
footer around an article of 4 to 12 paragraphs (about 30 to 60 KB of HTML per page), in three
templates (an `<article>` page with JSON-LD, a div layout, a magazine layout with a figure).
Listings (`/`, `/page/2/`, ...) link 20 articles each and the next listing; robots.txt
names a sitemap index whose sitemaps list every article (1,000 per sitemap), as real sites do
(a crawl's depth limit would otherwise stop at the 25th listing). Every page is made
from the article number and a seed, so a site is the same each time it is built.
"""

from __future__ import annotations

import random
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crawler.demo.server import serving

WORDS = [
    "harbour",
    "council",
    "city",
    "minister",
    "report",
    "river",
    "school",
    "budget",
    "plan",
    "week",
    "police",
    "market",
    "road",
    "election",
    "museum",
    "festival",
    "train",
    "station",
    "hospital",
    "water",
    "energy",
    "price",
    "club",
    "match",
    "season",
    "island",
    "bridge",
    "storm",
    "weather",
    "farm",
    "village",
    "coast",
    "north",
    "south",
    "east",
    "west",
    "tuesday",
    "friday",
    "residents",
    "officials",
    "spokesperson",
    "announced",
    "said",
    "expected",
    "would",
    "could",
    "after",
    "before",
    "during",
    "because",
    "while",
    "although",
    "however",
    "since",
    "about",
    "around",
    "between",
    "against",
    "among",
    "through",
    "under",
    "new",
    "old",
    "local",
    "national",
    "regional",
    "public",
    "private",
    "final",
    "first",
    "second",
    "third",
    "several",
    "many",
    "increase",
    "decrease",
    "support",
    "opposition",
    "proposal",
    "decision",
    "agreement",
    "investigation",
    "service",
]
SECTIONS = ("politics", "business", "sport", "culture", "science")
PER_LISTING = 20
PER_SITEMAP = 1000
HOLD_TIMEOUT_SECONDS = 120


class NewsFarm:
    """The pages of a generated site of `articles` articles."""

    def __init__(self, base_url: str, articles: int, seed: int = 7) -> None:
        self.base_url = base_url
        self.articles = articles
        self.seed = seed
        self.listings = max(1, -(-articles // PER_LISTING))
        self.sitemaps = max(1, -(-articles // PER_SITEMAP))

    def article_path(self, number: int) -> str:
        section = SECTIONS[number % len(SECTIONS)]
        return f"/{section}/{self.published(number):%Y/%m}/story-{number}.html"

    def article_paths(self) -> list[str]:
        return [self.article_path(number) for number in range(self.articles)]

    def published(self, number: int) -> datetime:
        return datetime(2024, 1, 1, 6, tzinfo=UTC) + timedelta(hours=7 * number)

    def render(self, path: str) -> tuple[int, str, bytes]:
        """Return status, content type and body for `path`."""
        if path == "/robots.txt":
            robots = f"User-agent: *\nAllow: /\nSitemap: {self.base_url}/sitemap.xml\n"
            return 200, "text/plain", robots.encode()
        if path == "/sitemap.xml":
            return 200, "application/xml", self._sitemap_index().encode()
        if path.startswith("/sitemap-") and path.endswith(".xml"):
            number = path.removeprefix("/sitemap-").removesuffix(".xml")
            if number.isdigit() and int(number) < self.sitemaps:
                return 200, "application/xml", self._sitemap(int(number)).encode()
        if path == "/":
            return 200, "text/html; charset=utf-8", self._listing(1).encode()
        if path.startswith("/page/"):
            number = path.removeprefix("/page/").strip("/")
            if number.isdigit() and 1 <= int(number) <= self.listings:
                return 200, "text/html; charset=utf-8", self._listing(int(number)).encode()
        if path.endswith(".html") and "/story-" in path:
            number = path.rsplit("/story-", 1)[1].removesuffix(".html")
            found = number.isdigit() and int(number) < self.articles
            if found and self.article_path(int(number)) == path:
                return 200, "text/html; charset=utf-8", self._article(int(number))
        return 404, "text/html", b"<html><body><h1>Not found</h1></body></html>"

    def paths(self) -> list[str]:
        """Every page of the site that answers 200."""
        listings = [f"/page/{n}/" for n in range(2, self.listings + 1)]
        sitemaps = [f"/sitemap-{n}.xml" for n in range(self.sitemaps)]
        return ["/robots.txt", "/sitemap.xml", *sitemaps, "/", *listings, *self.article_paths()]

    # --- pages -------------------------------------------------------------------------------

    def _sitemap_index(self) -> str:
        entries = "".join(
            f"<sitemap><loc>{self.base_url}/sitemap-{n}.xml</loc></sitemap>"
            for n in range(self.sitemaps)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}'
            "</sitemapindex>"
        )

    def _sitemap(self, number: int) -> str:
        first = number * PER_SITEMAP
        entries = "".join(
            f"<url><loc>{self.base_url}{self.article_path(n)}</loc>"
            f"<lastmod>{self.published(n):%Y-%m-%dT%H:%M:%S+00:00}</lastmod></url>"
            for n in range(first, min(first + PER_SITEMAP, self.articles))
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        )

    def _chrome(self, title: str, main: str, *, head: str = "") -> str:
        nav = "".join(
            f'<li><a href="/{section}/">{section.title()}</a></li>' for section in SECTIONS
        )
        more = "".join(f'<li><a href="/topics/{word}/">{word}</a></li>' for word in WORDS[:30])
        return (
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
            f" - The Generated Times</title>{head}"
            "<style>body{font-family:serif} .nav li{display:inline}</style></head><body>"
            f"<header><a href='/'>The Generated Times</a><nav><ul class='nav'>{nav}</ul></nav>"
            f"<ul class='topics'>{more}</ul></header>"
            "<div class='cookie-consent'>We use cookies to measure our audience. "
            "<button>Accept</button></div>"
            f"{main}"
            "<footer><p>The Generated Times, 1 Harbour Street.</p><ul>"
            "<li><a href='/about/'>About us</a></li><li><a href='/contact/'>Contact</a></li>"
            "<li><a href='/privacy/'>Privacy</a></li></ul>"
            "<p>Subscribe to our newsletter for the news of the week.</p></footer>"
            "</body></html>"
        )

    def _listing(self, number: int) -> str:
        first = (number - 1) * PER_LISTING
        teasers = "".join(
            f"<article class='teaser'><h2><a href='{self.article_path(n)}'>"
            f"{escape(self._title(n))}</a></h2><p>{escape(self._paragraphs(n)[0][:140])}</p>"
            "</article>"
            for n in range(first, min(first + PER_LISTING, self.articles))
        )
        more = (
            f"<a rel='next' href='/page/{number + 1}/'>More news</a>"
            if number < self.listings
            else ""
        )
        return self._chrome("Latest news", f"<main>{teasers}{more}</main>")

    @lru_cache(maxsize=4096)  # noqa: B019 - a site lives as long as its server
    def _article(self, number: int) -> bytes:
        title = escape(self._title(number))
        when = self.published(number)
        body = "".join(f"<p>{escape(p)}</p>" for p in self._paragraphs(number))
        related = "".join(
            f"<li><a href='{self.article_path(n)}'>{escape(self._title(n))}</a></li>"
            for n in range(max(0, number - 3), number)
        )
        author = f"{WORDS[number % 40].title()} {WORDS[(number * 7) % 60].title()}"
        template = number % 3
        if template == 0:
            head = (
                '<script type="application/ld+json">{"@type":"NewsArticle","headline":"'
                f'{title}","datePublished":"{when.isoformat()}","author":{{"name":"{author}"}}}}'
                "</script>"
            )
            main = (
                f"<main><article><h1>{title}</h1><p class='byline'>By {author}</p>"
                f"<time datetime='{when.isoformat()}'>{when:%d %B %Y}</time>{body}</article>"
                f"<aside><h2>Related</h2><ul>{related}</ul></aside></main>"
            )
        elif template == 1:
            head = f"<meta property='article:published_time' content='{when.isoformat()}'>"
            main = (
                f"<div id='content'><div class='headline'><h1>{title}</h1></div>"
                f"<div class='meta'>{author} | {when:%Y-%m-%d}</div>"
                f"<div class='story-body'>{body}</div>"
                f"<div class='more'><h3>More from this section</h3><ul>{related}</ul></div></div>"
            )
        else:
            head = (
                f"<meta name='date' content='{when:%Y-%m-%d}'>"
                f"<meta name='author' content='{author}'>"
            )
            main = (
                f"<section class='magazine'><h1 class='title'>{title}</h1>"
                "<figure><img src='/img/x.jpg' alt=''><figcaption>Photo: archive</figcaption>"
                f"</figure><div class='text'>{body}</div>"
                f"<div class='share'>Share this story</div><ul>{related}</ul></section>"
            )
        return self._chrome(self._title(number), main, head=head).encode()

    def _title(self, number: int) -> str:
        rng = random.Random(self.seed * 1_000_003 + number)
        words = rng.sample(WORDS, 7)
        return f"{' '.join(words).capitalize()} ({number})"

    def _paragraphs(self, number: int) -> list[str]:
        rng = random.Random(self.seed * 7_919 + number)
        paragraphs = []
        for _ in range(rng.randint(4, 12)):
            sentences = []
            for _ in range(rng.randint(3, 6)):
                words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
                sentences.append(" ".join(words).capitalize() + ".")
            paragraphs.append(" ".join(sentences))
        return paragraphs


class FarmServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    farm: NewsFarm
    requests: Counter[str]
    pages: dict[str, tuple[int, str, bytes]]  # rendered in advance, if asked
    # Article requests after the first `hold_articles_after` wait until `release` is set.
    hold_articles_after: int | None = None
    release: threading.Event
    served: threading.Condition
    article_requests: int = 0

    def count(self, path: str) -> None:
        with self.served:
            self.requests[path] += 1
            if "/story-" in path:
                self.article_requests += 1
                number = self.article_requests
            else:
                number = 0
            self.served.notify_all()
        if self.hold_articles_after is not None and number > self.hold_articles_after:
            self.release.wait(timeout=HOLD_TIMEOUT_SECONDS)

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a crawler killed mid-request: expected in these tests
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def wait_for_article_requests(self, count: int, timeout_seconds: float = 120) -> bool:
        with self.served:
            return self.served.wait_for(lambda: self.article_requests >= count, timeout_seconds)


class _FarmHandler(BaseHTTPRequestHandler):
    server: FarmServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.count(path)
        page = self.server.pages.get(path)
        status, content_type, body = page or self.server.farm.render(path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_news_farm(
    articles: int, seed: int = 7, *, prerender: bool = False
) -> Iterator[FarmServer]:
    """Serve a generated site of `articles` articles on 127.0.0.1 until the block ends;
    `prerender` renders every page first (benchmarks: serving costs no rendering)."""
    server = FarmServer(("127.0.0.1", 0), _FarmHandler)
    server.farm = NewsFarm(f"http://127.0.0.1:{server.server_address[1]}", articles, seed)
    server.requests = Counter()
    server.pages = (
        {path: server.farm.render(path) for path in server.farm.paths()} if prerender else {}
    )
    with serving(server, "news-farm"):
        yield server
