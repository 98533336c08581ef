from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.normalization import (
    banner_fingerprint,
    canonical_url,
    choose_canonical_url,
    clean_inline,
    clean_text,
    fingerprint,
    followable_url,
    language_code,
    site_host,
    to_utc,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM/a/b?utm_source=x&utm_medium=feed", "https://example.com/a/b"),
        ("https://example.com/a?b=2&a=1#comments", "https://example.com/a?a=1&b=2"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a?fbclid=abc&id=7&gclid=z", "https://example.com/a?id=7"),
        ("https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
    ],
    ids=[
        "tracking",
        "sorted-query-no-fragment",
        "http-port",
        "https-port",
        "other-port",
        "root-path",
        "click-ids",
        "encoded",
        "unicode",
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_choose_canonical_url_honours_canonical_on_same_site():
    page = "https://www.example.com/print/story-1?utm_source=x"
    assert (
        choose_canonical_url(page, "https://example.com/story-1") == "https://example.com/story-1"
    )


def test_choose_canonical_url_ignores_canonical_on_other_site():
    page = "https://example.com/story-1"
    assert choose_canonical_url(page, "https://syndication.test/copy") == page


def test_choose_canonical_url_resolves_protocol_relative_canonical():
    assert (
        choose_canonical_url("https://example.com/a?x=1", "//example.com/a")
        == "https://example.com/a"
    )


def test_site_host_drops_www_and_port():
    assert site_host("https://WWW.Example.com:8080/x") == "example.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30/05/2014", datetime(2014, 5, 30, tzinfo=UTC)),
        ("05/06/2014", datetime(2014, 6, 5, tzinfo=UTC)),
        ("2014-05-30T09:40:00+02:00", datetime(2014, 5, 30, 7, 40, tzinfo=UTC)),
        ("2014-05-30T09:40:00Z", datetime(2014, 5, 30, 9, 40, tzinfo=UTC)),
        ("2014-05-30 09:40", datetime(2014, 5, 30, 9, 40, tzinfo=UTC)),
        ("Fri, 30 May 2014 09:40:00 +0200", datetime(2014, 5, 30, 7, 40, tzinfo=UTC)),
        ("30 May 2014", datetime(2014, 5, 30, tzinfo=UTC)),
        ("Tue, 19 Nov 2019 10:00:00 EST", datetime(2019, 11, 19, 15, 0, tzinfo=UTC)),
        ("19 Nov 2019 10:00 XYZT", datetime(2019, 11, 19, 10, 0, tzinfo=UTC)),
    ],
    ids=[
        "day-first",
        "ambiguous-day-first",
        "offset",
        "zulu",
        "naive",
        "rfc2822",
        "words",
        "zone-name",
        "unknown-zone-name",
    ],
)
def test_to_utc_reads_dates_as_utc(value, expected):
    assert to_utc(value) == expected


def test_to_utc_reads_month_first_when_asked():
    assert to_utc("05/06/2014", dayfirst=False) == datetime(2014, 5, 6, tzinfo=UTC)


@pytest.mark.parametrize("value", ["", "yesterday-ish", "99/99/9999", "0001-01-01"])
def test_to_utc_returns_none_for_non_dates(value):
    assert to_utc(value) is None


def test_clean_text_normalizes_unicode_and_paragraphs():
    raw = "Cafe\u0301 au\u00a0lait\u200b  ici.\r\n\n\n  Second   para.\n\x07Third."
    assert clean_text(raw) == "Café au lait ici.\n\nSecond para.\n\nThird."


def test_clean_text_is_nfc():
    assert clean_text("e\u0301") == "\u00e9"


def test_clean_inline_collapses_whitespace_and_empties_to_none():
    assert clean_inline("  A \n title\t") == "A title"
    assert clean_inline(" \n ") is None


def test_fingerprint_is_sha256_of_utf8():
    assert fingerprint("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_banner_fingerprint_ignores_case_and_spacing():
    assert banner_fingerprint("Storm  WARNING\nfor the coast") == banner_fingerprint(
        "storm warning for the coast"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("en-GB", "en"), ("pt_BR", "pt"), ("FR", "fr"), ("", None), ("english", None), (None, None)],
)
def test_language_code(value, expected):
    assert language_code(value) == expected


def test_control_characters_never_reach_the_archive_or_the_terminal():
    """S11: an ANSI escape or a newline in a title cannot colour or forge lines of the CLI's
    output: stored text has no control characters."""
    from crawler.normalization import clean_inline, clean_text

    assert (
        clean_inline("\x1b[31mRed\x1b[0m title\nforged: line\r") == "[31mRed[0m title forged: line"
    )
    assert "\x1b" not in clean_text("Body \x1b]0;title\x07 text")


BASE = "http://news.example/dir/page.html"


@pytest.mark.parametrize(
    ("link", "url"),
    [("/a b.html", "http://news.example/a%20b.html"),
     (" \n/c.html\t", "http://news.example/c.html"),
     ("//news.example/x", "http://news.example/x"),
     ("http://bücher.example/ä", "http://xn--bcher-kva.example/%C3%A4"),
     ("http://news.example:99999/", None), ("http://news.example:0/", None),
     ("http://user:pw@news.example/", None), ("http://[::1/", None),
     ("javascript:alert(1)", None), ("mailto:desk@news.example", None), ("ftp://x/", None)],
)  # fmt: skip
def test_followable_url(link, url):
    """B10: one rule for every link a page, feed or sitemap gives."""
    assert followable_url(link, BASE) == url
