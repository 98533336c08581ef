from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from scrapy import Request
from scrapy.core.scraper import Slot
from scrapy.exceptions import CloseSpider
from scrapy.http import HtmlResponse
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from crawler.analysis import analyze_page
from crawler.exceptions import NotAnArticle
from crawler.items import ARTICLE, ERROR, LISTING, OTHER, AnalysisRequest, PageItem
from crawler.learning import relearn_site, store_article
from crawler.pipelines import ExtractionPipeline, NormalizationPipeline, StoragePipeline
from crawler.spiders.news import NewsSpider
from storage.database import make_engine, make_session_factory, session_scope
from storage.models import Article, ArticleVersion, Banner, CrawlRun, Fetch
from storage.writes import fetch_body, upsert_article, upsert_site
from tests.support.records import article_record
from tests.support.site_server import ARTICLES, DemoSite

BASE_URL = "http://news.example"
FETCHED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def page(path: str, kind: str = ARTICLE, status: int = 200) -> PageItem:
    rendered = DemoSite(BASE_URL).render(path)
    return PageItem(
        url=f"{BASE_URL}{path}", final_url=f"{BASE_URL}{path}", status=status,
        fetched_at=FETCHED_AT, page_kind=kind, content_type=rendered.content_type,
        body=rendered.body, text=rendered.body.decode() if kind == ARTICLE else "",
    )  # fmt: skip


def through_extraction_and_normalization(item: PageItem):
    crawler = get_crawler(NewsSpider, settings_dict={"ARCHIVE_MIN_TEXT_CHARS": 200})
    extracted = ExtractionPipeline.from_crawler(crawler).process_item(item)
    return NormalizationPipeline().process_item(extracted)


def test_article_page_becomes_an_article_record():
    item = through_extraction_and_normalization(page(f"/news/{ARTICLES[0].slug}.html"))
    assert item.article is not None
    assert item.article.title == ARTICLES[0].title
    assert item.fetch.page_kind == ARTICLE
    assert item.host == "news.example"


def test_listing_page_passes_on_without_article():
    item = through_extraction_and_normalization(page("/", kind=LISTING))
    assert item.article is None
    assert item.fetch.page_kind == LISTING
    assert item.rejection == "listing page"


def test_short_article_page_is_recorded_as_other():
    item = through_extraction_and_normalization(page("/news/editors-note.html"))
    assert item.article is None
    assert item.fetch.page_kind == OTHER
    assert "too short" in item.rejection


@pytest.fixture
def storage_pipeline(database_url):
    crawler = get_crawler(NewsSpider, settings_dict={"ARCHIVE_DATABASE_URL": database_url})
    crawler.spider = crawler._create_spider(start_urls=f"{BASE_URL}/")
    pipeline = StoragePipeline.from_crawler(crawler)
    pipeline.open_spider()
    yield pipeline, crawler
    pipeline.engine.dispose()


def store(pipeline, item):
    """Run the storage pipeline's process_item, a coroutine, as Scrapy would."""
    return asyncio.run(pipeline.process_item(item))


def test_storage_pipeline_stores_article_fetch_and_banners(storage_pipeline):
    pipeline, crawler = storage_pipeline
    item = through_extraction_and_normalization(page(f"/news/{ARTICLES[0].slug}.html"))
    store(pipeline, item)
    store(pipeline, item)
    with session_scope(pipeline.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 1
        assert session.scalar(select(func.count()).select_from(Fetch)) == 2
        assert session.scalar(select(func.count()).select_from(Banner)) == 3
    assert crawler.stats.get_value("archive/articles_new") == 1
    assert crawler.stats.get_value("archive/articles_unchanged") == 1


def test_storage_pipeline_records_a_listing_fetch_then_drops_it(storage_pipeline):
    pipeline, _ = storage_pipeline
    with pytest.raises(NotAnArticle, match="listing page"):
        store(pipeline, through_extraction_and_normalization(page("/", kind=LISTING)))
    with session_scope(pipeline.sessions) as session:
        fetch = session.scalars(select(Fetch)).one()
        assert fetch.page_kind == LISTING
        assert session.scalar(select(func.count()).select_from(Article)) == 0


def test_storage_pipeline_counts_error_pages(storage_pipeline):
    pipeline, crawler = storage_pipeline
    with pytest.raises(NotAnArticle):
        store(pipeline, through_extraction_and_normalization(page("/missing/", ERROR, 404)))
    assert crawler.stats.get_value("archive/fetch_errors") == 1


def test_storage_pipeline_records_the_crawl_run(storage_pipeline):
    pipeline, crawler = storage_pipeline
    store(pipeline, through_extraction_and_normalization(page(f"/news/{ARTICLES[1].slug}.html")))
    pipeline.spider_closed(crawler.spider, "finished")
    with session_scope(pipeline.sessions) as session:
        run = session.scalars(select(CrawlRun)).one()
        assert run.status == "finished"
        assert run.start_urls == [f"{BASE_URL}/"]
        assert run.articles_new_count == 1
        assert run.pages_fetched_count == 1
        assert run.finished_at is not None


def test_storage_pipeline_refuses_an_unusable_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'archive.db'}"
    crawler = get_crawler(NewsSpider, settings_dict={"ARCHIVE_DATABASE_URL": url})
    pipeline = StoragePipeline.from_crawler(crawler)
    with pytest.raises(CloseSpider) as raised:
        pipeline.open_spider()
    assert raised.value.reason.startswith("cannot open the archive")
    assert "does not exist" in raised.value.reason


