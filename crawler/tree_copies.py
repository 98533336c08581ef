"""trafilatura's copies of a page's tree that nothing reads, skipped.

trafilatura prepares a page for its extractors in `trafilatura.core._prepare_tree`: it copies
the raw tree and cleans the copy, then copies the cleaned tree as a backup, before converting
its tags. Each copy is a deep copy of the whole page in libxml2 (0.2 ms a generated page, 0.55
ms a real one: a tenth of the crawl's trafilatura pass on the real pages of ../shared/benchmarks).
In the passes the crawl runs (crawler.extraction: `fast`, comments off), two of those copies
are never read:

- the backup is read only by the comparison with the external extractors, which fast mode
  skips, and by the forum-comments path, which needs comments on;
- the raw tree is read after its preparation only by the baseline rescue and the recall
  escalation, neither of which runs in precision mode; and that raw tree is trafilatura's own
  (`bare_extraction` copies a tree it is given), so in precision mode it is cleaned in place.

`install()` replaces `_prepare_tree` only where trafilatura's functions that make and read
those trees are exactly the ones this reasoning was checked against (their source text's
digests below); any other trafilatura keeps its own, so an upgrade that changes them is never
run with an outdated shortcut. Any other pass (comments on, not fast) goes to trafilatura's own
`_prepare_tree`. `tests/crawler/test_tree_copies.py` compares extractions with and without it.
"""

from __future__ import annotations

import hashlib
import inspect
from copy import copy
from typing import Any

import trafilatura.core
from trafilatura.htmlprocessing import convert_tags, tree_cleaning

# trafilatura 2.3.1: the functions that make the prepared trees, pass them on and read them.
CHECKED_SOURCES = {
    "_prepare_tree": "9595f0642825c2c7",
    "_extract_and_compare": "f7d056c2118222e8",
    "trafilatura_sequence": "f03dc4d2946dacbd",
    "bare_extraction": "2e57adb3062086f9",
}


def digest(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def matches_checked_sources() -> bool:
    """Tell whether this trafilatura's functions are the ones the shortcut was checked against."""
    try:
        return all(
            digest(_own(getattr(trafilatura.core, name))) == expected
            for name, expected in CHECKED_SOURCES.items()
        )
    except (AttributeError, OSError, TypeError):  # a function gone, or no source to read
        return False


def _own(function: Any) -> Any:
    return function.original if isinstance(function, LeanPrepareTree) else function


class LeanPrepareTree:
    """`_prepare_tree` without the copies the crawl's passes never read."""

    def __init__(self, original: Any) -> None:
        self.original = original

    def __call__(self, tree: Any, options: Any, url: str | None) -> tuple[Any, Any]:
        if not options.fast or options.comments:
            return self.original(tree, options, url)  # type: ignore[no-any-return]
        raw = tree if options.focus == "precision" else copy(tree)
        return convert_tags(tree_cleaning(raw, options), options, url), None


def install() -> bool:
    """Skip the unread copies if this trafilatura is the one checked; tell whether it is."""
    current = trafilatura.core._prepare_tree
    if isinstance(current, LeanPrepareTree):
        return True
    if not matches_checked_sources():
        return False
    trafilatura.core._prepare_tree = LeanPrepareTree(current)
    return True


def uninstall() -> None:
    """Give trafilatura its own `_prepare_tree` back."""
    current = trafilatura.core._prepare_tree
    if isinstance(current, LeanPrepareTree):
        trafilatura.core._prepare_tree = current.original
