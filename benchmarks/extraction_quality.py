"""Score newsarchive's extraction against plain trafilatura on the article-extraction benchmark.

Usage: python benchmarks/extraction_quality.py [--data DIR] [--worst N]

DIR defaults to ../shared/benchmarks/article-extraction (181 real pages with ground truth).
The metric is the benchmark's own: text split into runs of Unicode word characters, overlapping
4-token shingles compared as multisets, precision and recall per page averaged over pages (a
page with an empty prediction counts toward recall but not precision), F1 of the two averages,
± one standard deviation from a bootstrap over pages. Both extractors get the same decoded HTML
and run on one core, in this process, in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

from crawler import fast_xpaths
from crawler.extraction import extract_article_or_reason
from crawler.items import ARTICLE, PageItem
from crawler.normalization import normalize_article

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "article-extraction"
WORD = re.compile(r"\w+")
BOOTSTRAP_ROUNDS = 500


@dataclass
class PageScore:
    page_id: str
    precision: float | None  # None for an empty prediction
    recall: float
    seconds: float

    @property
    def f1(self) -> float:
        p = self.precision or 0.0
        return 0.0 if p + self.recall == 0 else 2 * p * self.recall / (p + self.recall)


def shingles(text: str, size: int = 4) -> Counter[tuple[str, ...]]:
    tokens = WORD.findall(text)
    if len(tokens) < size:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def score_page(page_id: str, predicted: str, truth: str, seconds: float) -> PageScore:
    expected = shingles(truth)
    got = shingles(predicted)
    common = sum((expected & got).values())
    precision = common / sum(got.values()) if got else None
    recall = common / sum(expected.values()) if expected else 0.0
    return PageScore(page_id, precision, recall, seconds)


def summary(scores: list[PageScore]) -> dict[str, float]:
    def f1_of(sample: list[PageScore]) -> tuple[float, float, float]:
        precisions = [s.precision for s in sample if s.precision is not None]
        p = statistics.fmean(precisions) if precisions else 0.0
        r = statistics.fmean(s.recall for s in sample)
        return p, r, (0.0 if p + r == 0 else 2 * p * r / (p + r))

    p, r, f1 = f1_of(scores)
    rng = random.Random(0)
    boot = [f1_of(rng.choices(scores, k=len(scores)))[2] for _ in range(BOOTSTRAP_ROUNDS)]
    return {
        "precision": p,
        "recall": r,
        "f1": f1,
        "f1_std": statistics.pstdev(boot),
        "below_half": sum(1 for s in scores if s.f1 < 0.5),
        "empty": sum(1 for s in scores if s.precision is None),
        "ms_per_page": 1000 * statistics.fmean(s.seconds for s in scores),
    }


def plain_trafilatura(html: str, url: str) -> str:
    return trafilatura.extract(html, url=url, include_comments=False) or ""


def plain_trafilatura_precision(html: str, url: str) -> str:
    return trafilatura.extract(html, url=url, include_comments=False, favor_precision=True) or ""


def newsarchive(html: str, url: str) -> str:
    page = PageItem(
        url=url, final_url=url, status=200, fetched_at=datetime.now(UTC), page_kind=ARTICLE,
        text=html,
    )  # fmt: skip
    extracted, _ = extract_article_or_reason(page)
    return normalize_article(extracted).body if extracted else ""


def run(
    name: str, extractor: Callable[[str, str], str], pages: dict[str, tuple[str, str, str]]
) -> list[PageScore]:
    scores = []
    for page_id, (html, url, truth) in pages.items():
        started = time.process_time()
        predicted = extractor(html, url)
        scores.append(score_page(page_id, predicted, truth, time.process_time() - started))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages of ours")
    args = parser.parse_args()
    truth = json.loads((args.data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {
        page_id: (
            gzip.decompress((args.data / "html" / f"{page_id}.html.gz").read_bytes()).decode(
                "utf-8", errors="replace"
            ),
            entry["url"],
            entry["articleBody"],
        )
        for page_id, entry in sorted(truth.items())
    }
    extractors = {
        "trafilatura (plain, comments off)": plain_trafilatura,
        "trafilatura (favor_precision)": plain_trafilatura_precision,
        "newsarchive": newsarchive,
    }
    results = {}
    for name, extractor in extractors.items():
        # plain trafilatura evaluates its own XPath expressions; the crawl, crawler.fast_xpaths
        (fast_xpaths.install if extractor is newsarchive else fast_xpaths.uninstall)()
        results[name] = run(name, extractor, pages)
    baseline = summary(results["trafilatura (plain, comments off)"])
    print(f"{len(pages)} pages from {args.data}")
    print(f"{'extractor':<36} {'P':>6} {'R':>6} {'F1':>6} {'±':>6} {'<0.5':>5} {'empty':>5} "
          f"{'ms/page':>8} {'time ratio':>10}")  # fmt: skip
    for name, scores in results.items():
        s = summary(scores)
        print(
            f"{name:<36} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} "
            f"{s['f1_std']:6.3f} {s['below_half']:5d} {s['empty']:5d} {s['ms_per_page']:8.1f} "
            f"{s['ms_per_page'] / baseline['ms_per_page']:10.2f}"
        )
    if args.worst:
        print(f"\nworst {args.worst} pages of newsarchive (F1, P, R, id, url):")
        for s in sorted(results["newsarchive"], key=lambda s: s.f1)[: args.worst]:
            print(
                f"  {s.f1:.3f} {s.precision or 0:.3f} {s.recall:.3f} {s.page_id[:12]} "
                f"{pages[s.page_id][1]}"
            )


if __name__ == "__main__":
    main()
