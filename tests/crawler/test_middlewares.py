"""URL safety: only http(s), and no private, loopback or link-local addresses by default."""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request

from crawler.middlewares import PrivateAddressMiddleware, RefusedAddress, is_public_address


def check(url: str, *, allow_private: bool = False) -> None:
    middleware = PrivateAddressMiddleware(allow_private=allow_private)
    asyncio.run(middleware.process_request(Request(url)))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/", "http://localhost/admin", "http://10.1.2.3/", "http://192.168.0.1/",
        "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
        "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/",
    ],
)  # fmt: skip
def test_private_loopback_and_link_local_addresses_are_refused(url):
    with pytest.raises(RefusedAddress, match="non-public address"):
        check(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://news.example/", "data:text/html,x"])
def test_other_schemes_are_refused_even_when_private_addresses_are_allowed(url):
    with pytest.raises(RefusedAddress, match="only http and https"):
        check(url, allow_private=True)


def test_private_addresses_are_allowed_when_asked():
    check("http://127.0.0.1:8000/", allow_private=True)


def test_a_public_address_passes_without_a_lookup():
    check("http://93.184.216.34/")  # an IP literal: nothing leaves this machine


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("127.0.0.1", False), ("::ffff:10.0.0.1", False), ("2001:4860::8888", True),
     ("224.0.0.1", False)],
)  # fmt: skip
def test_is_public_address(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(b"120", 120.0), (b"Wed, 25 Nov 2026 12:01:00 GMT", 60.0),
     (b"Wed, 25 Nov 2026 11:00:00 GMT", 0.0), (b"soon", None), (None, None)],
)  # fmt: skip
def test_retry_after_is_read_as_seconds_or_an_http_date(value, seconds):
    from datetime import UTC, datetime

    from crawler.middlewares import retry_after_seconds

    assert retry_after_seconds(value, now=datetime(2026, 11, 25, 12, 0, tzinfo=UTC)) == seconds
