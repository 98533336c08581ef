"""What the item pipelines cost per page, apart from fetching and extraction, in one run.

    python benchmarks/storage_writes.py [--articles 500] [--postgresql URL] [--growth 10000]

Renders article pages of the generated site (tests/support/news_farm.py), analyses each once
(crawler.analysis, as the worker processes do) before the clock starts, then times the crawl's
item pipelines (extraction result, normalization, storage) writing them into a new archive
(SQLite, and PostgreSQL with --postgresql: an empty database), in one process, as the crawl's
writer thread runs them, one page per transaction and in batches of 50 pages:
CPU milliseconds per page. Baseline in the same run: the least any archive
must do for a page, one transaction inserting its fetch (body already compressed) and its
article row, through the same engine.

With --growth N: N articles of one site written into one archive in batches, and the CPU time a
page costs for each tenth of them: it should not grow with the archive (a cost that counts the
site's rows would).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert  # noqa: E402

from crawler.analysis import analyze_page  # noqa: E402
from crawler.items import (  # noqa: E402
    ARTICLE,
    AnalysisRequest,
    ArchivePageItem,
    PageItem,
)
from crawler.pipelines import (  # noqa: E402
    DEFAULT_WRITE_BATCH,
    ExtractionPipeline,
    NormalizationPipeline,
    StoragePipeline,
)
from storage.database import make_engine, make_session_factory, session_scope  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Article, Fetch, Site  # noqa: E402
from tests.support.news_farm import NewsFarm  # noqa: E402


class Stats:
    """What the storage pipeline reports to Scrapy's stats, dropped."""

    def inc_value(self, *args: object, **kwargs: object) -> None: ...

    def set_value(self, *args: object, **kwargs: object) -> None: ...


def analysed_pages(articles: int) -> list[ArchivePageItem]:
    farm = NewsFarm("http://news.example", articles)
    extraction, normalization = ExtractionPipeline(min_text_chars=200), NormalizationPipeline()
    items = []
    for path in farm.article_paths():
        body, url, now = farm.render(path)[2], farm.base_url + path, datetime.now(UTC)
        analysis = analyze_page(AnalysisRequest(text=body.decode(), url=url, fetched_at=now,
                                                min_text_chars=200, body=body))  # fmt: skip
        page = PageItem(url=url, final_url=url, status=200, fetched_at=now, page_kind=ARTICLE,
                        content_type="text/html", body=body, text=body.decode(),
                        analysis=analysis)  # fmt: skip
        items.append(normalization.process_item(extraction.process_item(page)))
    return items


def open_pipeline(database_url: str) -> StoragePipeline:
    """The crawl's storage pipeline on a new (migrated) archive, as a crawl opens it."""
    upgrade(database_url)
    pipeline = StoragePipeline(database_url=database_url, stats=Stats())  # type: ignore[arg-type]
    pipeline.open_spider()
    return pipeline


def time_pipeline(
    database_url: str, items: list[ArchivePageItem], batch: int
) -> tuple[float, float]:
    """CPU seconds per page of StoragePipeline.store_batch (what the crawl's writer thread
    runs), `batch` pages per transaction, and the statements it sends per page (each a round
    trip to a database server)."""
    pipeline = open_pipeline(database_url)
    statements: list[str] = []
    event.listen(pipeline.engine, "before_cursor_execute", lambda *sent: statements.append(sent[2]))
    started = time.process_time()
    for start in range(0, len(items), batch):
        pipeline.store_batch(items[start : start + batch])
    elapsed = time.process_time() - started
    pipeline.writer.shutdown()
    return elapsed / len(items), len(statements) / len(items)


def time_growth(
    database_url: str, items: list[ArchivePageItem], parts: int = 10
) -> list[tuple[float, float]]:
    """CPU and wall seconds per page of each successive `parts`-th of `items`, written into
    one archive (the wall time holds the database server's work, on PostgreSQL)."""
    pipeline = open_pipeline(database_url)
    size, costs = -(-len(items) // parts), []
    for part in range(0, len(items), size):
        tenth = items[part : part + size]
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(tenth), DEFAULT_WRITE_BATCH):
            pipeline.store_batch(tenth[start : start + DEFAULT_WRITE_BATCH])
        pages = len(tenth)
        costs.append(((time.process_time() - cpu) / pages, (time.perf_counter() - wall) / pages))
    pipeline.writer.shutdown()
    return costs


