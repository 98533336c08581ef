"""Pure normalization functions, and `normalize_article()` which applies them to an extraction.

No I/O and no clock here: the fetch time comes in with the page.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from dateutil import parser as dateutil_parser
from w3lib.html import strip_html5_whitespace
from w3lib.url import canonicalize_url, safe_url_string

from crawler.items import DateCandidate, ExtractedArticle
from storage.records import ArticleRecord, BannerRecord

# Query parameters that identify a campaign or a click, never a page.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "twclid",
        "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "wickedid", "ocid", "cmpid", "s_cid", "ncid", "sr_share",
        "at_medium", "at_campaign", "spm", "share", "ref_src", "ref_url",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "ga_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Control and format characters that have no place in archived text (keeps \n and \t).
UNWANTED_CHARACTERS = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u2060\ufeff]"
)
HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
# Zone abbreviations news sites print, as UTC offsets in seconds (dateutil knows only UTC/GMT).
ZONE_ABBREVIATIONS = {
    "EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
    "MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
    "BST": 3600, "CET": 3600, "CEST": 2 * 3600, "EET": 2 * 3600, "EEST": 3 * 3600,
    "MSK": 3 * 3600, "IST": 19800, "JST": 9 * 3600, "KST": 9 * 3600,
    "AEST": 10 * 3600, "AEDT": 11 * 3600,
}  # fmt: skip
# A date as datelines write it: 30/05/2014, 2014-05-30, 30 May 2014, May 30, 2014, 30. Mai 2014.
DATE_TOKEN = re.compile(
    r"\b(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|"
    r"\d{1,2}\.? [^\W\d]+ \d{4}|[^\W\d]+ \d{1,2},? \d{4})\b"
)
NUMERIC_DATE = re.compile(r"(?<![\d./-])(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(?![\d./-])")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
# Session IDs in URLs, as Nutch's and Heritrix's default URL normalizers strip them.
SESSION_PARAMETERS = frozenset({"jsessionid", "phpsessid", "cfid", "cftoken", "zenid", "oscsid"})
TOKEN_SESSION_PARAMETERS = frozenset({"sid", "sessionid", "session_id", "session", "sess"})
SESSION_TOKEN = re.compile(r"[0-9A-Za-z_-]{16,}")
SESSION_PATH_PARAMETER = re.compile(r";(?:jsessionid|phpsessid|sid)=[^/;?]*", re.IGNORECASE)


def is_tracking_parameter(name: str) -> bool:
    """Tell whether a query parameter only tracks a campaign or a click."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def is_session_parameter(name: str, value: str) -> bool:
    """Tell whether a query parameter carries a session ID (a spider trap: every link of a page
    is new to the crawler). Named ones always; `sid` and the like when the value is a token."""
    lowered = name.lower()
    if lowered in SESSION_PARAMETERS or lowered.startswith("aspsessionid"):
        return True
    return lowered in TOKEN_SESSION_PARAMETERS and SESSION_TOKEN.fullmatch(value) is not None


def followable_url(link: str, base: str | None = None) -> str | None:
    """Return a link found in a page, feed or sitemap as an absolute, safely quoted http(s) URL
    (resolved against `base`), or None when it cannot be followed (catalog B10): another
    scheme, no host, a port out of range, user name or password in it, not a URL at all."""
    try:
        link = strip_html5_whitespace(link)
        url = safe_url_string(urljoin(base, link) if base else link)
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.port == 0:
            return None
        if parts.username is not None or parts.password is not None:
            return None  # never send credentials found in a link (catalog S13)
    except ValueError:  # a port out of range, an unclosed IPv6 bracket, ...
        return None
    return url


def strip_tracking(url: str) -> str:
    """Return `url` without tracking and session query parameters (and `;jsessionid=` path
    parameters), and without its fragment."""
    parts = urlsplit(url)
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_parameter(name) and not is_session_parameter(name, value)
    ]
    path = SESSION_PATH_PARAMETER.sub("", parts.path)
    return urlunsplit(parts._replace(path=path, query=urlencode(query, doseq=True), fragment=""))


def canonical_url(url: str) -> str:
    """Return the canonical form of `url`: the key under which an article is archived.

    w3lib canonicalization (sorted query, percent-encoding, no fragment), tracking parameters
    removed, host in lower case, default port dropped.
    """
    parts = urlsplit(canonicalize_url(strip_tracking(url.strip())))
    host = (parts.hostname or "").rstrip(".")
    port = parts.port
    netloc = host if port in (None, DEFAULT_PORTS.get(parts.scheme)) else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def site_host(url: str) -> str:
    """Return the site a URL belongs to: its host name in lower case, without `www.`."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return host.removeprefix("www.")


def choose_canonical_url(page_url: str, declared: str | None) -> str:
    """Return the canonical URL of a page, honouring its rel=canonical within the same site.

    A declared canonical on another site (syndicated copies, misconfigured templates) is
    ignored: the archive keys articles by where it found them.
    """
    if declared:
        declared = declared.strip()
        if declared.startswith("//"):
            declared = f"{urlsplit(page_url).scheme}:{declared}"
        if declared.startswith(("http://", "https://")) and site_host(declared) == site_host(
            page_url
        ):
            return canonical_url(declared)
    return canonical_url(page_url)


def to_utc(value: str | datetime | date | None, *, dayfirst: bool = True) -> datetime | None:
    """Return `value` as an aware UTC datetime, or None if it is not a date.

    Strings are read as ISO 8601 first, then with dateutil. A value without a time zone is read
    as UTC, and a date without a time as midnight UTC: pages rarely say which zone they mean,
    and a fixed rule keeps the archive reproducible. Ambiguous numeric dates such as 05/06/2014
    are read day first unless `dayfirst=False` (30/05/2014 is unambiguous either way).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        text = value.strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                with warnings.catch_warnings():
                    # An unknown zone name is read as no zone (so as UTC), as documented above.
                    warnings.simplefilter("ignore", dateutil_parser.UnknownTimezoneWarning)
                    parsed = dateutil_parser.parse(
                        text, dayfirst=dayfirst, fuzzy=False, tzinfos=ZONE_ABBREVIATIONS
                    )
            except (ValueError, OverflowError):
                return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1900 <= parsed.year <= 2200:
        return None
    return parsed.astimezone(UTC)


