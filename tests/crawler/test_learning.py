"""Site notices learned across pages: counts, thresholds, order independence, first crawl."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from crawler.learning import (
    LearningSettings,
    clean_body,
    is_notice_text,
    learned_kind,
    relearn_site,
    store_article,
)
from crawler.normalization import banner_fingerprint, fingerprint
from storage.database import session_scope
from storage.models import Article, Banner
from storage.queries import article_banners
from storage.writes import upsert_site
from tests.support.records import article_record

WORDS = [
    "harbour",
    "council",
    "ferry",
    "storm",
    "library",
    "regatta",
    "lighthouse",
    "school",
    "market",
    "fishing",
    "pier",
    "channel",
    "budget",
    "island",
    "festival",
    "museum",
    "captain",
    "beach",
    "survey",
    "quota",
    "tourism",
    "railway",
    "station",
    "bridge",
    "weather",
    "season",
    "tide",
    "crew",
    "dock",
    "cargo",
    "trade",
    "mayor",
    "vote",
    "plan",
    "report",
    "street",
    "square",
    "garden",
]
NOTICE_EN = (
    "Readers' notice: the print edition will not appear on Monday; the digital edition will."
)
NOTICE_FR = (
    "Avis aux lecteurs : le journal ne paraîtra pas lundi, l'édition numérique sera en ligne."
)
PROMO = "Get our morning newsletter: the day's news in your inbox at seven, every weekday."
TICKER = "Breaking: ferry timetable changes from Monday, see the port authority's page for details."
NAV = "Read more"
QUOTE = "We will not give up the harbour, the mayor said to a crowd of several hundred people."


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 20))).capitalize() + "."


def story(index: int, *extras: tuple[int, str]) -> str:
    """A unique four-paragraph body, with extra paragraphs inserted at given positions."""
    rng = random.Random(index)
    paragraphs = [" ".join(sentence(rng) for _ in range(3)) for _ in range(4)]
    for position, text in extras:
        paragraphs.insert(position, text)
    return "\n\n".join(paragraphs)


def store(sessions, index: int, body: str, host: str = "news.example") -> None:
    record = article_record(
        f"story-{index}", body=body, host=host, canonical_url=f"https://{host}/story-{index}",
        content_hash=fingerprint(body), banners=(),
        fetched_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=index),
    )  # fmt: skip
    with session_scope(sessions) as session:
        site_id = upsert_site(session, host, seen_at=record.fetched_at)
        store_article(session, record, site_id=site_id, fetch_id=None)


def relearn(sessions, host: str = "news.example", **settings) -> int:
    with session_scope(sessions) as session:
        site_id = upsert_site(session, host, seen_at=datetime(2026, 11, 1, tzinfo=UTC))
        return relearn_site(session, site_id, LearningSettings(**settings))


def bodies(sessions) -> dict[str, str]:
    with session_scope(sessions) as session:
        return {a.canonical_url: a.body for a in session.scalars(select(Article))}


def test_notice_inside_the_article_text_is_learned_within_the_first_crawl(sessions):
    pages = {i: story(i, (1, NOTICE_EN), (3, PROMO)) for i in range(8)}
    for index, body in pages.items():
        store(sessions, index, body)
    relearn(sessions)
    for url, body in bodies(sessions).items():
        assert NOTICE_EN not in body, url
        assert PROMO not in body, url
        assert len(body.split("\n\n")) == 4
    with session_scope(sessions) as session:
        learned = {b.text: b for b in session.scalars(select(Banner))}
        assert learned[NOTICE_EN].kind == "notice"
        assert learned[PROMO].kind == "newsletter"
        assert learned[NOTICE_EN].page_count == 8
        article = session.scalars(select(Article)).first()
        assert article is not None
        assert {b.text for b in article_banners(article)} == {NOTICE_EN, PROMO}


def test_later_pages_are_clean_when_stored(sessions):
    for index in range(5):
        store(sessions, index, story(index, (0, TICKER)))
    relearn(sessions)
    store(sessions, 99, story(99, (2, TICKER)))
    assert TICKER not in bodies(sessions)["https://news.example/story-99"]


def test_learning_in_french_and_german_works_the_same(sessions):
    german = (
        "Hinweis für unsere Leser: Die gedruckte Ausgabe erscheint am Montag nicht, online schon."
    )
    for index in range(6):
        store(sessions, index, story(index, (1, NOTICE_FR)), host="journal.example")
        store(sessions, 100 + index, story(100 + index, (2, german)), host="zeitung.example")
    relearn(sessions, "journal.example")
    relearn(sessions, "zeitung.example")
    assert not any(NOTICE_FR in b or german in b for b in bodies(sessions).values())


def test_navigation_labels_are_dropped_not_kept_as_banners(sessions):
    for index in range(5):
        store(sessions, index, story(index, (4, NAV)))
    relearn(sessions)
    assert all(NAV not in body.split("\n\n") for body in bodies(sessions).values())
    with session_scope(sessions) as session:
        assert session.scalars(select(Banner)).all() == []


def test_a_sentence_a_few_articles_quote_is_not_removed_on_a_large_site(sessions):
    for index in range(40):
        extras = [(2, QUOTE)] if index < 3 else []
        store(sessions, index, story(index, *extras))
    relearn(sessions)  # 3 of 40 articles: below max(3, 10% of 40)
    assert sum(QUOTE in body for body in bodies(sessions).values()) == 3


def test_block_that_falls_below_the_threshold_comes_back(sessions):
    for index in range(3):
        store(sessions, index, story(index, (2, QUOTE)))
    relearn(sessions)
    assert not any(QUOTE in body for body in bodies(sessions).values())
    for index in range(3, 40):
        store(sessions, index, story(index))
    relearn(sessions)
    assert sum(QUOTE in body for body in bodies(sessions).values()) == 3


def test_learning_is_independent_of_page_order(tmp_path, sqlite_template):
    from storage.database import make_engine, make_session_factory

    pages = [
        story(i, (1, NOTICE_EN)) if i % 2 else story(i, (0, TICKER), (2, QUOTE)) for i in range(30)
    ]
    results = []
    for attempt, order in enumerate(
        [list(range(30)), list(reversed(range(30))), random.Random(7).sample(range(30), 30)]
    ):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        engine = make_engine(sqlite_template.clone(folder), immediate_transactions=True)
        factory = make_session_factory(engine)
        for count, index in enumerate(order, start=1):
            store(factory, index, pages[index])
            if count % 7 == 0:
                relearn(factory)
        relearn(factory)
        results.append(bodies(factory))
        engine.dispose()
    assert results[0] == results[1] == results[2]
    assert all(NOTICE_EN not in body for body in results[0].values())


def test_relearning_never_reads_all_of_a_sites_blocks(tmp_path, sqlite_template):
    """A site has a block for each distinct paragraph of its articles and a crawl relearns it
    every few articles: each read of its blocks must be an index lookup of those that may
    change (a pass over all of them made a crawl's cost grow with the square of its size)."""
    from storage.database import make_engine, make_session_factory

    engine = make_engine(sqlite_template.clone(tmp_path), immediate_transactions=True)
    factory = make_session_factory(engine)
    for index in range(3):
        store(factory, index, story(index, (1, NOTICE_EN)))
    relearn(factory)  # the notice becomes boilerplate: both kinds of block exist
    statements: list[tuple[str, Any]] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    for index in range(3, 40):  # the notice falls below the threshold again
        store(factory, index, story(index))
    statements.clear()
    assert relearn(factory) == 3  # the first 3 articles get the notice back
    event.remove(engine, "before_cursor_execute", record)
    with engine.connect() as connection:
        plans = [
            row[-1]
            for statement, parameters in statements
            if statement.lstrip().upper().startswith("SELECT") and "site_blocks" in statement
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            if "site_blocks" in row[-1]
        ]
    engine.dispose()
    assert plans
    for plan in plans:
        assert not plan.startswith("SCAN site_blocks"), plan
        assert "sqlite_autoindex_site_blocks_1 (site_id=?)" not in plan, plan
        assert not plan.endswith("ix_site_blocks_page_count (site_id=?)"), plan
        assert "page_count<?" not in plan, plan  # the blocks below the threshold: nearly all


def test_a_page_stored_after_relearning_in_the_same_transaction_is_cleaned(sessions):
    """The crawl writes a batch of a site's pages in one transaction and reads the site's
    boilerplate once for it: relearning within the batch must not leave the rest stale."""
    with session_scope(sessions) as session:
        site_id = upsert_site(session, "news.example", seen_at=datetime(2026, 11, 1, tzinfo=UTC))
        for index in range(4):
            body = story(index, (1, NOTICE_EN))
            record = article_record(
                f"story-{index}", body=body, host="news.example",
                canonical_url=f"https://news.example/story-{index}",
                content_hash=fingerprint(body), banners=(),
                fetched_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=index),
            )  # fmt: skip
            store_article(session, record, site_id=site_id, fetch_id=None)
            if index == 2:
                assert relearn_site(session, site_id, LearningSettings()) == 3
    assert all(NOTICE_EN not in body for body in bodies(sessions).values())