def time_baseline(database_url: str, items: list[ArchivePageItem]) -> float:
    """CPU seconds per page of one transaction inserting a fetch and an article row."""
    upgrade(database_url)
    sessions = make_session_factory(make_engine(database_url))
    with session_scope(sessions) as session:
        site_id = session.execute(
            insert(Site).values(host="baseline.example", first_seen_at=datetime.now(UTC))
            .returning(Site.id)
        ).scalar_one()  # fmt: skip
    started = time.process_time()
    for item in items:
        article, fetch = item.article, item.fetch
        assert article is not None
        assert fetch.stored_body is not None
        with session_scope(sessions) as session:
            connection = session.connection()
            fetch_id = connection.execute(
                insert(Fetch).returning(Fetch.id),
                {"site_id": site_id, "url": fetch.url, "final_url": fetch.final_url,
                 "status": fetch.status, "fetched_at": fetch.fetched_at,
                 "page_kind": fetch.page_kind, "body_size": fetch.stored_body.size,
                 "body_zstd": fetch.stored_body.zstd},
            ).scalar_one()  # fmt: skip
            connection.execute(
                insert(Article),
                {"site_id": site_id, "canonical_url": article.canonical_url, "url": article.url,
                 "title": article.title, "authors": list(article.authors), "tags": [],
                 "date_candidates": [], "body": article.body, "raw_body": article.body,
                 "content_hash": article.content_hash, "extractor": article.extractor,
                 "first_seen_at": article.fetched_at, "last_seen_at": article.fetched_at,
                 "fetch_id": fetch_id},
            )  # fmt: skip
    return (time.process_time() - started) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--postgresql", metavar="URL", help="also write into this (empty) database")
    parser.add_argument(
        "--growth",
        type=int,
        metavar="N",
        help="instead: the cost of a page as one archive grows to N articles",
    )
    args = parser.parse_args()
    if args.growth:
        growth(args.growth, args.postgresql)
        return
    items = analysed_pages(args.articles)
    folder = tempfile.mkdtemp()
    targets = [("SQLite", f"sqlite:///{folder}/pipeline.db", f"sqlite:///{folder}/baseline.db")]
    if args.postgresql:
        targets.append(("PostgreSQL", args.postgresql, args.postgresql))
    batch = DEFAULT_WRITE_BATCH
    print(f"{len(items)} analysed article pages of the generated site")
    print(f"{'archive':12} {'pipelines, 1 page/transaction':>30} "
          f"{f'pipelines, {batch} pages/transaction':>32} {'baseline':>9} "
          f"{'ratios':>12}   (CPU ms/page)")  # fmt: skip
    for name, url, baseline_url in targets:
        # One PostgreSQL database for all three: each run writes other sites' rows.
        single, single_sent = time_pipeline(url, items, 1)
        batched, batched_sent = time_pipeline(
            _other_file(url, "batched"), _elsewhere(items, "batched"), batch
        )
        floor = time_baseline(baseline_url, _elsewhere(items, "baseline"))
        print(f"{name:12} {1000 * single:30.2f} {1000 * batched:32.2f} {1000 * floor:9.2f} "
              f"{single / floor:5.2f} {batched / floor:5.2f}")  # fmt: skip
        print(f"{'':12} {single_sent:30.2f} {batched_sent:32.2f}   statements/page")


def growth(articles: int, postgresql: str | None) -> None:
    items = analysed_pages(articles)
    targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/growth.db")]
    if postgresql:
        targets.append(("PostgreSQL", postgresql))
    print(f"{articles} analysed article pages of the generated site, written in batches of "
          f"{DEFAULT_WRITE_BATCH}: ms/page for each tenth, and last tenth / first")  # fmt: skip
    for name, url in targets:
        costs = time_growth(url, items)
        for index, label in ((0, "CPU"), (1, "wall")):
            tenths = [cost[index] for cost in costs]
            print(f"{name:12} {label:5}" + " ".join(f"{1000 * cost:6.2f}" for cost in tenths)
                  + f"   {tenths[-1] / tenths[0]:5.2f}")  # fmt: skip


def _other_file(url: str, name: str) -> str:
    return url.replace("pipeline.db", f"{name}.db") if url.startswith("sqlite") else url


def _elsewhere(items: list[ArchivePageItem], name: str) -> list[ArchivePageItem]:
    """The items on another site (a run's rows must not collide with another run's)."""
    moved = []
    for item in items:
        assert item.article is not None
        url = item.article.canonical_url.replace("news.example", f"{name}.example")
        host = item.host.replace("news.example", f"{name}.example")
        moved.append(replace(item, host=host, article=replace(item.article, canonical_url=url)))
    return moved


if __name__ == "__main__":
    main()
