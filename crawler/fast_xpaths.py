"""trafilatura's costliest XPath expressions, evaluated in Python with the same result.

trafilatura finds a page's main text with XPath expressions whose predicates call EXSLT's
`re:test`, which libxml2 hands back to Python's `re` once per element and per test: on the
real pages of ../shared/benchmarks they were 56% of trafilatura's pass (8.5 of 15.1 ms a
page). Each expression below is written out twice: as trafilatura's XPath text, and as a
Python function that walks only the elements of the tags the expression names (lxml filters
them in C) and runs the same regular expressions on their attributes.

`install()` replaces an expression in trafilatura's lists only where the list holds exactly
that XPath text (whitespace aside); any other trafilatura keeps its own expressions, so an
upgrade that changes one is never evaluated with an outdated translation.
`tests/crawler/test_fast_xpaths.py` compares every translation with libxml2's evaluation of
its XPath text on generated pages and on trees drawn at random from the expressions' own
words.

XPath semantics kept: `.//*` is the descendants of the context element, in document order;
an absent attribute compares as the empty string in string functions and as false in `=`;
`@id|@class` as a string is the value of whichever of the two comes first in the element's
source; `re:test` is `re.search` (lxml's EXSLT regexp); `path[1]` without parentheses keeps
each match that is the first match among its siblings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import trafilatura.xpaths
from lxml import etree

Element = Any  # an lxml element; lxml's stubs are not a dependency of this project
Predicate = Callable[[Element], bool]


def _attr(element: Element, name: str) -> str:
    return element.get(name) or ""


def first_of(element: Element, one: str, other: str) -> str:
    """Return the string value of `@one|@other`: the first of the two in the source."""
    a, b = element.get(one), element.get(other)
    if a is None:
        return b or ""
    if b is None:
        return a  # type: ignore[no-any-return]
    keys = element.keys()
    return a if keys.index(one) < keys.index(other) else b  # type: ignore[no-any-return]


def _search(pattern: str, flags: int = 0) -> Callable[[str], bool]:
    """Return `re:test(string, pattern)`; most elements have no id or class: the empty string's
    answer is computed once."""
    search = re.compile(pattern, flags).search
    empty = search("") is not None
    return lambda text: search(text) is not None if text else empty


@dataclass(frozen=True)
class Translation:
    """One of trafilatura's expressions: its XPath text, and the same selection in Python."""

    xpath: str
    tags: tuple[str, ...]  # the element names of `self::` tests; () for any element
    predicate: Predicate
    first_among_siblings: bool = False  # `.//*[...][1]` without parentheses
    first_only: bool = False  # `(.//*[...])[1]`

    def select(self, context: Element) -> list[Element]:
        """Return what the XPath selects from `context`, in document order."""
        elements: Iterable[Element] = (
            context.iterdescendants(*self.tags)
            if self.tags
            else context.iterdescendants(etree.Element)
        )
        predicate = self.predicate
        if self.first_only:
            for element in elements:
                if predicate(element):
                    return [element]
            return []
        if not self.first_among_siblings:
            return [element for element in elements if predicate(element)]
        parents: set[Element] = set()
        selected = []
        for element in elements:
            if predicate(element):
                parent = element.getparent()
                if parent not in parents:
                    parents.add(parent)
                    selected.append(element)
        return selected


class FastXPath:
    """Stands in for an `lxml.etree.XPath` in trafilatura's lists (called with the context)."""

    def __init__(self, translation: Translation, original: Any) -> None:
        self.translation = translation
        self.original = original
        self.path = original.path

    def __call__(self, context: Element, **variables: Any) -> Any:
        if variables or not hasattr(context, "iterdescendants"):  # a document, XPath variables
            return self.original(context, **variables)
        return self.translation.select(context)

    def __str__(self) -> str:
        return str(self.path)


def normalized(xpath: str) -> str:
    return " ".join(xpath.split())


# -- the expressions ------------------------------------------------------------------------

_COMMENTS_ID = "[Cc]omment(?!ary)|comol"
_COMMENTS_CLASS = "^[Cc]omment(?!ary)|(?:article|post)-comments"
_COMMENTS_ID_ALL = f"^(?:{_COMMENTS_ID}|disqus_thread|dsq-comments)"
_comments_id_all = _search(_COMMENTS_ID_ALL)
_comments_id = _search(f"^(?:{_COMMENTS_ID})")
_comments_class = _search(_COMMENTS_CLASS)


def _remove_comments(element: Element) -> bool:
    return _comments_id_all(_attr(element, "id")) or _comments_class(_attr(element, "class"))


