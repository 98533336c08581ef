"""Repairs of an extracted body that only the page's structure allows. Pure functions over an
lxml tree.

- One page, one article: when the extracted text spans several `<article>` elements (a story
  followed by teasers of other stories, each an `<article>` of its own), only the one that
  holds the page's single `<h1>` is kept.
- Bodies split into several blocks (ad slots, embeds, "read more" boxes between chunks of
  text): the extractor keeps one block; its twins are found and merged in. A twin is an element
  with the same tag and class as the block that holds the extracted text, or inside a sibling
  that repeats the same tag and class as one of that block's ancestors
  (`div.article__chunks > div.grid > div.body` three times).
"""

from __future__ import annotations

from collections import Counter

from lxml import html

BLOCK_TAGS = ("p", "h2", "h3", "h4", "blockquote", "li")
MIN_MATCH_CHARS = 30  # a body line must be this long to locate its element
MIN_TWIN_CHARS = 100  # a twin must add at least this much text
MAX_TWIN_LINK_SHARE = 0.3
MAX_LEVELS = 4


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _signature(element: html.HtmlElement) -> tuple[str, str]:
    return element.tag, " ".join((element.get("class") or "").split())


def _blocks(container: html.HtmlElement) -> list[html.HtmlElement]:
    """Return the outermost paragraph-level elements of a container, in document order."""
    blocks = []
    for element in container.iter(*BLOCK_TAGS):
        parent = element.getparent()
        nested = False
        while parent is not None and parent is not container:
            if parent.tag in BLOCK_TAGS:
                nested = True
                break
            parent = parent.getparent()
        if not nested:
            blocks.append(element)
    return blocks


def find_twins(container: html.HtmlElement) -> list[html.HtmlElement]:
    """Return the elements that continue `container` elsewhere in the page, in document order."""
    if not _signature(container)[1]:
        return []  # without a class, same-tag siblings are just other boxes
    for level, ancestor in enumerate([container, *container.iterancestors()][:MAX_LEVELS]):
        parent = ancestor.getparent()
        if parent is None or not _signature(ancestor)[1]:
            continue
        siblings = [
            s for s in parent if s is not ancestor and _signature(s) == _signature(ancestor)
        ]
        if not siblings:
            continue
        if level == 0:
            return siblings
        twins = [
            element
            for sibling in siblings
            for element in sibling.iter(container.tag)
            if _signature(element) == _signature(container)
        ]
        if twins:
            return twins
    return []


def repair_body(tree: html.HtmlElement, body: str) -> str:
    """Return `body` (lines of extracted text) kept to the page's own article and with the
    text of its split-off blocks merged in; unchanged when neither applies."""
    lines = body.split("\n")
    line_of = {key: i for i, line in enumerate(lines) if len(key := _key(line)) >= MIN_MATCH_CHARS}
    if len(line_of) < 2:
        return body
    matched = [
        (element, line_of[key])
        for element in tree.iter(*BLOCK_TAGS)
        # A key is no longer than its text: a menu item's or a caption's never is one of them.
        if len(text := element.text_content()) >= MIN_MATCH_CHARS and (key := _key(text)) in line_of
    ]
    lines, matched = keep_one_article(tree, lines, matched)
    return "\n".join(merge_split_body(tree, lines, matched))


def keep_one_article(
    tree: html.HtmlElement, lines: list[str], matched: list[tuple[html.HtmlElement, int]]
) -> tuple[list[str], list[tuple[html.HtmlElement, int]]]:
    """Drop the lines that come from another `<article>` than the one holding the page's h1."""
    owner: dict[int, html.HtmlElement | None] = {}
    for element, line in matched:
        owner.setdefault(line, next(element.iterancestors("article"), None))
    articles = {article for article in owner.values() if article is not None}
    if len(articles) < 2:
        return lines, matched
    headlines = tree.xpath("//h1")
    main = next(headlines[0].iterancestors("article"), None) if len(headlines) == 1 else None
    if main is None or main not in articles:
        return lines, matched
    dropped = {
        line for line, article in owner.items() if article is not None and article is not main
    }
    kept = [line for index, line in enumerate(lines) if index not in dropped]
    renumber = {
        old: new for new, old in enumerate(i for i in range(len(lines)) if i not in dropped)
    }
    return kept, [(element, renumber[line]) for element, line in matched if line in renumber]


def merge_split_body(
    tree: html.HtmlElement, lines: list[str], matched: list[tuple[html.HtmlElement, int]]
) -> list[str]:
    """Return `lines` with the text of their container's twins merged in at their place in the
    page; `lines` unchanged if the page has no such twins."""
    if len(matched) < 2:
        return lines
    container = Counter(element.getparent() for element, _ in matched).most_common(1)[0][0]
    twins = find_twins(container)
    if not twins:
        return lines
    position = {element: index for index, element in enumerate(tree.iter())}
    known = {_key(line) for line in lines}
    insertions: dict[int, list[str]] = {}
    for twin in twins:
        new_lines = []
        for block in _blocks(twin):
            text = " ".join(block.text_content().split())
            link_chars = sum(len(" ".join(a.text_content().split())) for a in block.iter("a"))
            if text and _key(text) not in known and link_chars <= MAX_TWIN_LINK_SHARE * len(text):
                new_lines.append(text)
                known.add(_key(text))
        if sum(len(line) for line in new_lines) < MIN_TWIN_CHARS:
            continue
        before = [line for element, line in matched if position[element] < position[twin]]
        insertions.setdefault(max(before) + 1 if before else 0, []).extend(new_lines)
    if not insertions:
        return lines
    merged: list[str] = []
    for index, line in enumerate(lines):
        merged.extend(insertions.get(index, []))
        merged.append(line)
    merged.extend(insertions.get(len(lines), []))
    return merged