def clean_inline(text: str | None) -> str | None:
    """Return a one-line text (title, author, tag) in NFC with single spaces, or None if empty."""
    if text is None:
        return None
    cleaned = " ".join(UNWANTED_CHARACTERS.sub("", unicodedata.normalize("NFC", text)).split())
    return cleaned or None


def clean_text(text: str) -> str:
    """Return body text in NFC with clean whitespace, paragraphs separated by one blank line."""
    text = UNWANTED_CHARACTERS.sub("", unicodedata.normalize("NFC", text).replace("\r", "\n"))
    paragraphs = (HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def fingerprint(text: str) -> str:
    """Return the SHA-256 hex digest of a cleaned text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def banner_fingerprint(text: str) -> str:
    """Return the key of a banner text: its hash after case folding and whitespace clean-up."""
    return fingerprint(" ".join(unicodedata.normalize("NFC", text).casefold().split()))


def language_code(value: str | None) -> str | None:
    """Return the primary ISO 639 code of a language tag (`en-GB` → `en`), or None."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if LANGUAGE_CODE.match(primary) else None


def unique_texts(values: tuple[str, ...]) -> tuple[str, ...]:
    """Return cleaned, non-empty values without duplicates (case-insensitive), in order."""
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        cleaned = clean_inline(value)
        if cleaned and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            result.append(cleaned)
    return tuple(result)


def numeric_date_order(value: str) -> str | None:
    """Tell how a numeric date orders day and month: "dmy" (30/05/2014), "mdy" (05/30/2014),
    "ambiguous" (05/06/2014), or None when the value holds no such date."""
    match = NUMERIC_DATE.search(value)
    if match is None:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    if first > 12 and second <= 12:
        return "dmy"
    if second > 12 and first <= 12:
        return "mdy"
    return "ambiguous" if first <= 12 and second <= 12 else None


# Dates outside this window are not believed (catalog B09): before news sites were on the web
# (htmldate's own lower bound; 1970-01-01 is a template's empty value), or more than a day
# after the page was first fetched (a placeholder, a time zone gone wrong, 2099). Their text
# stays among the article's candidates.
EARLIEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)


def choose_date(
    candidates: tuple[DateCandidate, ...],
    *,
    dayfirst: bool = True,
    seen_at: datetime | None = None,
) -> tuple[datetime | None, str | None]:
    """Return the first candidate (they come best first) that reads as a plausible date for a
    page first fetched at `seen_at`, and its source."""
    latest = seen_at + FUTURE_TOLERANCE if seen_at is not None else None
    for candidate in candidates:
        parsed = to_utc(candidate.value, dayfirst=dayfirst)
        if parsed is None or parsed < EARLIEST_DATE or (latest is not None and parsed > latest):
            continue
        return parsed, candidate.source
    return None, None


def normalize_article(extracted: ExtractedArticle, *, dayfirst: bool = True) -> ArticleRecord:
    """Return the normalized, storable form of an extracted article.

    `dayfirst` reads ambiguous numeric dates; the archive re-reads them with what it learned of
    the site's order (crawler.learning).
    """
    body = clean_text(extracted.body)
    published_at, date_source = choose_date(
        extracted.published_candidates, dayfirst=dayfirst, seen_at=extracted.fetched_at
    )
    modified_at, _ = choose_date(extracted.modified_candidates, seen_at=extracted.fetched_at)
    banners = tuple(
        BannerRecord(kind=banner.kind, text=text, text_hash=banner_fingerprint(text))
        for banner in extracted.banners
        if (text := clean_text(banner.text))
    )
    return ArticleRecord(
        canonical_url=choose_canonical_url(extracted.url, extracted.declared_canonical_url),
        url=extracted.url,
        host=site_host(extracted.url),
        title=clean_inline(extracted.title),
        authors=unique_texts(extracted.authors),
        published_at=published_at,
        modified_at=modified_at,
        date_source=date_source,
        date_candidates=tuple(
            (candidate.source, candidate.value) for candidate in extracted.published_candidates
        ),
        language=language_code(extracted.language),
        section=clean_inline(extracted.section),
        tags=unique_texts(extracted.tags),
        description=clean_inline(extracted.description),
        site_name=clean_inline(extracted.site_name),
        body=body,
        content_hash=fingerprint(body),
        extractor=extracted.extractor,
        extraction_settings=extracted.extraction_settings,
        fetched_at=extracted.fetched_at,
        banners=banners,
    )