def _remove_comments_and_lists(element: Element) -> bool:
    id_, class_ = _attr(element, "id"), _attr(element, "class")
    if not (_comments_id_all(id_) or _comments_class(class_)):
        return False
    return element.tag not in ("ol", "ul") or _comments_id(id_) or _comments_class(class_)


REMOVE_COMMENTS = Translation(
    f"""
        .//*[self::div or self::list or self::section or self::details][
        re:test(@id, '{_COMMENTS_ID_ALL}') or
        re:test(@class, '{_COMMENTS_CLASS}')]
    """,
    ("div", "list", "section", "details"),
    _remove_comments,
)
REMOVE_COMMENTS_AND_LISTS = Translation(
    f"""
        .//*[self::div or self::list or self::section or self::details or self::ol or self::ul][
        re:test(@id, '{_COMMENTS_ID_ALL}') or
        re:test(@class, '{_COMMENTS_CLASS}')][
        not(self::ol or self::ul) or re:test(@id, '^(?:{_COMMENTS_ID})') or
        re:test(@class, '{_COMMENTS_CLASS}')]
    """,
    ("div", "list", "section", "details", "ol", "ul"),
    _remove_comments_and_lists,
)

_APPENDED = "mvp-post-add-(?:box|wrap)"
_APPENDED_OR_SCROLL = f"{_APPENDED}|infinite-?scroll"
_appended = _search(_APPENDED)
_appended_or_scroll = _search(_APPENDED_OR_SCROLL)


def _appended_articles(element: Element) -> bool:
    id_, class_ = _attr(element, "id"), _attr(element, "class")
    if not (_appended_or_scroll(id_) or _appended_or_scroll(class_)):
        return False
    return next(element.iterdescendants("h1"), None) is None or _appended(id_) or _appended(class_)


RAW_TREE_PRUNE_APPENDED = Translation(
    f"""
        .//*[self::div or self::section or self::aside][
        re:test(@id, '{_APPENDED_OR_SCROLL}') or
        re:test(@class, '{_APPENDED_OR_SCROLL}')][
        not(.//h1) or re:test(@id, '{_APPENDED}') or re:test(@class, '{_APPENDED}')]
    """,
    ("div", "section", "aside"),
    _appended_articles,
)
RAW_TREE_PRUNE_SHARE = Translation(
    ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]",
    ("div", "section", "aside"),
    lambda element: "elementor-share-buttons" in _attr(element, "class"),
)

_BOTH_TOKENS = (
    "^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author"
)
_ID_TOKENS = (
    "^(?:jp-|dpsp-content)|bmdh|footer|Footer|share|Share|nav|Nav|menu|related"
    "|message-container|premium|^ad-"
)
_CLASS_TOKENS = (
    "^(?:nav|post-nav|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar"
    "| ad |-ad-|(?:^| )ad-|dfp[Aa]d|outbrain|taboola|criteo|paid-?content|widget"
    "|footer|Footer|byline|Byline|share-|sociable|embedded|embed|tag-list"
    "|consent|modal-content|permission|elated|next-|-stories|most-popular|more-on"
    "|meta|rating|attachment|timestamp|user-info|user-profile|-icon|article-infos"
    "|message-container|slide|viewport|overlay|options|expand|obfuscated|blurred"
    "|mol-factbox|yin|zlylin|nfoline"
)
_cookie = _search("cookie")
_discard_id = _search(f"{_BOTH_TOKENS}|{_ID_TOKENS}")
_discard_class = _search(f"{_BOTH_TOKENS}|{_CLASS_TOKENS}")


def _overall_discard(element: Element) -> bool:
    return (
        element.get("data-lp-replacement-content") is not None
        or "nav" in _attr(element, "role").replace("N", "n")
        or "MostPopularStories" in _attr(element, "data-component")
        or _cookie(first_of(element, "id", "class"))
        or _discard_id(_attr(element, "id"))
        or _discard_class(_attr(element, "class"))
    )


_BLOCKS = ("div", "item", "list", "p", "section", "span")
_BLOCK_TESTS = "self::div or self::item or self::list or self::p or self::section or self::span"
OVERALL_DISCARD = Translation(
    f"""
        .//*[{_BLOCK_TESTS}][
        @data-lp-replacement-content or
        contains(translate(@role, 'N', 'n'), 'nav') or
        contains(@data-component, 'MostPopularStories') or
        re:test(@id|@class, 'cookie') or
        re:test(@id, '{_BOTH_TOKENS}|{_ID_TOKENS}') or
        re:test(@class, '{_BOTH_TOKENS}|{_CLASS_TOKENS}')]
    """,
    _BLOCKS,
    _overall_discard,
)

