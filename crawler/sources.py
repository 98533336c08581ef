"""The sources file: what to crawl, how often, how politely. Load, validate, say what is due.

A TOML file (docs/sources.md, and `sources.example.toml`):

    [defaults]
    schedule = "every 6h"          # or a cron expression: "0 */6 * * *"
    revisit = "7d"                 # an archived page is fetched again after this long

    [sources.embassypages]
    start_urls = ["https://www.embassypages.com/news"]
    schedule = "0 */6 * * *"

A bad file gives one `SourcesFileError` naming the file, the line and the problem. Pure: no
Scrapy, no clock (the time comes in as an argument).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from croniter import croniter
from lxml.cssselect import CSSSelector, SelectorError

from crawler.normalization import site_host

DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SOURCE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Politeness settings a source may override, and the Scrapy setting each one sets.
POLITENESS_SETTINGS = {
    "download_delay": ("DOWNLOAD_DELAY", float),
    "concurrent_requests_per_domain": ("CONCURRENT_REQUESTS_PER_DOMAIN", int),
    "autothrottle": ("AUTOTHROTTLE_ENABLED", bool),
    "autothrottle_max_delay": ("AUTOTHROTTLE_MAX_DELAY", float),
    "robots_txt": ("ROBOTSTXT_OBEY", bool),
    "user_agent": ("USER_AGENT", str),
    "depth_limit": ("DEPTH_LIMIT", int),
    "page_limit": ("CLOSESPIDER_PAGECOUNT", int),
    "allow_private_addresses": ("ARCHIVE_ALLOW_PRIVATE_ADDRESSES", bool),
}
SOURCE_KEYS = {
    "start_urls", "feeds", "sitemaps", "allowed_domains", "schedule", "revisit",
    "min_interval", "max_interval", "politeness", "extraction", "enabled",
}  # fmt: skip
DEFAULT_KEYS = {"schedule", "revisit", "min_interval", "max_interval", "politeness"}
EXTRACTION_KEYS = {"banner_selectors", "date_order"}


class SourcesFileError(ValueError):
    """The sources file cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """When a source runs: a cron expression, or every fixed interval."""

    text: str
    cron: str | None = None
    interval: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime:
        """Return the first time after `moment` this schedule names."""
        if self.cron is not None:
            return croniter(self.cron, moment).get_next(datetime)  # type: ignore[no-any-return]
        assert self.interval is not None  # noqa: S101 - one of the two is always set
        return moment + self.interval


@dataclass(frozen=True, kw_only=True)
class Source:
    """One site or group of pages to crawl on a schedule."""

    name: str
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    schedule: Schedule
    revisit: timedelta
    min_interval: timedelta
    max_interval: timedelta
    settings: dict[str, Any] = field(default_factory=dict)  # Scrapy settings it overrides
    banner_selectors: tuple[str, ...] = ()
    date_order: str | None = None  # "dmy" or "mdy" when the site's order is known
    enabled: bool = True
    line: int = 0  # where the source starts in its file


def parse_duration(value: object) -> timedelta:
    """Read "30m", "6h", "7d", "2w" (or a number of seconds)."""
    if isinstance(value, int) and value > 0:
        return timedelta(seconds=value)
    match = DURATION.match(str(value))
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {value!r} (use a number and s, m, h, d or w: '6h')")
    return timedelta(seconds=int(match.group(1)) * DURATION_UNITS[match.group(2)])


def parse_schedule(value: object) -> Schedule:
    """Read "every 6h" or a five-field cron expression ("0 */6 * * *")."""
    text = str(value).strip()
    if text.lower().startswith("every "):
        return Schedule(text=text, interval=parse_duration(text[6:]))
    if len(text.split()) == 5 and croniter.is_valid(text):
        return Schedule(text=text, cron=text)
    raise ValueError(f"not a schedule: {value!r} (use 'every 6h' or a cron expression)")


