"""The main module of a process that analyses a page in a worker, as `scrapy crawl` (a script)
or scrapyd (`python -m scrapyd.runner`) start a crawl: it imports something, and prints whether
its worker imported that again for itself (tests/crawler/test_workers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from tests.support import loaded_once  # noqa: E402


def main() -> None:
    from concurrent.futures import ProcessPoolExecutor

    from crawler.workers import worker_context

    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        sys.stdout.write(f"{pool.submit(loaded_once.imported_in_this_process).result()}\n")


if __name__ == "__main__":
    main()