def test_recrawl_counts_nothing_twice(sessions):
    for _ in range(3):
        store(sessions, 1, story(1, (1, NOTICE_EN)))
    store(sessions, 2, story(2, (1, NOTICE_EN)))
    relearn(sessions)
    assert all(NOTICE_EN in body for body in bodies(sessions).values())  # 2 pages, not 4


@pytest.mark.parametrize(
    ("text", "is_notice"),
    [(NOTICE_EN, True), (PROMO, True), ("Read more", False), ("Share this article", False),
     ("Home News World", False)],
)  # fmt: skip
def test_is_notice_text(text, is_notice):
    assert is_notice_text(text) is is_notice


def test_learned_kind():
    assert learned_kind(TICKER) == "ticker"
    assert learned_kind("We use cookies to improve your experience on this site.") == "cookie"
    assert learned_kind(NOTICE_FR) == "notice"


def test_clean_body_keeps_the_order_of_what_remains():
    body, notices = clean_body("A one.\n\nB two.\n\nC three.", {banner_fingerprint("B two.")})
    assert body == "A one.\n\nC three."
    assert notices == ()


def test_learning_settings_refuse_nonsense():
    with pytest.raises(ValueError, match="ARCHIVE_LEARN_MIN_PAGES"):
        LearningSettings(min_pages=1)
    with pytest.raises(ValueError, match="ARCHIVE_LEARN_MIN_SHARE"):
        LearningSettings(min_share=0)


