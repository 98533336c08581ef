"""A generated news site of any size, served on 127.0.0.1: for shared-crawl tests and benchmarks.

Its pages look like real ones: metadata and inline scripts in the head, a menu of about a
hundred links in nested drop-downs, a ticker, a cookie notice, a sidebar of teasers (the first
with pictures), an advertisement and a "read also" box inside the text, links and emphasis in
its paragraphs, share buttons, tags, related stories, comments and a footer of link columns,
all in the nested containers of real layouts, around an article of 4 to 12 paragraphs. Against
the 181 real news pages of ../shared/benchmarks (their medians, from
`benchmarks/page_shapes.py`), an article page has 701 elements (real: 743), 203 div, span and
section elements (178), a depth of 17 (16), 38 KB of attributes (44), 32 KB of script (32),
10 KB of text (10), 160 links (135) and weighs 86 KB (112), in three templates (an
`<article>` page with JSON-LD, a div layout, a magazine layout with a figure).
Listings (`/`, `/page/2/`, ...) link 20 articles each and the next listing; robots.txt
names a sitemap index whose sitemaps list every article (1,000 per sitemap), as real sites do
(a crawl's depth limit would otherwise stop at the 25th listing). Every page is made
from the article number and a seed, so a site is the same each time it is built.
"""

from __future__ import annotations

import functools
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
TOPICS = WORDS[:12]  # each section's menu lists its pages on these topics; tags link to them
PER_LISTING = 20
PER_SITEMAP = 1000
HOLD_TIMEOUT_SECONDS = 120
SCRIPT_LINES = 210  # two inline scripts of about 16 KB: the real pages' median is 32 KB of script


# An inline logo and share icons: real pages carry a few KB of SVG path data.
LOGO = (
    "<svg class='c-logo' viewBox='0 0 240 40' aria-hidden='true'><path d='"
    + " ".join(f"M{i} {i % 17} l{i % 7} {i % 11} h{i % 5}" for i in range(120))
    + "'/></svg>"
)
SHARE = "".join(
    f"<a class='c-share__link c-share__link--{name}' href='https://share.example/{name}'>"
    "<svg viewBox='0 0 24 24'><path d='"
    + " ".join(f"M{i} {i % 9} l{i % 4} {i % 6}" for i in range(40))
    + f"'/></svg><span>{name}</span></a>"
    for name in ("facebook", "x", "linkedin", "email")
)


def _script(rng: random.Random, lines: int) -> str:
    """Inline JavaScript of `lines` lines: the trackers and configuration real pages embed."""
    return "".join(
        f"window.__cfg_{rng.randrange(10**6)}={{id:'{rng.getrandbits(64):016x}',"
        f"slot:{rng.randrange(100)},path:'/{rng.choice(WORDS)}/{rng.choice(WORDS)}'}};"
        for _ in range(lines)
    )


def _track(place: str, name: object) -> str:
    """The analytics and layout attributes real sites put on their links."""
    return (
        f'data-track=\'{{"event":"click","category":"navigation","place":"{place}",'
        f"\"label\":\"{name}\"}}' data-component='link' data-variant='default'"
    )


