"""The `newsarchive` command: a thin layer over the crawler and storage functions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.items import ARTICLE
from crawler.normalization import canonical_url, to_utc
from crawler.scheduling import SourceStatus, claim_due_sources, lease_owner, source_status
from crawler.sources import Source, SourcesFileError, load_sources
from crawler.versions import article_history
from crawler.workers import start_fork_server
from storage.database import (
    DEFAULT_DATABASE_URL,
    DatabaseURLError,
    make_engine,
    make_session_factory,
    normalize_database_url,
    session_scope,
)
from storage.exports import article_export, record_export, write_csv, write_jsonl
from storage.migrate import ensure_current
from storage.models import Article, CrawlRun
from storage.queries import (
    ArticleFilter,
    archive_stats,
    article_banners,
    article_by_fetched_url,
    article_by_id,
    article_by_url,
    crawl_run,
    iter_articles,
    recent_runs,
    run_errors_by_kind,
    run_health,
    site_banners,
)
from storage.search import (
    SNIPPET_END,
    SNIPPET_START,
    InvalidSearchQuery,
    SearchHit,
    search_articles,
)

if TYPE_CHECKING:
    from scrapy.settings import Settings

# Scrapy, trafilatura and what needs them are imported by the commands that crawl or extract:
# a query (search, export, show, runs) starts in a third of the time without them.

F = TypeVar("F", bound=Callable[..., Any])
# A match in a search snippet, between the markers storage.search puts around it.
MARKED_MATCH = re.compile(f"{re.escape(SNIPPET_START)}(.+?){re.escape(SNIPPET_END)}")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


# A crawl stopped by SIGTERM or Ctrl-C (catalog F03) is no failure: its run is recorded as
# interrupted and the next run carries on; the command exits 0 after saying so.
STOPPED = "crawl {} stopped on request: what it fetched is archived, the next run carries on"


def stopped_on_request(run: CrawlRun) -> bool:
    return run.finish_reason == "shutdown"


# A crawl past Scrapy's MEMUSAGE_LIMIT_MB (off by default; catalog L02) stops as gracefully as
# on SIGTERM, but did not finish: exit status 1, so that a scheduler notices.
OUT_OF_MEMORY = (
    "crawl {} ended early at its memory limit (MEMUSAGE_LIMIT_MB): what it fetched is archived, "
    "the next run carries on"
)


def early_end(run_id: int, reason: str | None) -> str:
    """The one line that says why a crawl that did not finish ended."""
    if reason == "memusage_exceeded":
        return OUT_OF_MEMORY.format(run_id)
    return f"crawl {run_id} ended early: {reason}"


class CliError(click.ClickException):
    """An error the user can fix: printed as one line, exit status 1."""


class DiskFull(CliError):
    """The archive's disk is full: free space and run the crawl again."""

    exit_code = 5


def database_option(function: F) -> F:
    return click.option(
        "--db",
        "database_url",
        envvar="NEWSARCHIVE_DATABASE_URL",
        default=DEFAULT_DATABASE_URL,
        show_default=True,
        help="Archive: sqlite:///FILE, a file path, or postgresql://... "
        "(env NEWSARCHIVE_DATABASE_URL).",
    )(function)


def filter_options(function: F) -> F:
    function = click.option("--until", help="Only articles published before the end of DATE.")(
        function
    )
    function = click.option("--since", help="Only articles published on or after DATE.")(function)
    return click.option("--site", help="Only articles of this site (host name).")(function)


