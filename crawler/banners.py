"""Notice detection on one page: site-wide notices, alerts, tickers, cookie and newsletter boxes.

`find_banners(tree)` finds notice-like elements by their ARIA role and by the words of their
class and id (in several languages), returns their text with a kind, and the elements, so that
extraction can take them out of the tree before trafilatura reads it.
"""

from __future__ import annotations

import re

from lxml import etree, html

from crawler.items import BannerText
from crawler.metadata import MarkedElements

# Words in class or id attributes, per kind, checked in this order (first match wins).
KIND_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("cookie", frozenset({"cookie", "cookies", "consent", "gdpr", "cmp", "privacy-banner"})),
    (
        "newsletter",
        frozenset({"newsletter", "subscribe", "subscription", "signup", "sign-up", "optin"}),
    ),
    ("ticker", frozenset({"ticker", "breaking", "breakingnews", "marquee", "eilmeldung"})),
    ("alert", frozenset({"alert", "warning", "emergency", "urgent", "alerte", "warnung"})),
    (
        "notice",
        frozenset(
            {
                "notice", "notification", "announcement", "announce", "callout", "banner",
                "sitewide", "site-notice", "disclaimer", "infobox", "notice-box",
                "avis", "hinweis", "aviso", "avviso", "mededeling", "aviso-legal",
            }
        ),
    ),
    ("promo", frozenset({"promo", "promotion", "advert", "sponsored", "paywall", "upsell"})),
)  # fmt: skip
NOTICE_ROLES = {"alert": "alert", "alertdialog": "alert", "status": "notice", "marquee": "ticker"}
ATTRIBUTE_WORDS = re.compile(r"[a-z]+(?:-[a-z]+)?")
Trie = dict[str, "Trie"]


def literal_pattern(words: frozenset[str]) -> str:
    """Return a regular expression that finds any of `words`, as a trie: Python's `re` tries
    the alternatives of `a|b|c` one after another at every position; a trie (`a(?:lert|vis)`)
    follows one branch a character. Three times faster over a page's class names."""
    trie: Trie = {}
    for word in words:
        node = trie
        for character in word:
            node = node.setdefault(character, {})
        node[""] = {}

    def pattern(node: Trie) -> str:
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        ends_here = "" in node
        group = branches[0] if len(branches) == 1 and not ends_here else f"(?:{'|'.join(branches)})"
        return group + ("?" if ends_here else "")

    return pattern(trie)


NOTICE_WORDS = frozenset({w for _, words in KIND_WORDS for w in words} | set(NOTICE_ROLES))
ANY_KIND_WORD = re.compile(literal_pattern(NOTICE_WORDS))

# Elements that hold a page's structure or its article, never a notice box of their own.
STRUCTURAL_TAGS = {
    "html", "body", "main", "article", "h1", "header", "nav", "footer", "form",
    "figure", "figcaption", "picture", "img", "table", "thead", "tbody", "tr", "td", "th",
}  # fmt: skip
# Kinds of box that never hold the article, however much of the page they fill.
NEVER_ARTICLES = frozenset({"cookie", "newsletter"})
MAX_BANNER_CHARS = 1500
MIN_BANNER_CHARS = 20
MAX_LINK_SHARE = 0.5


def banner_kind(element: html.HtmlElement) -> str | None:
    """Return the kind of notice an element's role, class or id announces, or None."""
    role = (element.get("role") or "").strip().lower()
    if role in NOTICE_ROLES:
        return NOTICE_ROLES[role]
    if element.tag == "marquee":
        return "ticker"
    attributes = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
    if not attributes.strip():
        return None
    words = set(ATTRIBUTE_WORDS.findall(attributes))
    words |= {part for word in words for part in word.split("-")}
    for kind, kind_words in KIND_WORDS:
        if words & kind_words:
            return kind
    return None


def page_title_key(tree: html.HtmlElement) -> str:
    """Return the start of the page's own title (og:title, else <title>), case-folded."""
    titles = tree.xpath("//meta[@property='og:title']/@content") or tree.xpath("//title/text()")
    title = " ".join(str(titles[0]).split()).casefold() if titles else ""
    # "<headline> | <site>": keep the headline part.
    for separator in (" | ", " - ", " \u2013 ", " \u2014 "):
        title = title.split(separator)[0]
    return title[:60] if len(title) >= 20 else ""


