"""A fetched page's text: its bytes decoded as the server said, unless that is plainly wrong.

Scrapy decodes a response by its byte-order mark, then the charset of its Content-Type header,
then the page's own `<meta>` declaration, then detection (charset_normalizer). A server that
declares UTF-8 for a page written in Windows-1252 (an old CMS behind a newer web server) turns
every accented letter into U+FFFD, and the archive would keep the damage (catalog B07). When a
decoding replaced at least half of a page's non-ASCII characters, the page's own declaration
and then detection are tried, strictly: the first that decodes the whole body wins. A page
still over 1% replaced is kept as it is and flagged as suspect.

One function for the crawl and for `newsarchive reextract`, so both read a stored page alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, html_to_unicode, resolve_encoding

REPLACEMENT = "\ufffd"
# Share of a page's non-ASCII characters replaced past which its declared encoding is doubted:
# a Windows-1252 page read as UTF-8 loses nearly all of them, a UTF-8 page with a few broken
# bytes few of them.
REDECODE_SHARE = 0.5
SUSPECT_SHARE = 0.01


@dataclass(frozen=True)
class DecodedPage:
    text: str
    encoding: str
    suspect: bool = False  # over SUSPECT_SHARE of its non-ASCII characters are U+FFFD


def decode_page(text: str, encoding: str, body: bytes) -> DecodedPage:
    """Return `text` (the body as decoded with `encoding`), or the body decoded better."""
    share = replaced_share(text)
    if share < REDECODE_SHARE:
        return DecodedPage(text, encoding, share > SUSPECT_SHARE)
    for candidate in _other_encodings(body, encoding):
        try:
            better = body.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
        return DecodedPage(better, candidate, replaced_share(better) > SUSPECT_SHARE)
    return DecodedPage(text, encoding, suspect=True)


def decode_stored(
    body: bytes, content_type: str | None, encoding: str | None = None
) -> DecodedPage:
    """Decode a stored response as the crawl decoded it: with the `encoding` the crawl recorded,
    or, for a response archived without one, in Scrapy's order (BOM, Content-Type, `<meta>`,
    detection), then decode_page."""
    if encoding:
        return DecodedPage(html_to_unicode(f"charset={encoding}", body)[1], encoding)
    used, text = html_to_unicode(content_type, body, auto_detect_fun=_detect)
    return decode_page(text, used, body)


def replaced_share(text: str) -> float:
    """The share of the non-ASCII characters of `text` that are U+FFFD."""
    replaced = text.count(REPLACEMENT)
    if not replaced:
        return 0.0
    return replaced / (len(text) - len(text.encode("ascii", "ignore")))


def _other_encodings(body: bytes, used: str) -> list[str]:
    candidates = [html_body_declared_encoding(body), _detect(body)]
    tried = {resolve_encoding(used) or used}
    found = []
    for candidate in candidates:
        resolved = resolve_encoding(candidate) if candidate else None
        if resolved and resolved not in tried:
            tried.add(resolved)
            found.append(resolved)
    return found


def _detect(body: bytes) -> str | None:
    """Scrapy's detection (TextResponse._auto_detect_fun): ASCII, UTF-8, then charset_normalizer."""
    for encoding in ("ascii", "utf-8"):
        try:
            body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return resolve_encoding(encoding)
    match = from_bytes(body).best()
    return resolve_encoding(match.encoding) if match else None
