"""Scrapy responses built from the sample site's pages, for calling spider callbacks directly."""

from __future__ import annotations

from typing import Any

from scrapy.http import HtmlResponse, Request, Response, TextResponse

from crawler.demo.site import DemoSite

BASE_URL = "http://news.example"


def site_response(
    path: str, *, meta: dict[str, Any] | None = None, site: DemoSite | None = None
) -> Response:
    """Return the response the sample site gives for `path`, tied to its request."""
    site = site or DemoSite(BASE_URL)
    rendered = site.render(path)
    url = f"{site.base_url}{path}"
    request = Request(url, meta=meta or {})
    headers = {"Content-Type": rendered.content_type}
    if "html" in rendered.content_type:
        return HtmlResponse(
            url, status=rendered.status, body=rendered.body, headers=headers, request=request
        )
    if rendered.content_type.startswith(("text/", "application/xml", "application/rss")):
        return TextResponse(
            url,
            status=rendered.status,
            body=rendered.body,
            headers=headers,
            request=request,
            encoding="utf-8",
        )
    return Response(
        url, status=rendered.status, body=rendered.body, headers=headers, request=request
    )