def find_banners(
    tree: html.HtmlElement,
    marked: MarkedElements | None = None,
    selectors: tuple[str, ...] = (),
) -> list[BannerText]:
    """Return the notice boxes of a page, outermost first, in document order.

    An element counts when its role or class/id names a notice, it is not a structural element
    (body, main, article, header, nav, figure, table, ...), it holds neither an `h1` nor the
    page's title, its text is between 20 and 1,500 characters (a notice is a box, not the page)
    and it is not mostly links (a menu). Elements matching `selectors` (CSS, from a source's
    extraction hints) are notices whatever their names say, unless they hold the headline.
    """
    found: list[BannerText] = []
    taken: set[html.HtmlElement] = set()
    for selector in selectors:
        for element in tree.cssselect(selector):
            if element in taken or element.find(".//h1") is not None:
                continue
            if text := banner_text(element):
                taken.add(element)
                found.append(BannerText(kind=banner_kind(element) or "notice", text=text))
    title_key = page_title_key(tree)
    candidates = [
        *(marked or MarkedElements.of(tree)).matching(ANY_KIND_WORD),
        *tree.iter("marquee"),
    ]
    for element in candidates:
        if element.tag in STRUCTURAL_TAGS:
            continue
        kind = banner_kind(element)
        if kind is None or element in taken:
            continue
        if any(ancestor in taken for ancestor in element.iterancestors()):
            continue
        if element.find(".//h1") is not None:
            continue
        text = banner_text(element)
        if not MIN_BANNER_CHARS <= len(text) <= MAX_BANNER_CHARS or is_link_list(element, text):
            continue
        if title_key and title_key in " ".join(text.split()).casefold():
            continue  # it holds the article's own headline: a "breaking news" story, not a box
        taken.add(element)
        found.append(BannerText(kind=kind, text=text))
    return found


def is_link_list(element: html.HtmlElement, text: str) -> bool:
    """Tell whether most of an element's text is link text: a menu, not a notice."""
    link_chars = sum(len(" ".join(link.text_content().split())) for link in element.iter("a"))
    return link_chars > MAX_LINK_SHARE * len(text)


BLOCK_TAGS = frozenset({"p", "div", "h2", "h3", "h4", "h5", "h6", "li", "br", "section", "aside"})
NOT_TEXT_TAGS = frozenset({"script", "style", "noscript", "button"})


def banner_text(element: html.HtmlElement) -> str:
    """Return the visible text of a notice box, one line per block, scripts left out.

    Walked with lxml's iterwalk, in C (a recursive generator in Python cost 1.6 times as much:
    each event went up through a generator for each level of the box)."""
    if not isinstance(element.tag, str) or element.tag in NOT_TEXT_TAGS:
        return ""
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = " ".join(" ".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    walker = etree.iterwalk(element, events=("start", "end", "comment", "pi"))
    skipped = None
    for event, node in walker:
        if event == "start":
            if node.tag in NOT_TEXT_TAGS:
                walker.skip_subtree()  # its end comes next: its tail is still text
                skipped = node
                continue
            if node.tag in BLOCK_TAGS:
                flush()
            if node.text:
                current.append(node.text)
            continue
        if event == "end" and node is not skipped and node.tag in BLOCK_TAGS:
            flush()
        if node is not element and node.tail:  # after an element, a comment or a PI
            current.append(node.tail)
    flush()
    return "\n".join(lines)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def remove_banner_lines(body: str, banners: list[BannerText]) -> tuple[str, tuple[BannerText, ...]]:
    """Return the body without the lines that repeat a notice, and the notices of the page.

    The extractor reads the whole page, so a notice box it took for article text shows up as
    whole lines of the body; those lines go. A "notice" that would take away more than half of
    the body is the article itself (a story filed under a "breaking news" box): it is neither
    removed nor kept as a banner; unless it is a cookie or newsletter box, which is never an
    article (a page that is only a consent wall keeps no body, catalog B05).
    """
    lines = body.split("\n")
    keys = [_key(line) for line in lines]
    body_chars = sum(len(key) for key in keys) or 1
    removed: set[int] = set()
    kept: list[BannerText] = []
    for banner in banners:
        whole = _key(banner.text)
        parts = {_key(line) for line in banner.text.split("\n")} | {whole}
        hits = {
            index
            for index, key in enumerate(keys)
            if key and (key in parts or (len(key) >= MIN_BANNER_CHARS and key in whole))
        }
        share = sum(len(keys[index]) for index in hits) / body_chars
        if share > 0.5 and banner.kind not in NEVER_ARTICLES:
            continue
        removed |= hits
        kept.append(banner)
    text = "\n".join(line for index, line in enumerate(lines) if index not in removed)
    return text, tuple(kept)