def load_sources(path: Path) -> list[Source]:
    """Load and validate a sources file; raise SourcesFileError with its line on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesFileError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesFileError(f"{path}, {_toml_error(exc, text)}") from exc
    return parse_sources(data, text, path)


TOML_POSITION = re.compile(
    r"^(?P<message>.*?) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$"
)


def _toml_error(error: tomllib.TOMLDecodeError, text: str) -> str:
    """Return a TOML syntax error as "line N, column C: problem"."""
    match = TOML_POSITION.match(str(error))
    if match is None:
        return f"syntax error: {error}"
    if match.group("line"):
        return (
            f"line {match.group('line')}, column {match.group('column')}: {match.group('message')}"
        )
    return f"line {len(text.splitlines())} (end of file): {match.group('message')}"


def parse_sources(data: dict[str, Any], text: str, path: Path) -> list[Source]:
    """Validate the parsed TOML of a sources file."""
    unknown = set(data) - {"defaults", "sources"}
    if unknown:
        key = sorted(unknown)[0]
        raise SourcesFileError(
            f"{path}, line {_line_of(text, key)}: unknown table or key {key!r} "
            "(a sources file has [defaults] and [sources.NAME])"
        )
    defaults = data.get("defaults", {})
    _check_keys(defaults, DEFAULT_KEYS, path, text, "defaults")
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not sources:
        raise SourcesFileError(f"{path}: no sources: add a [sources.NAME] table with start_urls")
    return [_parse_source(name, entry, defaults, text, path) for name, entry in sources.items()]


def _parse_source(name: str, entry: Any, defaults: dict[str, Any], text: str, path: Path) -> Source:
    line = _line_of(text, f"sources.{name}")

    def fail(problem: str, key: str | None = None) -> SourcesFileError:
        where = _line_of(text, key, after=line) if key else line
        return SourcesFileError(f"{path}, line {where}: source {name!r}: {problem}")

    if not SOURCE_NAME.match(name):
        raise fail("a name has letters, digits, '_', '-' and '.' only")
    if not isinstance(entry, dict):
        raise fail("must be a table: [sources.NAME]")
    unknown = set(entry) - SOURCE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(f"unknown key {key!r} (known: {', '.join(sorted(SOURCE_KEYS))})", key)
    urls: list[str] = []
    for key in ("start_urls", "feeds", "sitemaps"):
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
            raise fail(f"{key} must be a list of URLs", key)
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise fail(f"{key}: not an http(s) URL: {url!r}", key)
        urls += value
    if not urls:
        raise fail("give at least one URL in start_urls, feeds or sitemaps")
    merged = {**defaults, **{k: v for k, v in entry.items() if k != "politeness"}}
    try:
        schedule = parse_schedule(merged.get("schedule", "every 6h"))
    except ValueError as exc:
        raise fail(str(exc), "schedule") from None
    try:
        revisit = parse_duration(merged.get("revisit", "7d"))
        min_interval = parse_duration(merged.get("min_interval", "10m"))
        max_interval = parse_duration(merged.get("max_interval", "1d"))
    except ValueError as exc:
        raise fail(str(exc)) from None
    if min_interval > max_interval:
        raise fail("min_interval is longer than max_interval", "min_interval")
    settings = _politeness({**defaults.get("politeness", {}), **entry.get("politeness", {})}, fail)
    extraction = entry.get("extraction", {})
    if set(extraction) - EXTRACTION_KEYS:
        key = sorted(set(extraction) - EXTRACTION_KEYS)[0]
        raise fail(f"unknown extraction key {key!r} (known: banner_selectors, date_order)", key)
    selectors = extraction.get("banner_selectors", [])
    if not isinstance(selectors, list) or not all(isinstance(s, str) for s in selectors):
        raise fail("banner_selectors must be a list of CSS selectors", "banner_selectors")
    for selector in selectors:
        try:
            CSSSelector(selector, translator="html")
        except SelectorError as exc:
            raise fail(f"banner_selectors: {selector!r} is not a CSS selector ({exc})",
                       "banner_selectors") from None  # fmt: skip
    date_order = extraction.get("date_order")
    if date_order not in (None, "dmy", "mdy"):
        raise fail(f"date_order must be 'dmy' or 'mdy', not {date_order!r}", "date_order")
    domains = entry.get("allowed_domains") or sorted({site_host(u) for u in urls})
    return Source(
        name=name,
        start_urls=tuple(urls),
        allowed_domains=tuple(d.lower().removeprefix("www.") for d in domains),
        schedule=schedule,
        revisit=revisit,
        min_interval=min_interval,
        max_interval=max_interval,
        settings=settings,
        banner_selectors=tuple(selectors),
        date_order=date_order,
        enabled=bool(entry.get("enabled", True)),
        line=line,
    )


def _politeness(values: dict[str, Any], fail: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in values.items():
        if key not in POLITENESS_SETTINGS:
            raise fail(
                f"unknown politeness key {key!r} (known: {', '.join(POLITENESS_SETTINGS)})", key
            )
        name, kind = POLITENESS_SETTINGS[key]
        if kind is bool and not isinstance(value, bool):
            raise fail(f"{key} must be true or false", key)
        if kind in (int, float) and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise fail(f"{key} must be a number of 0 or more", key)
        settings[name] = kind(value)
    return settings


def _check_keys(table: Any, allowed: set[str], path: Path, text: str, name: str) -> None:
    if not isinstance(table, dict):
        raise SourcesFileError(f"{path}, line {_line_of(text, name)}: [{name}] must be a table")
    unknown = set(table) - allowed
    if unknown:
        key = sorted(unknown)[0]
        raise SourcesFileError(
            f"{path}, line {_line_of(text, key)}: unknown key {key!r} in [{name}] "
            f"(known: {', '.join(sorted(allowed))})"
        )


def _line_of(text: str, key: str | None, *, after: int = 0) -> int:
    """Return the line number of a table header or key in the file (1-based; 0 if not found)."""
    if key is None:
        return after
    header = re.compile(rf"^\s*\[\[?{re.escape(key)}(\]|\.)")
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if number > after and (header.match(line) or assignment.match(line)):
            return number
    return after


def next_run_at(
    source: Source, last_started_at: datetime | None, idle_runs: int, now: datetime
) -> datetime:
    """Return when a source is next due.

    Never run: now. A cron schedule: its next time after the last start. An interval: the last
    start plus the interval, doubled for each run in a row that found nothing new (up to
    `max_interval`, never under `min_interval`): sources that rarely change are polled less.
    """
    if last_started_at is None:
        return now
    if source.schedule.cron is not None:
        return source.schedule.next_after(last_started_at)
    assert source.schedule.interval is not None  # noqa: S101 - one of the two is always set
    interval = source.schedule.interval * (1 << min(idle_runs, 16))
    interval = max(
        source.min_interval, min(interval, max(source.max_interval, source.schedule.interval))
    )
    return last_started_at + interval


def is_due(source: Source, last_started_at: datetime | None, idle_runs: int, now: datetime) -> bool:
    """Tell whether a source should run at `now`."""
    return source.enabled and next_run_at(source, last_started_at, idle_runs, now) <= now
