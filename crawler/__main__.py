"""`python -m crawler` runs the `newsarchive` command."""

from __future__ import annotations

from crawler.cli import main

if __name__ == "__main__":  # not when a worker process imports it (crawler.workers)
    main()