def parse_date_option(name: str, value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """Read a --since/--until value (2014-05-30, or a date and time) as a UTC datetime."""
    if value is None:
        return None
    parsed = to_utc(value, dayfirst=False)
    if parsed is None:
        raise click.BadParameter(f"not a date: {value!r} (use YYYY-MM-DD)", param_hint=name)
    is_date_only = len(value.strip()) <= len("2014-05-30")
    return parsed + timedelta(days=1) if end_of_day and is_date_only else parsed


def article_filter(site: str | None, since: str | None, until: str | None) -> ArticleFilter:
    return ArticleFilter(
        site=site,
        since=parse_date_option("--since", since),
        until=parse_date_option("--until", until, end_of_day=True),
    )


@contextmanager
def open_archive(database_url: str) -> Iterator[Session]:
    """Yield a read session on an existing archive (upgraded first if it is older)."""
    url = normalize_database_url(database_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise CliError(
            f"no archive at {url.removeprefix('sqlite:///')}: run `newsarchive crawl URL` first"
        )
    ensure_current(url)
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsarchive")
def cli() -> None:
    """Crawl news sites into a clean, searchable SQL archive."""


# --- crawling ---------------------------------------------------------------------------------


def sources_option(function: F) -> F:
    return click.option(
        "--sources",
        "sources_file",
        envvar="NEWSARCHIVE_SOURCES_FILE",
        default="sources.toml",
        show_default=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The sources file (env NEWSARCHIVE_SOURCES_FILE); see docs/sources.md.",
    )(function)


def now_option(function: F) -> F:
    # For tests and replays: decide what is due as if it were this time (ISO 8601, UTC).
    return click.option("--now", "now_text", hidden=True, envvar="NEWSARCHIVE_NOW")(function)


def read_sources(path: Path) -> list[Source]:
    try:
        return load_sources(path)
    except SourcesFileError as exc:
        raise CliError(str(exc)) from exc


def scheduling_now(now_text: str | None) -> datetime:
    from crawler.middlewares import crawl_now

    try:
        return crawl_now(now_text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {now_text!r}", param_hint="--now") from exc


@cli.command()
@click.argument("urls", nargs=-1)
@database_option
@click.option("--due", is_flag=True, help="Crawl every source of the sources file that is due.")
@click.option("--source", "source_names", multiple=True, metavar="NAME",
              help="Crawl this source now, due or not (repeatable).")  # fmt: skip
@sources_option
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override a Scrapy or ARCHIVE_* setting (repeatable).")  # fmt: skip
@click.option("-a", "--arg", "spider_args", multiple=True, metavar="NAME=VALUE",
              help="A spider argument, e.g. follow_sitemaps=false (repeatable).")  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log (INFO and above).")
@click.option("--no-progress", is_flag=True, help="No live progress line.")
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    envvar="NEWSARCHIVE_REDIS_URL",
    help="Share the crawl with other workers through this Redis (redis://host:6379/0).",
)
@click.option(
    "--shared-crawl",
    metavar="NAME",
    envvar="NEWSARCHIVE_SHARED_CRAWL",
    help="Name of the shared crawl the workers join (default: news).",
)
@now_option
def crawl(
    urls: tuple[str, ...],
    database_url: str,
    due: bool,
    source_names: tuple[str, ...],
    sources_file: Path,
    overrides: tuple[str, ...],
    spider_args: tuple[str, ...],
    verbose: bool,
    no_progress: bool,
    redis_url: str | None,
    shared_crawl: str | None,
    now_text: str | None,
) -> None:
    """Crawl URLS (home, section, feed, sitemap or robots.txt) or the due sources of the sources
    file (--due, safe to run from cron every minute) into the archive."""
    if bool(urls) == bool(due or source_names):
        raise click.UsageError("give URLs to crawl, or --due / --source NAME (not both)")
    if urls:
        start_fork_server()  # the workers' code loads on another core while Scrapy loads here
    from crawler.runner import InvalidSetting, parse_overrides
    from crawler.spiders.news import InvalidSpiderArgument, NewsSpider, parse_start_urls

    try:
        settings_overrides: dict[str, Any] = {
            "LOG_LEVEL": "INFO" if verbose else "WARNING",
            "ARCHIVE_PROGRESS": not no_progress and sys.stderr.isatty(),
        }
        if redis_url:
            settings_overrides["ARCHIVE_REDIS_URL"] = redis_url
        if shared_crawl:
            settings_overrides["ARCHIVE_SHARED_CRAWL"] = shared_crawl
        settings_overrides.update(parse_overrides(overrides))
        arguments = parse_overrides(spider_args)
        if urls:
            start_urls = parse_start_urls(list(urls))
            NewsSpider(start_urls=start_urls, **arguments)  # a wrong argument fails here
    except (InvalidSpiderArgument, InvalidSetting) as exc:
        raise click.UsageError(str(exc)) from exc
    if urls:
        crawl_into_archive(start_urls, database_url, settings_overrides, arguments)
        return
    sources = read_sources(sources_file)
    unknown = set(source_names) - {s.name for s in sources}
    if unknown:
        raise click.BadParameter(
            f"no source {sorted(unknown)[0]!r} in {sources_file}", param_hint="--source"
        )
    crawl_sources(sources, database_url, settings_overrides, now=scheduling_now(now_text),
                  names=set(source_names) or None)  # fmt: skip


def crawl_sources(
    sources: list[Source],
    database_url: str,
    overrides: dict[str, Any],
    *,
    now: datetime,
    names: set[str] | None,
) -> None:
    """Take the due (or named) sources, crawl them together, print each run's summary."""
    from crawler.runner import project_settings, run_sources

    url = normalize_database_url(database_url)
    ensure_current(url)
    settings = project_settings(url, overrides)
    ttl = timedelta(seconds=settings.getint("ARCHIVE_LEASE_SECONDS"))
    owner = lease_owner()
    engine = make_engine(url, immediate_transactions=True)
    try:
        claimed, refused = claim_due_sources(
            make_session_factory(engine), sources, owner=owner, now=now, ttl=ttl, names=names
        )
    finally:
        engine.dispose()
    for source, holder in refused:
        err.print(
            f"source {source.name}: another run holds it ({holder.owner}, "
            f"until {holder.expires_at:%Y-%m-%d %H:%M:%S} UTC): not started"
        )
    if not claimed:
        if not refused:
            err.print("no source is due")
        if refused:
            sys.exit(3)
        return
    start_fork_server()  # the workers' code loads on another core while the crawls open
    run_ids = run_sources(claimed, settings, owner=owner)
    failed = False
    with open_archive(url) as session:
        for name, run_id in run_ids.items():
            run = crawl_run(session, run_id) if run_id is not None else None
            if run is None:
                err.print(f"source {name}: the crawl did not start: see the log above")
                failed = True
                continue
            err.print(f"{name}: ", end="")
            print_run(run)
            if stopped_on_request(run):
                err.print(STOPPED.format(run.id))
            elif run.status != "finished":
                err.print(early_end(run.id, run.finish_reason))
            failed = failed or (run.status != "finished" and not stopped_on_request(run))
    if failed:
        sys.exit(1)
    if refused:
        sys.exit(3)


def crawl_into_archive(
    start_urls: list[str],
    database_url: str,
    overrides: dict[str, Any],
    spider_args: dict[str, str] | None = None,
) -> int:
    """Prepare the archive, run the crawl, print its summary; return the run id."""
    from crawler import distributed
    from crawler.runner import project_settings, run_crawl

    url = normalize_database_url(database_url)
    ensure_current(url)
    settings = project_settings(url, overrides)
    if settings.get("ARCHIVE_REDIS_URL"):
        try:
            check_shared_crawl(settings)
        except distributed.SharedCrawlError as exc:
            raise CliError(str(exc)) from None
    run_id, ended_because = run_crawl(start_urls, settings, **(spider_args or {}))
    if run_id is None:
        raise CliError("the crawl did not start: see the log above")
    with open_archive(url) as session:
        run = crawl_run(session, run_id)
        assert run is not None  # noqa: S101 - the pipeline wrote it
        print_run(run)
        for row in run_health(session, run.id):
            for warning in row.warnings:
                err.print(f"warning: {row.site.host}: {warning}; has the site changed its layout?")
        if stopped_on_request(run):
            err.print(STOPPED.format(run.id))
        elif run.status != "finished":
            # The crawl's own reason where the archive could not record the end (a full disk).
            reason = run.finish_reason or ended_because
            message = early_end(run.id, reason)
            if (reason or "").startswith("disk full"):
                raise DiskFull(message)
            raise CliError(message)
    return run_id


@cli.command("sources")
@sources_option
@database_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
@now_option
def list_sources(
    sources_file: Path, database_url: str, output_format: str, now_text: str | None
) -> None:
    """List the sources of the sources file: schedule, last run, its outcome, next run."""
    sources = read_sources(sources_file)
    now = scheduling_now(now_text)
    url = normalize_database_url(database_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        statuses = [
            SourceStatus(source=s, last_run=None, idle_runs=0, next_run_at=now, is_due=s.enabled)
            for s in sources
        ]
    else:
        with open_archive(url) as session:
            statuses = [source_status(session, s, now) for s in sources]
    records: list[dict[str, Any]] = [
        {"name": st.source.name, "schedule": st.source.schedule.text, "enabled": st.source.enabled,
         "start_urls": list(st.source.start_urls),
         "last_run": st.last_run.started_at.isoformat() if st.last_run else None,
         "last_outcome": st.last_run.status if st.last_run else None,
         "last_new_articles": st.last_run.articles_new_count if st.last_run else None,
         "next_run": st.next_run_at.isoformat(), "due": st.is_due}
        for st in statuses
    ]  # fmt: skip
    if output_format == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    table = Table()
    for name in ("source", "schedule", "last run (UTC)", "outcome", "next run (UTC)"):
        table.add_column(name, no_wrap=True)
    for r in records:
        last = r["last_run"][:16].replace("T", " ") if r["last_run"] else "never"
        outcome = f"{r['last_outcome']}, {r['last_new_articles']} new" if r["last_outcome"] else "-"
        next_run = "due now" if r["due"] else r["next_run"][:16].replace("T", " ")
        if not r["enabled"]:
            next_run = "disabled"
        table.add_row(r["name"], r["schedule"], last, outcome, next_run)
    out.print(table)


@cli.command()
@sources_option
@database_option
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override a Scrapy or ARCHIVE_* setting for every crawl.")  # fmt: skip
@click.option("--max-cycles", type=click.IntRange(min=1), hidden=True,
              help="Stop after this many cycles (tests).")  # fmt: skip
def schedule(
    sources_file: Path, database_url: str, overrides: tuple[str, ...], max_cycles: int | None
) -> None:
    """Stay in the foreground and crawl each source when it is due (for systemd or a container).

    Each cycle runs `newsarchive crawl --due` in a child process (a crawl's event loop cannot
    be restarted in one process), then sleeps until the next source is due.
    """
    read_sources(sources_file)  # a bad file fails now, with its line
    cycles = 0
    while max_cycles is None or cycles < max_cycles:
        cycles += 1
        command = [sys.executable, "-m", "crawler", "crawl", "--due", "--no-progress",
                   "--sources", str(sources_file), "--db", database_url]  # fmt: skip
        for pair in overrides:
            command += ["-s", pair]
        subprocess.run(command, check=False)  # noqa: S603 - our own command
        if max_cycles is not None and cycles >= max_cycles:
            break
        sources = read_sources(sources_file)  # edits of the file apply from the next cycle
        with open_archive(database_url) as session:
            now = datetime.now(UTC)
            wake = min((source_status(session, s, now).next_run_at for s in sources if s.enabled),
                       default=now + timedelta(hours=1))  # fmt: skip
        pause = min(max((wake - datetime.now(UTC)).total_seconds(), 30.0), 3600.0)
        err.print(f"next source due at {wake:%Y-%m-%d %H:%M:%S} UTC; sleeping {pause:.0f} s")
        time.sleep(pause)


def print_run(run: CrawlRun) -> None:
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    err.print(
        f"crawl {run.id} {run.status} in {duration:.1f} s: "
        f"{run.pages_fetched_count} pages fetched, "
        f"{run.articles_new_count} new articles, {run.articles_updated_count} updated, "
        f"{run.articles_unchanged_count} unchanged, {run.error_count} errors"
    )


@cli.command()
@database_option
@click.option("--query", default="harbour", show_default=True, help="What the demo searches for.")
def demo(database_url: str, query: str) -> None:
    """Serve the bundled sample news site on loopback, crawl it, and show the archive."""
    from crawler.demo.server import serve_demo_site  # only the demo needs the sample site
    from crawler.runner import LOCAL_SITE_SETTINGS

    with serve_demo_site() as server:
        err.print(f"serving the sample site The Harbour Gazette at {server.site.base_url}")
        overrides: dict[str, Any] = {
            **LOCAL_SITE_SETTINGS,
            "LOG_LEVEL": "WARNING",
            "ARCHIVE_PROGRESS": sys.stderr.isatty(),
        }
        crawl_into_archive([f"{server.site.base_url}/"], database_url, overrides)
    with open_archive(database_url) as session:
        articles = list(iter_articles(session, ArticleFilter()))
        out.print(f"\n[bold]{len(articles)} articles archived[/bold] in {database_url}:")
        for article in sorted(
            articles, key=lambda a: a.published_at or datetime.min.replace(tzinfo=UTC), reverse=True
        ):
            date = f"{article.published_at:%Y-%m-%d}" if article.published_at else "no date   "
            out.print(
                f"  {date}  {escape(article.section or '-'):<9} {escape(article.title or '')}"
            )
        banners = {b.id: b for a in articles for b in article_banners(a)}
        out.print(f"\n[bold]{len(banners)} banners[/bold] kept out of the bodies:")
        for banner in banners.values():
            first_line = banner.text.split("\n")[0]
            out.print(f"  {banner.kind:<10} on {banner.page_count} pages: {escape(first_line)}")
        out.print(f"\n[bold]newsarchive search {query!r}[/bold]")
        print_hits(search_articles(session, query, ArticleFilter(), limit=5))
    out.print(
        "\nTry: newsarchive search WORDS, newsarchive show ID, newsarchive export --format csv"
    )


# --- extraction -------------------------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", help="The URL the pages were fetched from (for canonical URLs and dates).")
def extract(files: tuple[Path, ...], url: str | None) -> None:
    """Extract articles from saved HTML FILES; print one JSON object per file (JSON Lines)."""
    from crawler.decoding import decode_stored
    from crawler.extraction import extract_article_or_reason
    from crawler.items import PageItem
    from crawler.normalization import normalize_article

    failures = 0
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            err.print(f"error: cannot read {path}: {exc.strerror}")
            failures += 1
            continue
        decoded = decode_stored(raw, None)
        page_url = url or path.resolve().as_uri().replace("file://", "http://localhost", 1)
        page = PageItem(
            url=page_url,
            final_url=page_url,
            status=200,
            fetched_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
            page_kind=ARTICLE,
            body=raw,
            text=decoded.text,
        )
        extracted, reason = extract_article_or_reason(page)
        if extracted is None:
            record: dict[str, Any] = {"file": str(path), "error": f"no article: {reason}"}
        else:
            record = {"file": str(path), **record_export(normalize_article(extracted))}
            del record["id"]
        click.echo(json.dumps(record, ensure_ascii=False))
    if failures:
        sys.exit(1)


@cli.command()
@database_option
@click.option("--site", help="Only the articles of this site (host name).")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override an ARCHIVE_* setting, e.g. ARCHIVE_MIN_TEXT_CHARS=100.")  # fmt: skip
def reextract(database_url: str, site: str | None, overrides: tuple[str, ...]) -> None:
    """Re-run extraction over the stored raw HTML; write only the articles that change."""
    from crawler.learning import LearningSettings
    from crawler.reextraction import reextract_articles
    from crawler.runner import InvalidSetting, parse_overrides, project_settings

    try:
        settings = project_settings(
            normalize_database_url(database_url), parse_overrides(overrides)
        )
        learning = LearningSettings.from_settings(settings)
    except (InvalidSetting, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    url = normalize_database_url(database_url)
    with open_archive(url):
        pass  # fails clearly if there is no archive; upgrades an older one
    engine = make_engine(url, immediate_transactions=True)
    try:
        report = reextract_articles(
            make_session_factory(engine),
            ArticleFilter(site=site),
            min_text_chars=settings.getint("ARCHIVE_MIN_TEXT_CHARS"),
            learning=learning,
        )
    finally:
        engine.dispose()
    err.print(
        f"re-extracted {report.examined} articles: {report.changed} changed, "
        f"{report.unchanged} unchanged, {report.no_article} no longer give an article "
        f"(kept as they were), {report.no_raw_html} without stored HTML"
    )


# --- querying ---------------------------------------------------------------------------------


@cli.command()
@click.argument("query")
@database_option
@filter_options
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
def search(
    query: str, database_url: str, site: str | None, since: str | None, until: str | None,
    limit: int, output_format: str,
) -> None:  # fmt: skip
    """Full-text search of titles and bodies: words, "a phrase", OR, -excluded."""
    filters = article_filter(site, since, until)
    with open_archive(database_url) as session:
        try:
            hits = search_articles(session, query, filters, limit=limit)
        except InvalidSearchQuery as exc:
            raise click.BadParameter(str(exc), param_hint="QUERY") from exc
    if output_format == "json":
        click.echo(json.dumps([
            {"id": h.article_id, "url": h.url, "site": h.site, "title": h.title,
             "published": h.published_at.isoformat() if h.published_at else None,
             "snippet": h.snippet, "score": round(h.score, 6)}
            for h in hits
        ], ensure_ascii=False, indent=2))  # fmt: skip
        return
    print_hits(hits)


def print_hits(hits: list[SearchHit]) -> None:
    if not hits:
        out.print("no matching articles")
        return
    table = Table(show_lines=True, expand=False)
    for name in ("id", "published", "site", "title and snippet"):
        table.add_column(name, overflow="fold")
    for hit in hits:
        snippet = MARKED_MATCH.sub(r"[bold yellow]\1[/bold yellow]", escape(hit.snippet))
        date = f"{hit.published_at:%Y-%m-%d}" if hit.published_at else ""
        table.add_row(
            str(hit.article_id),
            date,
            hit.site,
            f"[bold]{escape(hit.title or '')}[/bold]\n{snippet}",
        )
    out.print(table)


@cli.command()
@click.argument("article")
@database_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def show(article: str, database_url: str, output_format: str) -> None:
    """Show one article (by URL or id) with its metadata and its banners."""
    with open_archive(database_url) as session:
        found = require_article(session, article)
        record = article_export(found)
    if output_format == "json":
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    out.print(f"[bold]{escape(record['title'] or '(no title)')}[/bold]")
    for name in ("id", "url", "site", "site_name", "authors", "published", "modified",
                 "date_source", "language", "section", "tags", "description", "content_hash",
                 "extractor", "first_seen", "last_seen"):  # fmt: skip
        value = record[name]
        if isinstance(value, list):
            value = ", ".join(value)
        out.print(
            f"[dim]{name:>12}[/dim]  {escape(str(value)) if value not in (None, '') else '-'}"
        )
    out.print(f"[dim]{'banners':>12}[/dim]  {len(record['banners'])}")
    for banner in record["banners"]:
        line = f"[{banner['kind']}] {banner['text'].replace(chr(10) * 2, ' ')}"
        out.print(f"    {escape(line)}")
    out.print()
    out.print(escape(record["body"]))


@cli.command()
@click.argument("article")
@database_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def history(article: str, database_url: str, output_format: str) -> None:
    """Show an article's versions (by URL or id) and the differences between them."""
    with open_archive(database_url) as session:
        found = require_article(session, article)
        entries = article_history(session, found)
        url = found.canonical_url
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "url": url,
                    "versions": [
                        {
                            "version": e.version,
                            "seen_at": e.seen_at.isoformat(),
                            "title": e.title,
                            "body": e.body,
                            "diff": e.diff,
                        }
                        for e in entries
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    out.print(f"[bold]{escape(url)}[/bold]: {len(entries)} version(s)")
    for entry in entries:
        out.print(
            f"\n[bold]version {entry.version}[/bold], first seen {entry.seen_at:%Y-%m-%d %H:%M} UTC"
        )
        if entry.diff:
            for line in entry.diff.splitlines()[2:]:
                style = (
                    "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                )
                out.print(f"[{style}]{escape(line)}[/{style}]")
        else:
            out.print(f"[dim]{escape(entry.title or '')} ({len(entry.body)} characters)[/dim]")


@cli.command()
@database_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--source", help="Only the runs of this source of the sources file.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
def runs(database_url: str, limit: int, source: str | None, output_format: str) -> None:
    """List the latest crawl runs: when, outcome, pages, articles, errors by kind."""
    with open_archive(database_url) as session:
        records: list[dict[str, Any]] = [
            {"id": r.id, "source": r.source, "start_urls": r.start_urls,
             "started_at": r.started_at.isoformat(),
             "finished_at": r.finished_at.isoformat() if r.finished_at else None,
             "status": r.status, "finish_reason": r.finish_reason,
             "pages_fetched": r.pages_fetched_count, "articles_new": r.articles_new_count,
             "articles_updated": r.articles_updated_count,
             "articles_unchanged": r.articles_unchanged_count, "errors": r.error_count,
             "errors_by_kind": {e.kind: e.count for e in run_errors_by_kind(session, r.id)}}
            for r in recent_runs(session, limit, source=source)
        ]  # fmt: skip
    if output_format == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if not records:
        out.print("no crawl runs yet")
        return
    table = Table()
    for name in ("run", "source", "started (UTC)", "status", "pages", "new", "updated",
                 "unchanged"):  # fmt: skip
        table.add_column(name, no_wrap=True)
    table.add_column("errors by kind", overflow="fold")
    for r in records:
        errors = ", ".join(f"{kind}: {count}" for kind, count in r["errors_by_kind"].items())
        table.add_row(
            str(r["id"]), r["source"] or "-", r["started_at"][:16].replace("T", " "), r["status"],
            str(r["pages_fetched"]), str(r["articles_new"]), str(r["articles_updated"]),
            str(r["articles_unchanged"]), errors or "-",
        )  # fmt: skip
    out.print(table)


def require_article(session: Session, reference: str) -> Article:
    """Find an article by id or URL, or stop with a clear error."""
    found = find_article(session, reference)
    if found is None:
        raise CliError(f"no article {reference!r} in the archive")
    return found


def find_article(session: Session, reference: str) -> Article | None:
    """Find an article by id, canonical URL, or a URL it was fetched from."""
    if reference.isdigit():
        return article_by_id(session, int(reference))
    if not reference.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"not an article id or http(s) URL: {reference!r}", param_hint="ARTICLE"
        )
    return article_by_url(session, canonical_url(reference)) or article_by_fetched_url(
        session, reference
    )


@cli.command()
@database_option
@filter_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def export(
    database_url: str, site: str | None, since: str | None, until: str | None,
    output_format: str, output: Path | None, force: bool,
) -> None:  # fmt: skip
    """Export articles, one record each, as JSON Lines or CSV."""
    filters = article_filter(site, since, until)
    writer = write_jsonl if output_format == "jsonl" else write_csv
    with open_archive(database_url) as session:
        records = (article_export(a) for a in iter_articles(session, filters))
        if output is None:
            writer(records, sys.stdout)
            return
        if not output.parent.is_dir():
            raise CliError(f"cannot write {output}: folder {output.parent} does not exist")
        if output.is_symlink():
            raise CliError(f"cannot write {output}: it is a symbolic link, not followed")
        if output.exists() and not force:
            raise CliError(f"cannot write {output}: it exists (--force replaces it)")
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as handle:
                count = writer(records, handle)
            partial.replace(output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CliError(f"cannot write {output}: {exc.strerror}") from exc
    err.print(f"wrote {count} articles to {output}")


@cli.command()
@database_option
@click.option("--site", help="Only the banners of this site (host name).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
def banners(database_url: str, site: str | None, output_format: str) -> None:
    """List each site's notices, tickers, cookie and newsletter boxes, and when they were seen."""
    with open_archive(database_url) as session:
        found = site_banners(session, site)
        records: list[dict[str, Any]] = [
            {"id": b.id, "site": b.site.host, "kind": b.kind, "pages": b.page_count,
             "first_seen": b.first_seen_at.isoformat(), "last_seen": b.last_seen_at.isoformat(),
             "text": b.text}
            for b in found
        ]  # fmt: skip
    if output_format == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if not records:
        out.print("no banners" + (f" for {site}" if site else ""))
        return
    table = Table(show_lines=True)
    for name in ("site", "kind", "pages", "first seen", "last seen"):
        table.add_column(name, no_wrap=True)
    table.add_column("text", overflow="fold", min_width=30)
    for record in records:
        table.add_row(
            record["site"], record["kind"], str(record["pages"]),
            record["first_seen"][:16].replace("T", " "), record["last_seen"][:16].replace("T", " "),
            escape(record["text"].replace("\n\n", " ")),
        )  # fmt: skip
    out.print(table)


@cli.command()
@database_option
def stats(database_url: str) -> None:
    """Counts of articles, sites, banners and fetches, and the last crawl."""
    with open_archive(database_url) as session:
        figures = archive_stats(session)
        out.print(f"articles  {figures.article_count}")
        out.print(f"sites     {figures.site_count}")
        out.print(f"banners   {figures.banner_count}")
        out.print(f"fetches   {figures.fetch_count}")
        run = figures.last_run
        if run is None:
            out.print("last crawl  none")
            return
        finished = f"{run.finished_at:%Y-%m-%d %H:%M:%S} UTC" if run.finished_at else "not finished"
        out.print(
            f"last crawl  #{run.id} {run.status}, started {run.started_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"ended {finished}: {run.pages_fetched_count} pages, {run.articles_new_count} new, "
            f"{run.articles_updated_count} updated, {run.articles_unchanged_count} unchanged, "
            f"{run.error_count} errors"
        )


def check_shared_crawl(settings: Settings) -> None:
    """Before a worker starts: its settings keep shared state, and its Redis answers."""
    from crawler import distributed

    trial = settings.copy()
    distributed.configure(trial)
    distributed.redis_server(trial)


@cli.group()
def shared() -> None:
    """Look at or reset a crawl shared by several workers through Redis."""


def shared_redis(redis_url: str) -> Any:
    from scrapy.settings import Settings

    from crawler import distributed

    settings = Settings({"REDIS_URL": redis_url, "ARCHIVE_REDIS_URL": redis_url})
    try:
        return distributed.redis_server(settings)
    except distributed.SharedCrawlError as exc:
        raise CliError(str(exc)) from None


redis_option = click.option("--redis", "redis_url", metavar="URL", envvar="NEWSARCHIVE_REDIS_URL",
                            required=True, help="The Redis of the shared crawl.")  # fmt: skip
shared_name = click.argument("name", default="news")


@shared.command("status")
@redis_option
@shared_name
def shared_status(redis_url: str, name: str) -> None:
    """Show a shared crawl's frontier: queued, seen and in-flight requests, and its workers."""
    from crawler import distributed

    status = distributed.shared_crawl_status(shared_redis(redis_url), name)
    out.print(f"shared crawl {name}")
    out.print(f"queued    {status.queued}")
    out.print(f"seen      {status.seen}")
    for worker in status.workers:
        state = "alive" if worker.alive else "silent"
        out.print(f"worker    {worker.name} ({state}): {worker.in_flight} in flight")


@shared.command("reset")
@redis_option
@shared_name
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def shared_reset(redis_url: str, name: str, yes: bool) -> None:
    """Forget a shared crawl's frontier and seen-set, so that its next start begins afresh.
    The archive is not touched."""
    from crawler import distributed

    server = shared_redis(redis_url)
    if not yes:
        click.confirm(f"forget the frontier and seen-set of shared crawl {name}?", abort=True)
    distributed.reset_shared_crawl(server, name)
    err.print(f"shared crawl {name}: reset")


def main() -> None:
    """Run the command; library errors become one line on stderr, never a traceback."""
    try:
        cli.main(standalone_mode=True)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}")
        sys.exit(2)
    except SQLAlchemyError as exc:
        err.print(
            f"error: database: {str(exc.orig if hasattr(exc, 'orig') else exc).splitlines()[0]}"
        )
        sys.exit(4)
    except FileNotFoundError as exc:
        err.print(f"error: {exc}")
        sys.exit(1)