def _inline(text: str, rng: random.Random) -> str:
    """A paragraph as real articles mark it up: none, one or two of its words a link (where the
    word names a topic of the site) or an emphasis. In ../shared/benchmarks a third of the long
    paragraphs hold such elements, half an element a paragraph."""
    words = text.split(" ")
    for at in rng.sample(range(len(words)), min(len(words), rng.randint(0, 2))):
        word = words[at].rstrip(".").lower()
        if word in TOPICS:
            words[at] = f"<a href='/topics/{word}/'>{words[at]}</a>"
        else:
            tag = rng.choice(("strong", "em"))
            words[at] = f"<{tag}>{words[at]}</{tag}>"
    return " ".join(words)


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
        if path in self._section_paths():
            return 200, "text/html; charset=utf-8", self._section(path).encode()
        if path == "/feed.xml":
            return 200, "application/rss+xml", self._feed().encode()
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
        return [
            "/robots.txt", "/sitemap.xml", *sitemaps, "/feed.xml", "/", *listings,
            *sorted(self._section_paths()), *self.article_paths(),
        ]  # fmt: skip

    @functools.cache  # noqa: B019 - a site lives as long as its server
    def _section_paths(self) -> frozenset[str]:
        """The section, topic and static pages the menu, tags and footer link to."""
        return frozenset(
            [f"/{section}/" for section in SECTIONS]
            + [f"/{section}/{word}/" for section in SECTIONS for word in TOPICS]
            + [f"/topics/{word}/" for word in TOPICS]
            + ["/about/", "/contact/", "/privacy/"]
        )

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

    def _chrome(self, title: str, main: str, *, number: int, head: str = "") -> str:
        """A page as news sites send them: metadata, scripts and a menu of a hundred links in the
        head and header, a notice, a newsletter box, a sidebar, a footer of link columns."""
        rng = random.Random(self.seed * 104_729 + number)
        menu = "".join(
            f"<li class='c-menu__item c-menu__item--{section}'>"
            f"<a class='c-menu__link' href='/{section}/' {_track('menu', section)}>"
            "<span class='c-menu__label'>"
            f"{section.title()}</span><i class='c-icon c-icon--chevron'></i></a>"
            "<div class='c-menu__dropdown'><div class='c-menu__panel'><ul class='c-menu__sub'>"
            + "".join(
                f"<li class='c-menu__subitem'><a class='c-menu__sublink' "
                f"href='/{section}/{word}/' {_track('menu', word)}>{word.title()}</a></li>"
                for word in TOPICS
            )
            + "</ul></div></div></li>"
            for section in SECTIONS
        )
        ticker = "".join(
            f"<li class='c-ticker__item'><a href='{self.article_path(n)}'>"
            f"<span class='c-headline'>{escape(self._title(n))}</span></a></li>"
            for n in rng.sample(range(self.articles), min(5, self.articles))
        )
        # The first teasers of the sidebar have a picture, the rest are text.
        sidebar = "".join(
            f"<li class='c-list__item'><article class='c-teaser c-teaser--small'>"
            f"<a class='c-teaser__link' href='{self.article_path(n)}' {_track('most-read', n)}>"
            + (
                "<div class='c-teaser__media'><div class='c-ratio c-ratio--16x9'><picture>"
                f"<source type='image/webp' srcset='/img/{n}-160.webp 160w, /img/{n}-320.webp "
                f"320w'><img class='c-teaser__image' loading='lazy' src='/img/{n}-160.jpg' "
                f"srcset='/img/{n}-160.jpg 160w, /img/{n}-320.jpg 320w' alt=''></picture></div>"
                "</div>"
                if rank < 4
                else f"<div class='c-teaser__rank'><span>{rank + 1}</span></div>"
            )
            + "<div class='c-teaser__body'><span class='c-teaser__title'>"
            f"{escape(self._title(n))}</span></div></a></article></li>"
            for rank, n in enumerate(rng.sample(range(self.articles), min(20, self.articles)))
        )
        latest = "".join(
            f"<li class='c-latest__item'><div class='c-latest__row'>"
            f"<a href='{self.article_path(n)}' {_track('latest', n)}>"
            f"<time>{self.published(n):%H:%M}</time>"
            f"<span class='c-latest__title'>{escape(self._title(n))}</span></a></div></li>"
            for n in rng.sample(range(self.articles), min(15, self.articles))
        )
        footer = "".join(
            "<div class='l-col l-col--3'><div class='c-footer__column'><h4><span>"
            + section.title()
            + "</span></h4><ul>"
            + "".join(
                f"<li><a href='/{section}/{word}/' {_track('footer', word)}>{word.title()}</a></li>"
                for word in TOPICS[:5]
            )
            + "</ul></div></div>"
            for section in SECTIONS
        )
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)} - The Generated Times</title>"
            f"<meta property='og:title' content='{escape(title)}'>"
            "<meta property='og:site_name' content='The Generated Times'>"
            "<meta name='twitter:card' content='summary_large_image'>"
            "<link rel='stylesheet' href='/static/main.css'>"
            "<link rel='alternate' type='application/rss+xml' href='/feed.xml'>"
            f"{head}<script>{_script(rng, SCRIPT_LINES)}</script>"
            "<style>body{font-family:serif} .c-menu__item{display:inline}</style></head><body>"
            "<div id='app' class='l-app'><div class='l-page'>"
            "<a class='u-skip-link' href='#main'>Skip to content</a>"
            "<header class='c-header'><div class='l-container'><div class='c-header__inner'>"
            f"<div class='c-header__brand'><a class='c-header__logo' href='/'>{LOGO}"
            "<span>The Generated Times</span></a></div>"
            f"<nav class='c-menu' aria-label='Sections'><ul class='c-menu__list'>{menu}</ul>"
            "</nav><div class='c-header__tools'><form class='c-search' action='/search'>"
            "<div class='c-search__field'><input name='q' type='search'>"
            "<button><span>Search</span></button></div></form></div></div></div></header>"
            "<div class='c-ticker'><div class='l-container'><div class='c-ticker__inner'>"
            f"<strong>Latest</strong><ul class='c-ticker__list'>{ticker}</ul></div></div></div>"
            "<div class='cookie-consent'>We use cookies to measure our audience. "
            "<button>Accept</button></div>"
            "<div class='l-container'><div class='o-grid' id='main'><div class='o-grid__main'>"
            f"<div class='o-grid__inner'>{main}</div></div>"
            "<aside class='o-grid__side'><div class='c-ad' id='ad-side'><div class='c-ad__slot'>"
            "</div></div><div class='c-widget c-widget--most-read'><div class='c-widget__inner'>"
            f"<h3 class='c-list__heading'>Most read</h3><ul class='c-list'>{sidebar}</ul></div>"
            "</div><div class='c-widget c-widget--latest'><div class='c-widget__inner'>"
            f"<h3 class='c-latest__heading'>Latest</h3><ol class='c-latest'>{latest}</ol></div>"
            "</div><div class='c-newsletter'><p>Subscribe to our newsletter for the news of the "
            "week.</p><form><input type='email' name='email'><button>Sign up</button></form>"
            "</div></aside></div></div>"
            "<footer class='c-footer'><div class='l-container'><div class='l-row'>"
            f"{footer}</div><div class='c-footer__bottom'>"
            "<p>The Generated Times, 1 Harbour Street.</p><ul>"
            "<li><a href='/about/'>About us</a></li><li><a href='/contact/'>Contact</a></li>"
            "<li><a href='/privacy/'>Privacy</a></li></ul></div></div></footer>"
            f"</div></div><script>{_script(rng, SCRIPT_LINES)}</script></body></html>"
        )

    def _section(self, path: str) -> str:
        """A section or topic page: the latest articles, as the first listing shows them."""
        return self._listing(1).replace("<title>Latest news", f"<title>{escape(path)}", 1)

    def _feed(self) -> str:
        items = "".join(
            f"<item><title>{escape(self._title(n))}</title>"
            f"<link>{self.base_url}{self.article_path(n)}</link>"
            f"<pubDate>{self.published(n):%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
            for n in range(min(PER_LISTING, self.articles))
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>The Generated Times</title><link>{self.base_url}/</link>{items}"
            "</channel></rss>"
        )

    @functools.cache  # noqa: B019 - a site lives as long as its server
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
        return self._chrome("Latest news", f"<main>{teasers}{more}</main>", number=-number)

    @lru_cache(maxsize=4096)  # noqa: B019 - a site lives as long as its server
    def _article(self, number: int) -> bytes:
        rng = random.Random(self.seed * 15_485_863 + number)
        title = escape(self._title(number))
        when = self.published(number)
        marks = random.Random(self.seed * 32_452_843 + number)
        paragraphs = [f"<p>{_inline(escape(p), marks)}</p>" for p in self._paragraphs(number)]
        # An advertisement slot and a "read also" box inside the text, as most sites have.
        paragraphs.insert(
            2, f"<div class='c-ad c-ad--inline'><script>{_script(rng, 8)}</script></div>"
        )
        read_also = "".join(
            f"<li><a href='{self.article_path(n)}'>{escape(self._title(n))}</a></li>"
            for n in rng.sample(range(self.articles), min(3, self.articles))
        )
        paragraphs.insert(
            len(paragraphs) // 2,
            f"<aside class='c-read-also'><h4>Read also</h4><ul>{read_also}</ul></aside>",
        )
        body = "".join(paragraphs)
        related = "".join(
            f"<div class='c-card'><a class='c-card__link' href='{self.article_path(n)}'>"
            f"<img class='c-card__image' loading='lazy' src='/img/{n}-320.jpg' "
            f"srcset='/img/{n}-320.jpg 320w, /img/{n}-640.jpg 640w, /img/{n}-960.jpg 960w' "
            f"sizes='(max-width: 600px) 100vw, 33vw' alt=''><h3 class='c-card__title'>"
            f"{escape(self._title(n))}</h3></a><p class='c-card__teaser'>"
            f"{escape(self._paragraphs(n)[0][:120])}</p><time>{self.published(n):%d %b %Y}</time>"
            "</div>"
            for n in rng.sample(range(self.articles), min(12, self.articles))
        )
        tags = "".join(
            f"<li><a rel='tag' href='/topics/{word}/'>{word}</a></li>"
            for word in rng.sample(TOPICS, 5)
        )
        comments = "".join(
            f"<div class='c-comment'><div class='c-comment__meta'><span>{WORDS[k].title()}"
            f"</span> <time>{when:%d %b %Y}</time></div><p>{escape(self._paragraphs(k)[0][:200])}"
            "</p><button>Reply</button></div>"
            for k in rng.sample(range(len(WORDS)), rng.randint(0, 6))
        )
        extras = (
            f"<div class='c-share'>{SHARE}</div><ul class='c-tags'>{tags}</ul>"
            f"<section class='c-related'><h2>More stories</h2><div class='o-cards'>{related}"
            f"</div></section><section class='c-comments'><h2>Comments</h2>{comments}</section>"
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
                f"{extras}</main>"
            )
        elif template == 1:
            head = f"<meta property='article:published_time' content='{when.isoformat()}'>"
            main = (
                f"<div id='content'><div class='headline'><h1>{title}</h1></div>"
                f"<div class='meta'>{author} | {when:%Y-%m-%d}</div>"
                f"<div class='story-body'>{body}</div>{extras}</div>"
            )
        else:
            head = (
                f"<meta name='date' content='{when:%Y-%m-%d}'>"
                f"<meta name='author' content='{author}'>"
            )
            main = (
                f"<section class='magazine'><h1 class='title'>{title}</h1>"
                "<figure><picture><source type='image/webp' srcset='/img/x.webp'>"
                "<img src='/img/x.jpg' alt=''></picture><figcaption>Photo: archive</figcaption>"
                f"</figure><div class='text'>{body}</div>{extras}</section>"
            )
        return self._chrome(self._title(number), main, number=number, head=head).encode()

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
