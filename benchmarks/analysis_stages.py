"""What a worker spends on one article page, stage by stage, against plain trafilatura, in one run.

    python benchmarks/analysis_stages.py [--articles 500] [--real-pages DIR] [--rounds 3]

Runs `crawler.analysis.analyze_page` (what a crawl's worker process runs for every HTML page:
one parse, classification, the article's extraction, notices, dates, metadata, the raw body
compressed) over article pages of the generated site (tests/support/news_farm.py, the pages
`crawl_throughput.py` crawls) and, with --real-pages, over the real pages of
../shared/benchmarks/article-extraction, one core, pages decoded before the clock starts (as
Scrapy decodes them in the crawl process). Each stage is timed where the code calls it (the
stage's function wrapped for the run), so the figures are those of the crawl's own code path.

Baseline in the same run, on the same pages: plain trafilatura (`trafilatura.extract` with
comments off, the crawl throughput benchmark's baseline (a)), timed before and after the
stages and averaged. The ratios are what the stages cost against it; what a crawl adds in the
crawl process (fetching, passing pages to the workers, storage) is in crawl_throughput.py and
storage_writes.py.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from lxml import html  # noqa: E402
from w3lib.encoding import html_to_unicode  # noqa: E402

from crawler import analysis, extraction, metadata  # noqa: E402
from crawler.items import AnalysisRequest  # noqa: E402
from storage import records  # noqa: E402
from tests.support.news_farm import NewsFarm  # noqa: E402

# (module, attribute, label): where analyze_page calls each stage, in the order it runs them.
STAGES = [
    (analysis, "parse_html", "parse (lxml, trafilatura's loader)"),
    (analysis, "classify_page", "classification"),
    (metadata.MarkedElements, "of", "marked elements (class, id, role)"),
    (extraction, "find_banners", "notices (banners)"),
    (extraction, "published_candidates", "publication date candidates"),
    (extraction, "modified_candidates", "modification date candidates"),
    (extraction, "page_language", "language"),
    (extraction, "declared_canonical_url", "canonical URL"),
    (extraction, "json_ld_article", "JSON-LD article"),
    (extraction, "breadcrumb_labels", "breadcrumb"),
    (extraction, "run_trafilatura", "trafilatura's pass (precision, fast)"),
    (extraction, "read_metadata", "title, authors, site name, tags"),
    (extraction, "repair_body", "body repairs (one article, split bodies)"),
    (extraction, "remove_banner_lines", "notice lines out of the body"),
    (extraction, "strip_leading_repeats", "headline and dateline lines out"),
    (extraction, "find_date", "htmldate (no structured date only)"),
    (analysis, "page_links", "links (listings only)"),
    (records.StoredBody, "of", "raw body compressed (Zstandard)"),
]


@contextmanager
def timed_stages(spent: Counter[str]) -> Iterator[None]:
    """Wrap every stage for the duration: each call adds its CPU time to `spent[label]`."""
    originals = []
    for owner, name, label in STAGES:
        original = owner.__dict__[name]  # a renamed stage fails here, not silently
        originals.append((owner, name, original))
        setattr(owner, name, _timed(original, label, spent))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _timed(original: Any, label: str, spent: Counter[str]) -> Any:
    function = original.__func__ if isinstance(original, classmethod) else original

    def stage(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return classmethod(stage) if isinstance(original, classmethod) else stage


# A page: its URL, its raw body, the encoding Scrapy reads it with and its text so decoded.
Page = tuple[str, bytes, str, str]


def generated_pages(articles: int) -> list[Page]:
    farm = NewsFarm("http://news.example", articles)
    return [
        (farm.base_url + path, body, "utf-8", body.decode())
        for path in farm.article_paths()
        for body in [farm.render(path)[2]]
    ]


def real_pages(folder: Path) -> list[Page]:
    pages = []
    for number, file in enumerate(sorted(folder.glob("html/*.html.gz"))):
        body = gzip.decompress(file.read_bytes())
        encoding, text = html_to_unicode(None, body)  # as Scrapy decodes a response
        pages.append((f"http://real.example/{number}.html", body, encoding, text))
    return pages


def requests(pages: list[Page]) -> list[AnalysisRequest]:
    """The pages as the spider sends them: the raw body and its encoding (the worker decodes)."""
    now = datetime.now(UTC)
    return [
        AnalysisRequest(url=url, fetched_at=now, min_text_chars=200, body=body, encoding=encoding)
        for url, body, encoding, _ in pages
    ]


def per_page(work: Callable[[], object], pages: int) -> float:
    """CPU milliseconds a page of `work` over `pages` pages."""
    started = time.process_time()
    work()
    return 1000 * (time.process_time() - started) / pages


def plain_trafilatura(pages: list[Page]) -> float:
    return per_page(
        lambda: [trafilatura.extract(text, include_comments=False) for *_, text in pages],
        len(pages),
    )


def measure(name: str, pages: list[Page], rounds: int) -> None:
    elements = sorted(len(html.fromstring(text).xpath("//*")) for *_, text in pages)
    size = sorted(len(body) for _, body, *_ in pages)
    print(f"{name}: {len(pages)} article pages, median {size[len(size) // 2] / 1024:.0f} KB "
          f"and {elements[len(elements) // 2]} elements")  # fmt: skip
    work = requests(pages)
    for request in work[:20]:  # caches warm, as in a worker past its first pages
        analysis.analyze_page(request)
    baseline = [plain_trafilatura(pages)]
    spent: Counter[str] = Counter()
    totals = []
    with timed_stages(spent):
        for _ in range(rounds):
            totals.append(per_page(lambda: [analysis.analyze_page(r) for r in work], len(pages)))
    baseline.append(plain_trafilatura(pages))
    plain = sum(baseline) / len(baseline)
    total = sum(totals) / rounds
    print(f"  {'stage':44} {'CPU ms/page':>11} {'share':>6} {'x (a)':>6}")
    print(f"  {'(a) plain trafilatura, comments off':44} {plain:11.2f} {'':>6} {1:6.2f}"
          f"   ({baseline[0]:.2f} before, {baseline[1]:.2f} after)")  # fmt: skip
    print(f"  {'analyze_page, all stages':44} {total:11.2f} {1:6.0%} {total / plain:6.2f}"
          f"   (rounds: {', '.join(f'{t:.2f}' for t in totals)})")  # fmt: skip
    listed = 0.0
    for _, _, label in STAGES:
        cost = 1000 * spent[label] / (rounds * len(pages))
        listed += cost
        print(f"    {label:42} {cost:11.2f} {cost / total:6.1%} {cost / plain:6.2f}")
    rest = total - listed
    print(f"    {'the rest (the calls between the stages)':42} {rest:11.2f} {rest / total:6.1%} "
          f"{rest / plain:6.2f}")  # fmt: skip
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500,
                        help="generated article pages to analyse")  # fmt: skip
    parser.add_argument("--real-pages", metavar="DIR", type=Path,
                        help="also the real pages of this article-extraction folder")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="times the stages run over the pages")
    args = parser.parse_args()
    print(f"machine: {socket.gethostname()}, {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"trafilatura {trafilatura.__version__}; one core")  # fmt: skip
    print()
    measure("generated site", generated_pages(args.articles), args.rounds)
    if args.real_pages:
        measure("real pages", real_pages(args.real_pages), args.rounds)


if __name__ == "__main__":
    main()
