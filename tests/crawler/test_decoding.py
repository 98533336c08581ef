"""How a page's bytes become its text (catalog B07): as Scrapy decoded them, unless the
declared encoding plainly does not fit the page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy.http import HtmlResponse

from crawler.analysis import page_text
from crawler.decoding import decode_page, decode_stored, replaced_share
from crawler.items import AnalysisRequest

FETCHED = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

FRENCH = "Le président a déclaré que l'économie française était forte à l'été. " * 20


def page(encoding: str, *, meta: str | None = None, text: str = FRENCH) -> bytes:
    head = f'<meta charset="{meta}">' if meta else ""
    return f"<html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>".encode(
        encoding
    )


def crawled(body: bytes, header: str) -> HtmlResponse:
    return HtmlResponse("http://news.example/a", body=body, headers={"Content-Type": header})


def as_the_crawl_decodes(response: HtmlResponse):
    return decode_page(response.text, response.encoding, response.body)


def test_a_windows_1252_page_served_as_utf_8_is_read_by_its_own_declaration():
    response = crawled(page("cp1252", meta="windows-1252"), "text/html; charset=utf-8")
    assert response.text.count("\ufffd") > 100  # what Scrapy alone gives
    decoded = as_the_crawl_decodes(response)
    assert (decoded.encoding, decoded.suspect) == ("cp1252", False)
    assert FRENCH in decoded.text


def test_without_a_declaration_the_encoding_is_detected():
    decoded = as_the_crawl_decodes(crawled(page("cp1252"), "text/html; charset=utf-8"))
    assert decoded.encoding != "utf-8"
    assert "Le président a déclaré que l'économie" in decoded.text
    assert "\ufffd" not in decoded.text


def test_a_utf_8_page_with_a_broken_byte_keeps_its_encoding():
    body = page("utf-8", meta="windows-1252")
    broken = body[:100] + b"\xff" + body[100:]
    decoded = as_the_crawl_decodes(crawled(broken, "text/html; charset=utf-8"))
    assert (decoded.encoding, decoded.suspect) == ("utf-8", False)
    assert decoded.text.count("\ufffd") == 1


def test_a_page_damaged_beyond_a_percent_is_kept_and_flagged():
    body = page("utf-8")
    damaged = body.replace("é".encode(), b"\xe9", 10)  # 10 of its 140 accented letters
    decoded = as_the_crawl_decodes(crawled(damaged, "text/html; charset=utf-8"))
    assert (decoded.encoding, decoded.suspect) == ("utf-8", True)
    assert 0.01 < replaced_share(decoded.text) < 0.5


def test_a_stored_page_is_read_again_as_the_crawl_read_it():
    body = page("cp1252", meta="windows-1252")
    # Archived with the encoding recorded, or before encodings were recorded: the same text.
    assert decode_stored(body, "text/html; charset=utf-8", "cp1252").text == (
        decode_stored(body, "text/html; charset=utf-8").text
    )
    assert FRENCH in decode_stored(body, None).text
    assert decode_stored(page("utf-8"), None).encoding == "utf-8"


def test_plain_ascii_has_nothing_replaced():
    assert replaced_share("plain text") == 0.0


DECODINGS = {
    "declared in the header": (page("utf-8"), "text/html; charset=utf-8"),
    "declared in a meta tag": (page("iso-8859-15", meta="iso-8859-15"), "text/html"),
    "after a byte-order mark": (b"\xef\xbb\xbf" + page("utf-8"), "text/html; charset=latin-1"),
    "in UTF-16 with its mark": (page("utf-16"), "text/html"),
    "detected, undeclared": (page("cp1252"), "text/html"),
    "broken bytes, replaced": (page("utf-8")[:300] + b"\xff\xfe\x80" + page("utf-8"), "text/html"),
}


@pytest.mark.parametrize(("body", "header"), list(DECODINGS.values()), ids=list(DECODINGS))
def test_a_worker_decodes_the_body_to_the_text_scrapy_gave(body, header):
    """The spider sends a page's body once, with the encoding Scrapy read it with; the worker's
    text is Scrapy's, character for character."""
    response = crawled(body, header)
    request = AnalysisRequest(
        url=response.url, fetched_at=FETCHED, min_text_chars=1, body=response.body,
        encoding=response.encoding,
    )  # fmt: skip
    assert page_text(request) == response.text
    assert "Le pr" in page_text(request)


def test_a_page_decoded_otherwise_goes_as_its_text():
    response = crawled(page("cp1252", meta="windows-1252"), "text/html; charset=utf-8")
    decoded = as_the_crawl_decodes(response)
    request = AnalysisRequest(
        url=response.url, fetched_at=FETCHED, min_text_chars=1, body=response.body,
        encoding=response.encoding, text=decoded.text,
    )  # fmt: skip
    assert page_text(request) == decoded.text != response.text
