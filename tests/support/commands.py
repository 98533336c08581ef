"""Run the `newsarchive` command in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from crawler.runner import LOCAL_SITE_SETTINGS

TIMEOUT_SECONDS = 240
LOCAL_SITE_OPTIONS = [
    item for name, value in LOCAL_SITE_SETTINGS.items() for item in ("-s", f"{name}={value}")
]


def newsarchive(
    *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `newsarchive ARGS` and return the finished process (output captured as text)."""
    result = subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        capture_output=True, text=True, timeout=TIMEOUT_SECONDS, cwd=cwd, check=False,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(
            f"newsarchive {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
        )
    return result


def crawl_local_site(
    base_url: str, database_url: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """Crawl the local test site from its home page, without politeness delays."""
    return newsarchive("crawl", f"{base_url}/", "--db", database_url, *LOCAL_SITE_OPTIONS, *extra)