_HIDDEN_ID = "reader-comments|akismet"
_HIDDEN_CLASS = (
    "^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print"
    "| hidden| hide|noprint|notloaded"
)
_hidden = _search("hidden")
_hidden_id = _search(_HIDDEN_ID)
_hidden_class = _search(_HIDDEN_CLASS)


def _overall_discard_hidden(element: Element) -> bool:
    class_ = element.get("class")
    style = _attr(element, "style")
    return (
        class_ == "comments-title"
        or first_of(element, "id", "class").startswith("reply-")
        or _hidden(first_of(element, "id", "style"))
        or "display:none" in style
        or "display: none" in style
        or _hidden_id(_attr(element, "id"))
        or _hidden_class(class_ or "")
        or element.get("aria-hidden") == "true"
    )


OVERALL_DISCARD_HIDDEN = Translation(
    f"""
        .//*[@class='comments-title' or
        starts-with(@id|@class, 'reply-') or
        re:test(@id|@style, 'hidden') or
        contains(@style, 'display:none') or contains(@style, 'display: none') or
        re:test(@id, '{_HIDDEN_ID}') or
        re:test(@class, '{_HIDDEN_CLASS}') or @aria-hidden='true']
    """,
    (),
    _overall_discard_hidden,
)

TEASER_DISCARD = Translation(
    f"""
    .//*[{_BLOCK_TESTS}][
    contains(translate(@id, 'T', 't'), 'teaser') or contains(translate(@class, 'T', 't'), 'teaser')]
    """,
    _BLOCKS,
    lambda element: (
        "teaser" in _attr(element, "id").replace("T", "t")
        or "teaser" in _attr(element, "class").replace("T", "t")
    ),
)

_bottom = _search(r"(^|\s)bottom|bottom(\s|$)")
_link = _search(r"(^|\s)link(\s|$)")


def _precision_discard(element: Element) -> bool:
    first = first_of(element, "id", "class")
    return _bottom(first) or _link(first) or "border" in _attr(element, "style")


PRECISION_DISCARD = Translation(
    rf"""
    .//*[{_BLOCK_TESTS}][
    re:test(@id|@class, '(^|\s)bottom|bottom(\s|$)') or re:test(@id|@class, '(^|\s)link(\s|$)') or
    contains(@style, 'border')]
    """,
    _BLOCKS,
    _precision_discard,
)

DISCARD_IMAGE = Translation(
    f"""
    .//*[{_BLOCK_TESTS}][
    contains(@id, 'caption') or contains(@class, 'caption')]
    """,
    _BLOCKS,
    lambda element: "caption" in _attr(element, "id") or "caption" in _attr(element, "class"),
)

_ARTICLE_ID = (
    "(?:entry|article|art)-content|article__content|article(?:-|__)?body|articleBody|body-text"
)
_ARTICLE_CLASS = (
    "post[-_]text|post-body|post-?entry|post[-_]?content|postContent|post_inner_wrapper"
    "|article-?text|articleText|(?:entry|page|text|article|art)-content|article__content"
    "|article(?:-|__)?body|articleBody|ArticleContent|body-text|article__container"
)
_article_id = _search(_ARTICLE_ID)
_article_class = _search(_ARTICLE_CLASS)


def _article_body(element: Element) -> bool:
    class_, id_ = element.get("class"), element.get("id")
    return (
        class_ in ("post", "entry")
        or element.get("itemprop") == "articleBody"
        or id_ == "articleContent"
        or _article_id(id_ or "")
        or _article_class(class_ or "")
    )


_CONTAINERS = ("article", "div", "main", "section")
_CONTAINER_TESTS = "self::article or self::div or self::main or self::section"
BODY_ARTICLE = Translation(
    f"""
        .//*[{_CONTAINER_TESTS}][
        @class='post' or @class='entry' or
        @itemprop='articleBody' or @id='articleContent' or
        re:test(@id, '{_ARTICLE_ID}') or
        re:test(@class, '{_ARTICLE_CLASS}')
        ][1]
    """,
    _CONTAINERS,
    _article_body,
    first_among_siblings=True,
)

_STORY_ID = "^primary|story-body"
_STORY_CLASS = (
    "^article |post-bodycopy|story-?content|(?:theme|blog|section|single)-content|single-post"
    "|main-column|wpb_text_column|story-body|field-body"
)
_story_id = _search(_STORY_ID)
_story_class = _search(_STORY_CLASS)
_fulltext = _search("fulltext", re.IGNORECASE)
_STORY_IDS = ("article", "story")
_STORY_CLASSES = ("postarea", "art-postcontent", "text", "cell", "story")