def test_storage_pipeline_stops_the_crawl_when_the_archive_stays_locked(tmp_path, sqlite_template):
    import sqlite3

    from crawler.exceptions import StorageUnavailable

    database_url = sqlite_template.clone(tmp_path)
    settings = {"ARCHIVE_DATABASE_URL": database_url, "ARCHIVE_SQLITE_BUSY_TIMEOUT": 0.2}
    crawler = get_crawler(NewsSpider, settings_dict=settings)
    crawler.spider = crawler._create_spider(start_urls=f"{BASE_URL}/")
    pipeline = StoragePipeline.from_crawler(crawler)
    pipeline.open_spider()
    item = through_extraction_and_normalization(page(f"/news/{ARTICLES[0].slug}.html"))
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StorageUnavailable, match="database is locked"):
        store(pipeline, item)
    assert pipeline.stopping
    other.execute("ROLLBACK")
    other.close()
    store(pipeline, item)  # once the other writer is gone, the page is stored
    with session_scope(pipeline.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 1
    pipeline.engine.dispose()


def test_a_body_compressed_by_the_analysis_worker_is_stored_as_received(storage_pipeline):
    """The worker that analysed a page compressed its raw body; the archive keeps exactly the
    bytes that came over the wire, with their size and SHA-256."""
    pipeline, _ = storage_pipeline
    received = page(f"/news/{ARTICLES[0].slug}.html")
    analysis = analyze_page(
        AnalysisRequest(text=received.text, url=received.url, fetched_at=FETCHED_AT,
                        min_text_chars=200, body=received.body)
    )  # fmt: skip
    assert analysis.stored_body is not None
    item = through_extraction_and_normalization(replace(received, analysis=analysis))
    assert item.fetch.stored_body == analysis.stored_body
    store(pipeline, item)
    with session_scope(pipeline.sessions) as session:
        fetch = session.scalars(select(Fetch)).one()
        assert fetch_body(fetch) == received.body
        assert fetch.body_size == len(received.body)
        assert fetch.body_sha256 == hashlib.sha256(received.body).hexdigest()


def store_together(pipeline, items):
    """Hand the pipeline several pages at once, as concurrent responses do in a crawl."""

    async def all_of_them():
        return await asyncio.gather(
            *(pipeline.process_item(item) for item in items), return_exceptions=True
        )

    return asyncio.run(all_of_them())


def article_items(count: int):
    return [
        through_extraction_and_normalization(page(f"/news/{article.slug}.html"))
        for article in ARTICLES[:count]
    ]


def test_pages_that_arrive_together_are_written_off_the_reactor_in_one_transaction(
    storage_pipeline,
):
    pipeline, crawler = storage_pipeline
    commits, writing_threads = [], set()
    event.listen(pipeline.engine, "commit", lambda connection: commits.append(1))
    event.listen(
        pipeline.engine,
        "before_cursor_execute",
        lambda *args: writing_threads.add(threading.current_thread()),
    )
    items = article_items(4)
    results = store_together(pipeline, items)
    assert results == items  # each returned once stored
    assert len(commits) == 1
    assert threading.main_thread() not in writing_threads
    with session_scope(pipeline.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 4
    assert crawler.stats.get_value("archive/articles_new") == 4


def test_a_page_that_cannot_be_written_fails_alone_and_its_batch_is_stored(storage_pipeline):
    pipeline, crawler = storage_pipeline
    good = article_items(3)
    bad = replace(good[1], fetch=replace(good[1].fetch, url=None))  # fetches.url is NOT NULL
    results = store_together(pipeline, [good[0], bad, good[2]])
    assert results[0] is good[0]
    assert results[2] is good[2]
    assert isinstance(results[1], IntegrityError)
    assert not pipeline.stopping  # one bad page does not stop the crawl
    with session_scope(pipeline.sessions) as session:
        stored = set(session.scalars(select(Article.url)))
        assert stored == {good[0].article.url, good[2].article.url}
        assert session.scalar(select(func.count()).select_from(Fetch)) == 2
    assert crawler.stats.get_value("archive/articles_new") == 2


def test_the_writer_caps_a_transaction_at_the_batch_size(database_url):
    settings = {"ARCHIVE_DATABASE_URL": database_url, "ARCHIVE_WRITE_BATCH": 2}
    crawler = get_crawler(NewsSpider, settings_dict=settings)
    crawler.spider = crawler._create_spider(start_urls=f"{BASE_URL}/")
    pipeline = StoragePipeline.from_crawler(crawler)
    pipeline.open_spider()
    commits = []
    event.listen(pipeline.engine, "commit", lambda connection: commits.append(1))
    items = article_items(5)
    assert store_together(pipeline, items) == items
    assert len(commits) == 3  # 2 + 2 + 1 pages
    pipeline.engine.dispose()


def counted_pipeline(database_url, **settings):
    crawler = get_crawler(
        NewsSpider, settings_dict={"ARCHIVE_DATABASE_URL": database_url, **settings}
    )
    crawler.spider = crawler._create_spider(start_urls=f"{BASE_URL}/")
    pipeline = StoragePipeline.from_crawler(crawler)
    pipeline.open_spider()
    commits: list[int] = []
    event.listen(pipeline.engine, "commit", lambda connection: commits.append(1))
    return pipeline, commits


def test_scrapy_takes_pages_while_a_batch_is_written_and_the_next_fills():
    """A page stays in Scrapy's scraper, counted by its size, until its batch is committed.
    With the project's settings the scraper still takes pages (Scrapy does not back out of
    fetching) while a whole batch is being written, the next one is filling and three workers
    each hold a page with four more queued for them, at 100 KB a page; with Scrapy's 5 MB it
    backed out, and the workers waited for pages while PostgreSQL committed."""
    settings = get_project_settings()
    slot = Slot(settings.getint("SCRAPER_SLOT_MAX_ACTIVE_SIZE"))
    for number in range(2 * settings.getint("ARCHIVE_WRITE_BATCH") + 3 + 4):
        url = f"{BASE_URL}/news/{number}.html"
        slot.add_response_request(HtmlResponse(url, body=b"x" * 100_000), Request(url))
    assert not slot.needs_backout()


def test_pages_arriving_one_by_one_are_written_together(database_url):
    """The writer lingers for a batch: pages that arrive one at a time, as a crawl's responses
    do, share one transaction, written as soon as the batch is whole (not after the linger)."""
    pipeline, commits = counted_pipeline(
        database_url, ARCHIVE_WRITE_BATCH=3, ARCHIVE_WRITE_LINGER=600
    )
    items = article_items(3)

    async def one_by_one():
        stored = []
        for item in items:
            stored.append(asyncio.ensure_future(pipeline.process_item(item)))
            await asyncio.sleep(0)  # the next response comes in a later turn of the loop
        return await asyncio.wait_for(asyncio.gather(*stored), timeout=60)

    assert asyncio.run(one_by_one()) == items
    assert len(commits) == 1
    pipeline.engine.dispose()


def test_a_lone_page_is_written_once_the_linger_is_over(database_url):
    pipeline, commits = counted_pipeline(database_url, ARCHIVE_WRITE_LINGER=0.05)
    items = article_items(1)
    assert store_together(pipeline, items) == items
    assert len(commits) == 1
    with session_scope(pipeline.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 1
    pipeline.engine.dispose()


def test_a_large_sites_articles_are_counted_again_only_once_a_hundredth_is_new(
    database_url, monkeypatch
):
    """Relearning a site's boilerplate needs its number of articles; counting them reads the
    site's whole index, so a crawl counts once and adds the articles it stores, counting again
    once those are a hundredth of the site. The number given to relearning stays exact."""
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        site_id = upsert_site(session, "news.example", seen_at=FETCHED_AT)
        for number in range(1000):  # a site of a thousand articles already archived
            upsert_article(session, article_record(f"old-{number}"), site_id=site_id)
    engine.dispose()
    pipeline, _ = counted_pipeline(database_url, ARCHIVE_LEARN_EVERY=1)
    counts, given = [], []
    event.listen(
        pipeline.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *_: (
            counts.append(1)
            if statement.startswith("SELECT count(*)") and "FROM articles" in statement
            else None
        ),
    )

    def relearn(session, site_id, settings, **options):
        exact = session.scalar(select(func.count()).where(Article.site_id == site_id))
        given.append((options["article_count"], exact))
        return relearn_site(session, site_id, settings, **options)

    monkeypatch.setattr("crawler.pipelines.relearn_site", relearn)
    item = article_items(1)[0]
    for number in range(60):
        url = f"{BASE_URL}/new-{number}"
        pipeline.store_batch([replace(item, article=replace(item.article, canonical_url=url))])
    assert len(given) == 60
    assert all(count == exact for count, exact in given)
    assert given[-1] == (1060, 1060)
    # The test's own 60 counts, and the crawl's: at the 1st, 12th, 23rd, 34th, 45th, 56th.
    assert len(counts) == 60 + 6
    pipeline.engine.dispose()


def test_a_batch_of_listings_and_articles_gives_each_page_its_outcome_and_fetch(database_url):
    """One transaction of mixed pages: a listing (no article), new articles, and one article's
    page twice; each page is reported at its place, and each article points to its own fetch."""
    pipeline, commits = counted_pipeline(database_url)
    listing = through_extraction_and_normalization(page("/", kind=LISTING))
    first, second, third = article_items(3)
    again = replace(
        second, fetch=replace(second.fetch, fetched_at=datetime(2026, 11, 26, tzinfo=UTC))
    )
    outcomes = pipeline.store_batch([first, listing, second, again, third])
    assert outcomes == ["new", None, "new", "unchanged", "new"]
    assert len(commits) == 1
    with session_scope(pipeline.sessions) as session:
        fetches = {fetch.id: fetch for fetch in session.scalars(select(Fetch))}
        assert sorted(fetch.page_kind for fetch in fetches.values()) == [
            ARTICLE, ARTICLE, ARTICLE, ARTICLE, LISTING
        ]  # fmt: skip
        articles = session.scalars(select(Article)).all()
        assert len(articles) == 3
        for article in articles:
            assert article.fetch_id is not None
            assert fetches[article.fetch_id].url == article.url
    pipeline.engine.dispose()


@pytest.mark.postgresql
def test_a_page_another_crawler_archives_meanwhile_is_stored_as_a_known_article(
    postgresql_template,
):
    """Two crawlers sharing a PostgreSQL archive fetch the same new article: the other one
    commits it between this crawler's look-up of the URL and its write. The page is written
    again as a known article (not lost to the unique constraints of its version and blocks),
    and the archive holds the article once, with one version."""
    item = article_items(1)[0]
    with postgresql_template.clone() as url:
        other_engine = make_engine(url)
        other = make_session_factory(other_engine)
        with session_scope(other) as session:  # the site, known to both crawlers
            upsert_site(session, item.host, seen_at=FETCHED_AT)
        pipeline, _ = counted_pipeline(url)
        meanwhile: list[str] = []

        def other_crawler_commits(conn, cursor, statement, *args):
            if statement.startswith("SELECT articles.canonical_url") and not meanwhile:
                meanwhile.append(statement)
                with session_scope(other) as session:
                    site_id = upsert_site(session, item.host, seen_at=FETCHED_AT)
                    store_article(session, item.article, site_id=site_id, fetch_id=None)

        event.listen(pipeline.engine, "after_cursor_execute", other_crawler_commits)
        try:
            assert store(pipeline, item) is item
            assert meanwhile
            with session_scope(pipeline.sessions) as session:
                assert session.scalar(select(func.count()).select_from(Article)) == 1
                assert session.scalar(select(func.count()).select_from(ArticleVersion)) == 1
                assert session.scalar(select(func.count()).select_from(Fetch)) == 1
        finally:
            pipeline.engine.dispose()
            other_engine.dispose()
