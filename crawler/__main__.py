"""`python -m crawler` runs the `newsarchive` command."""

from __future__ import annotations

from crawler.cli import main

main()
