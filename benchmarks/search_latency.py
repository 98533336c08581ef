"""Search latency on a large generated archive, on SQLite and PostgreSQL.

    python benchmarks/search_latency.py [--articles 1000000] [--postgresql URL] [--queries 200]

Fills a new archive (the real schema, migrations, triggers and indexes) with generated articles
of 150 to 900 words drawn from a 5,000-word vocabulary with a Zipf-like distribution (so some
words are in most articles and most are rare, as in real text), 50 sites, ten years of dates;
then times `newsarchive search`'s query function (first page of 20 results, snippets included)
for random one-, two-word and phrase queries, and reports p50, p95 and max latency, and bytes
stored per article. A baseline in the same run: the same queries as a plain `LIKE '%word%'`
scan of the articles table, on a sample, to show what the full-text index buys.

PostgreSQL: give the URL of an empty database you can drop tables in (it is migrated first).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from storage.database import make_engine, make_session_factory, session_scope  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Article, Site  # noqa: E402
from storage.queries import ArticleFilter  # noqa: E402
from storage.search import search_articles  # noqa: E402

VOCABULARY = 5000
BATCH = 5000


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(words)


def fill(database_url: str, articles: int, seed: int = 1) -> float:
    """Insert `articles` generated articles; return the seconds it took."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    # Zipf-like; cumulative once (random.choices would add up 5,000 weights at every call).
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    engine = make_engine(database_url)
    started = time.perf_counter()
    with session_scope(make_session_factory(engine)) as session:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        session.execute(
            insert(Site),
            [{"host": f"site{n}.example", "first_seen_at": now} for n in range(50)],
        )
        site_ids = list(session.scalars(select(Site.id)))
    for first in range(0, articles, BATCH):
        rows = []
        for number in range(first, min(first + BATCH, articles)):
            body_words = rng.choices(words, cum_weights=cumulative, k=rng.randint(150, 900))
            paragraphs = [" ".join(body_words[i : i + 60]) for i in range(0, len(body_words), 60)]
            published = now - timedelta(minutes=rng.randint(0, 60 * 24 * 3650))
            rows.append({
                "site_id": rng.choice(site_ids),
                "canonical_url": f"https://site.example/a/{number}",
                "url": f"https://site.example/a/{number}",
                "title": " ".join(rng.choices(words, cum_weights=cumulative, k=8)).capitalize(),
                "authors": [], "tags": [], "date_candidates": [],
                "published_at": published, "body": "\n\n".join(paragraphs), "raw_body": "",
                "content_hash": f"{number:064x}", "extractor": "benchmark",
                "first_seen_at": published, "last_seen_at": published,
            })  # fmt: skip
        with session_scope(make_session_factory(engine)) as session:
            session.execute(insert(Article), rows)
        print(f"\r  {min(first + BATCH, articles):>9,} articles", end="", file=sys.stderr)
    print(file=sys.stderr)
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load (the planner needs word frequencies);
        # servers tuned for tests often run without it.
        with engine.connect() as connection:
            connection.execute(text("ANALYZE articles"))
            connection.commit()
    engine.dispose()
    return time.perf_counter() - started


def queries(count: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    words = vocabulary(random.Random(1))
    made = []
    for number in range(count):
        # Words from the whole range of frequencies: common (thousands of hits) to rare.
        picked = [words[min(int(rng.paretovariate(0.8)), len(words) - 1)] for _ in range(2)]
        made.append([picked[0], " ".join(picked), f'"{picked[0]} {picked[1]}"'][number % 3])
    return made


def time_searches(database_url: str, searches: list[str]) -> list[float]:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    timings = []
    with session_scope(sessions) as session:
        search_articles(session, searches[0], ArticleFilter())  # warm the cache
        for query in searches:
            started = time.perf_counter()
            search_articles(session, query, ArticleFilter(), limit=20)
            timings.append(time.perf_counter() - started)
    engine.dispose()
    return timings


def time_like_scans(database_url: str, searches: list[str]) -> list[float]:
    engine = make_engine(database_url)
    timings = []
    with engine.connect() as connection:
        for query in searches:
            word = query.strip('"').split()[0]
            started = time.perf_counter()
            connection.execute(
                select(Article.id).where(Article.body.like(f"%{word}%")).limit(20)
            ).all()
            timings.append(time.perf_counter() - started)
    engine.dispose()
    return timings


def stored_bytes(database_url: str, path: Path | None) -> int:
    if path is not None:
        return sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))
    engine = make_engine(database_url)
    with engine.connect() as connection:
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return int(size or 0)


def report(name: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (f"{name:42} p50 {1000 * statistics.median(ordered):8.1f} ms   "
            f"p95 {1000 * p95:8.1f} ms   max {1000 * ordered[-1]:8.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--postgresql", metavar="URL")
    parser.add_argument("--sqlite", metavar="PATH", help="keep the SQLite archive here")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    args = parser.parse_args()
    searches = queries(args.queries)
    print(f"machine: {socket.gethostname()}, {os.cpu_count()} cores; {args.articles:,} articles, "
          f"{len(searches)} queries")  # fmt: skip
    targets: list[tuple[str, str, Path | None]] = []
    folder = tempfile.mkdtemp()
    path = Path(args.sqlite) if args.sqlite else Path(folder) / "search.db"
    if not args.no_sqlite:
        targets.append(("SQLite", f"sqlite:///{path}", path))
    if args.postgresql:
        targets.append(("PostgreSQL", args.postgresql, None))
    for name, url, file in targets:
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as connection:
            present = connection.execute(select(func.count()).select_from(Article)).scalar()
        engine.dispose()
        if not present:
            seconds = fill(url, args.articles)
            print(f"{name}: filled in {seconds:.0f} s")
        print(report(f"{name}: search, first page of 20", time_searches(url, searches)))
        print(
            report(f"{name}: LIKE scan, first 20 (baseline)", time_like_scans(url, searches[:20]))
        )
        print(f"{name}: {stored_bytes(url, file) / args.articles:,.0f} bytes stored per article")


if __name__ == "__main__":
    main()
