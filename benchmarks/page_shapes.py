"""How the generated site's article pages compare with real news pages, measure by measure.

    python benchmarks/page_shapes.py [--data DIR] [--pages 181]

Reads the real article pages of the article-extraction benchmark (DIR, by default
../shared/benchmarks/article-extraction) and as many article pages of the generated site
(tests/support/news_farm.py), and prints, for each measure, the median, 10th and 90th
percentiles of both: the page's size, its elements, containers (div, span, section), depth,
attribute and script bytes, text outside scripts, links, paragraphs, and the inline elements of
its long paragraphs; then, as outcomes rather than targets, the time lxml takes to parse a page
and plain trafilatura to extract it, on one core, in this process.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from lxml import html  # noqa: E402

from tests.support.news_farm import NewsFarm  # noqa: E402

CODE = ("script", "style")
MIN_LONG_PARAGRAPH_CHARS = 100


def shape(page: bytes) -> dict[str, float]:
    """The measures of one page."""
    tree = html.fromstring(page)
    elements = [e for e in tree.iter() if isinstance(e.tag, str)]
    long_paragraphs = [
        p for p in tree.iter("p") if len(p.text_content()) > MIN_LONG_PARAGRAPH_CHARS
    ]
    return {
        "KB": len(page) / 1024,
        "elements": len(elements),
        "div, span, section": sum(1 for e in elements if e.tag in ("div", "span", "section")),
        "depth": max(sum(1 for _ in e.iterancestors()) for e in elements),
        "attribute KB": sum(len(k) + len(v) + 4 for e in elements for k, v in e.attrib.items())
        / 1024,
        "script KB": sum(len(e.text or "") for e in elements if e.tag in CODE) / 1024,
        "text KB": sum(len(e.text or "") + len(e.tail or "") for e in elements if e.tag not in CODE)
        / 1024,
        "links": sum(1 for e in elements if e.tag == "a"),
        "paragraphs": sum(1 for e in elements if e.tag == "p"),
        "inline a long paragraph": (
            sum(sum(1 for _ in p.iterdescendants()) for p in long_paragraphs) / len(long_paragraphs)
            if long_paragraphs
            else 0.0
        ),
        "parse ms": _timed(lambda: html.fromstring(page)),
        "plain trafilatura ms": _timed(lambda: trafilatura.extract(page)),
    }


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared/benchmarks/article-extraction"
    )
    parser.add_argument("--pages", type=int, default=181, help="generated article pages")
    args = parser.parse_args()
    files = sorted(args.data.glob("html/*.html.gz"))
    if not files:
        raise SystemExit(f"no html/*.html.gz pages in {args.data}")
    real = [gzip.decompress(file.read_bytes()) for file in files]
    farm = NewsFarm("http://news.example", args.pages)
    generated = [farm.render(path)[2] for path in farm.article_paths()[: args.pages]]
    trafilatura.extract(real[0])  # its imports and caches, outside the timings
    shapes = {
        "real": [shape(page) for page in real],
        "generated": [shape(page) for page in generated],
    }

    print(f"{len(real)} real pages from {args.data}, {len(generated)} generated article pages")
    print(f"{'measure':26} {'real: median':>13} {'p10':>8} {'p90':>8}   "
          f"{'generated: median':>18} {'p10':>8} {'p90':>8}")  # fmt: skip
    for measure in shapes["real"][0]:
        row = f"{measure:26}"
        for name, width in (("real", 13), ("generated", 18)):
            values = sorted(s[measure] for s in shapes[name])
            low, high = values[len(values) // 10], values[9 * len(values) // 10]
            row += f" {statistics.median(values):{width}.1f} {low:8.1f} {high:8.1f}  "
        print(row.rstrip())


if __name__ == "__main__":
    main()