def _story(element: Element) -> bool:
    class_, id_ = element.get("class"), element.get("id")
    return (
        element.get("role") == "article"
        or id_ in _STORY_IDS
        or class_ in _STORY_CLASSES
        or _story_id(id_ or "")
        or _fulltext(class_ or "")
        or _story_class(class_ or "")
    )


BODY_STORY = Translation(
    f"""
        (.//*[{_CONTAINER_TESTS}][
        @role='article' or
        @id='article' or @id='story' or
        @class='postarea' or @class='art-postcontent' or @class='text' or @class='cell' or
        @class='story' or
        re:test(@id, '{_STORY_ID}') or
        re:test(@class, 'fulltext', 'i') or
        re:test(@class, '{_STORY_CLASS}')
        ])[1]
    """,
    _CONTAINERS,
    _story,
    first_only=True,
)

_MAIN_ID = "content-main|content-body|contentBody"
_MAIN_CLASS = "content[-_]main|content(?:-|__)body"
_main_id = _search(_MAIN_ID)
_main_class = _search(_MAIN_CLASS)


def _main_content(element: Element) -> bool:
    id_, class_ = _attr(element, "id"), _attr(element, "class")
    return (
        id_ == "content"
        or class_ == "content"
        or _main_id(id_)
        or _main_class(class_)
        or "main-content" in id_.replace("C", "c").replace("M", "m")
        or "main-content" in class_.replace("C", "c").replace("M", "m")
        or "page-content" in class_.replace("C", "c").replace("P", "p")
    )


BODY_MAIN_CONTENT = Translation(
    f"""
        (.//*[{_CONTAINER_TESTS}][
        @id='content' or @class='content' or
        re:test(@id, '{_MAIN_ID}') or
        re:test(@class, '{_MAIN_CLASS}') or
        contains(translate(@id, 'CM','cm'), 'main-content') or
        contains(translate(@class, 'CM','cm'), 'main-content') or
        contains(translate(@class, 'CP','cp'), 'page-content')
        ])[1]
    """,
    _CONTAINERS,
    _main_content,
    first_only=True,
)

# Where each translation goes: (list in trafilatura.xpaths, index, translation).
TRANSLATIONS: tuple[tuple[str, int, Translation], ...] = (
    ("BODY_XPATH", 0, BODY_ARTICLE),
    ("BODY_XPATH", 2, BODY_STORY),
    ("BODY_XPATH", 3, BODY_MAIN_CONTENT),
    ("OVERALL_DISCARD_XPATH", 0, OVERALL_DISCARD),
    ("OVERALL_DISCARD_XPATH", 1, OVERALL_DISCARD_HIDDEN),
    ("TEASER_DISCARD_XPATH", 0, TEASER_DISCARD),
    ("PRECISION_DISCARD_XPATH", 1, PRECISION_DISCARD),
    ("DISCARD_IMAGE_ELEMENTS", 0, DISCARD_IMAGE),
    ("RAW_TREE_PRUNE_XPATH", 0, RAW_TREE_PRUNE_APPENDED),
    ("RAW_TREE_PRUNE_XPATH", 1, RAW_TREE_PRUNE_SHARE),
    ("REMOVE_COMMENTS_XPATH", 0, REMOVE_COMMENTS),
    ("REMOVE_COMMENTS_AND_LISTS_XPATH", 0, REMOVE_COMMENTS_AND_LISTS),
)


def _slots() -> Iterator[tuple[str, list[Any], int, Translation]]:
    """(name, trafilatura's list, index, translation) for each translation whose list and
    index exist in this trafilatura."""
    for name, index, translation in TRANSLATIONS:
        expressions = getattr(trafilatura.xpaths, name, None)
        if isinstance(expressions, list) and index < len(expressions):
            yield f"{name}[{index}]", expressions, index, translation


def install() -> list[str]:
    """Put the translations in trafilatura's lists where they hold the same XPath text;
    return the names of the expressions replaced (e.g. "BODY_XPATH[0]")."""
    replaced = []
    for name, expressions, index, translation in _slots():
        current = expressions[index]
        if not isinstance(current, FastXPath):
            if normalized(getattr(current, "path", "")) != normalized(translation.xpath):
                continue
            expressions[index] = FastXPath(translation, current)
        replaced.append(name)
    return replaced


def uninstall() -> None:
    """Give trafilatura its own XPath expressions back."""
    for _, expressions, index, _ in _slots():
        current = expressions[index]
        if isinstance(current, FastXPath):
            expressions[index] = current.original