SITE_TEXTS = {
    "fr": (
        "Avis aux lecteurs : le journal ne paraîtra pas lundi, l'édition numérique sera en ligne.",
        "Abonnez-vous à notre lettre du matin : l'essentiel de l'actualité chaque jour à 7 h.",
    ),
    "de": (
        "Eilmeldung: Die Fähre fährt ab Montag nach neuem Fahrplan, Einzelheiten beim Hafenamt.",
        "Jetzt den Newsletter abonnieren: die wichtigsten Nachrichten jeden Morgen um sieben.",
    ),
}


def site_page(language: str, index: int) -> tuple[str, list[str], str, str]:
    """A page of a small French or German news site: the notice sits inside the article
    container under a class that says nothing, a promo between two paragraphs."""
    rng = random.Random(f"{language}-{index}")
    paragraphs = [" ".join(sentence(rng) for _ in range(3)) for _ in range(4)]
    notice, promo = SITE_TEXTS[language]
    if language == "fr":
        head = (
            f"<h1>Article numéro {index}</h1><p class='chapo'>Publié le {index + 1:02d}/05/2014</p>"
        )
    else:
        head = f"<h1>Artikel Nummer {index}</h1><span class='meta'>{index + 1:02d}.05.2014</span>"
    body = (
        f"<p>{paragraphs[0]}</p><div class='x1'><p>{notice}</p></div><p>{paragraphs[1]}</p>"
        f"<p>{paragraphs[2]}</p><p class='c'>{promo}</p><p>{paragraphs[3]}</p>"
    )
    return (
        (
            f"<html lang='{language}'><head><title>Article {index}</title></head><body>"
            f"<div class='page'><div class='article-wrap'>{head}<div class='txt'>{body}</div></div>"
            "</div></body></html>"
        ),
        paragraphs,
        notice,
        promo,
    )


@pytest.mark.parametrize("language", ["fr", "de"])
def test_pages_of_a_site_in_french_or_german_come_out_clean(sessions, language):
    from crawler.extraction import extract_article_or_reason
    from crawler.items import ARTICLE, PageItem
    from crawler.normalization import normalize_article

    host = f"{language}.example"
    expected: dict[str, list[str]] = {}
    for index in range(6):
        page, paragraphs, notice, promo = site_page(language, index)
        url = f"https://{host}/article-{index}"
        item = PageItem(
            url=url, final_url=url, status=200, fetched_at=datetime(2026, 11, 1, tzinfo=UTC),
            page_kind=ARTICLE, text=page,
        )  # fmt: skip
        extracted, reason = extract_article_or_reason(item)
        assert extracted is not None, reason
        with session_scope(sessions) as session:
            site_id = upsert_site(session, host, seen_at=item.fetched_at)
            store_article(session, normalize_article(extracted), site_id=site_id, fetch_id=None)
        expected[url] = paragraphs
    relearn(sessions, host)
    for url, body in bodies(sessions).items():
        assert body.split("\n\n") == expected[url], url
    with session_scope(sessions) as session:
        kinds = {b.text: b.kind for b in session.scalars(select(Banner))}
    assert kinds[notice] in {"notice", "ticker"}
    assert kinds[promo] == "newsletter"
