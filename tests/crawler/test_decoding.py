"""How a page's bytes become its text (catalog B07): as Scrapy decoded them, unless the
declared encoding plainly does not fit the page."""

from __future__ import annotations

from scrapy.http import HtmlResponse

from crawler.decoding import decode_page, decode_stored, replaced_share

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
