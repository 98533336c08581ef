"""TLS and credentials: what the crawler trusts and what it sends (S13, S14)."""

from __future__ import annotations

import json

import pytest

from tests.support.certificates import self_signed_certificate
from tests.support.commands import LOCAL_SITE_OPTIONS, newsarchive
from tests.support.hostile_server import Route, serve_hostile_site
from tests.support.site_server import ARTICLES

pytestmark = pytest.mark.end_to_end


def fetch_errors(database_url: str) -> dict[str, int]:
    (run,) = json.loads(newsarchive("runs", "--db", database_url, "--format", "json").stdout)
    return dict(run["errors_by_kind"])


def test_a_certificate_that_does_not_verify_is_a_failed_fetch_unless_accepted(tmp_path):
    """S14: certificates are verified; a self-signed one fails the fetch, recorded with its
    kind, and nothing is archived from it, unless DOWNLOAD_VERIFY_CERTIFICATES is off."""
    certificate = self_signed_certificate(tmp_path)
    with serve_hostile_site({}, certificate=certificate) as server:
        assert server.base_url.startswith("https://")
        start = f"{server.base_url}/"
        checked = f"sqlite:///{tmp_path / 'checked.db'}"
        newsarchive("crawl", start, "--db", checked, *LOCAL_SITE_OPTIONS, "-s", "RETRY_TIMES=0")
        assert server.log == []  # the handshake failed: no request was made
        assert newsarchive("export", "--db", checked).stdout == ""
        assert sum(fetch_errors(checked).values()) >= 1

        accepted = f"sqlite:///{tmp_path / 'accepted.db'}"
        newsarchive("crawl", start, "--db", accepted, *LOCAL_SITE_OPTIONS,
                    "-s", "DOWNLOAD_VERIFY_CERTIFICATES=False")  # fmt: skip
    assert len(newsarchive("export", "--db", accepted).stdout.splitlines()) == len(ARTICLES)


def test_cookies_and_credentials_never_follow_a_redirect_to_another_host(tmp_path):
    """S13: a site that sets a session cookie and redirects to another host (both crawled):
    the other host receives neither the cookie nor any credential header."""
    with serve_hostile_site({}, host="127.0.0.2") as canary:
        target = f"{canary.base_url}/news/{ARTICLES[0].slug}.html"
        routes = {
            "/go": Route(status=302, headers={"Location": target, "Set-Cookie": "session=s3cr3t"}),
            "/hostile/": Route(
                body=b'<html><body><h3><a href="/go">go</a></h3>'
                b'<h3><a href="/private-page">me</a></h3></body></html>',
                content_type="text/html",
                headers={"Set-Cookie": "session=s3cr3t; Path=/"},
            ),
        }
        with serve_hostile_site(routes) as site:
            database_url = f"sqlite:///{tmp_path / 'archive.db'}"
            starts = [f"{site.base_url}/hostile/", f"{canary.base_url}/"]
            options = [*LOCAL_SITE_OPTIONS, "-a", "follow_sitemaps=false"]
            newsarchive("crawl", *starts, "--db", database_url, *options)
            own = [headers for path, headers in site.headers_log if path == "/go"]
    assert own
    assert "session=s3cr3t" in own[0].get("Cookie", "")  # the site itself gets it back
    arrived = [path for path, _ in canary.headers_log]
    assert f"/news/{ARTICLES[0].slug}.html" in arrived  # the redirect was followed...
    for _, headers in canary.headers_log:  # ...and nothing secret went with it
        assert "s3cr3t" not in json.dumps(headers)
        assert not {"Cookie", "Authorization", "Proxy-Authorization"} & set(headers)
