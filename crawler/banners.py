"""Notice detection on one page: site-wide notices, alerts, tickers, cookie and newsletter boxes.

`find_banners(tree)` finds notice-like elements by their ARIA role and by the words of their
class and id (in several languages), returns their text with a kind, and the elements, so that
extraction can take them out of the tree before trafilatura reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import html

from crawler.items import BannerText

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
# Elements that hold a page's structure or its article, never a notice box of their own.
STRUCTURAL_TAGS = {"html", "body", "main", "article", "h1", "header", "nav", "footer", "form"}
MAX_BANNER_CHARS = 1500
MIN_BANNER_CHARS = 20
MAX_LINK_SHARE = 0.5


@dataclass(frozen=True)
class FoundBanner:
    """A notice found on a page, with the element that holds it."""

    banner: BannerText
    element: html.HtmlElement


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


def find_banners(tree: html.HtmlElement) -> list[FoundBanner]:
    """Return the notice boxes of a page, outermost first, in document order.

    An element counts when its role or class/id names a notice, it is not a structural element
    (body, main, article, header, nav, ...), it holds no `h1` (the headline) and its text is
    between 20 and 1,500 characters: a notice is a box, not the page.
    """
    found: list[FoundBanner] = []
    taken: set[html.HtmlElement] = set()
    for element in tree.iter():
        if not isinstance(element.tag, str) or element.tag in STRUCTURAL_TAGS:
            continue
        if any(ancestor in taken for ancestor in element.iterancestors()):
            continue
        kind = banner_kind(element)
        if kind is None or element.find(".//h1") is not None:
            continue
        text = banner_text(element)
        if not MIN_BANNER_CHARS <= len(text) <= MAX_BANNER_CHARS or is_link_list(element, text):
            continue
        taken.add(element)
        found.append(FoundBanner(BannerText(kind=kind, text=text), element))
    return found


def is_link_list(element: html.HtmlElement, text: str) -> bool:
    """Tell whether most of an element's text is link text: a menu, not a notice."""
    link_chars = sum(len(" ".join(link.text_content().split())) for link in element.iter("a"))
    return link_chars > MAX_LINK_SHARE * len(text)


def banner_text(element: html.HtmlElement) -> str:
    """Return the visible text of a notice box, one line per block, scripts left out."""
    lines: list[str] = []
    current: list[str] = []
    block_tags = {"p", "div", "h2", "h3", "h4", "h5", "h6", "li", "br", "section", "aside"}

    def flush() -> None:
        line = " ".join(" ".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    for event, node in _walk(element):
        if event == "start" and node.tag in block_tags:
            flush()
        elif event == "text":
            current.append(node)
        elif event == "end" and node.tag in block_tags:
            flush()
    flush()
    return "\n".join(lines)


def _walk(element: html.HtmlElement):  # type: ignore[no-untyped-def]
    """Yield ("start", el), ("text", str), ("end", el) events in document order."""
    if not isinstance(element.tag, str) or element.tag in {"script", "style", "noscript", "button"}:
        return
    yield "start", element
    if element.text:
        yield "text", element.text
    for child in element:
        yield from _walk(child)
        if child.tail:
            yield "text", child.tail
    yield "end", element


def remove_elements(elements: list[html.HtmlElement]) -> None:
    """Take elements out of their tree, keeping the text that follows each (its tail)."""
    for element in elements:
        parent = element.getparent()
        if parent is None:
            continue
        if element.tail and element.tail.strip():
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + element.tail
            else:
                parent.text = (parent.text or "") + element.tail
        parent.remove(element)
