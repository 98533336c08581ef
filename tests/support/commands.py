"""Run the `newsarchive` command in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
import threading
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


class Crawl:
    """A `newsarchive crawl` running in the background, its log read as it comes (a full pipe
    would stall it), so that a test can wait for a line of it."""

    def __init__(self, base_url: str, database_url: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", f"{base_url}/", "--db", database_url,
             "--no-progress", *LOCAL_SITE_OPTIONS, *extra],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.logged = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.logged:
                self.lines.append(line)
                self.logged.notify_all()

    def wait_for_line(self, text: str) -> bool:
        with self.logged:
            return self.logged.wait_for(
                lambda: any(text in line for line in self.lines), TIMEOUT_SECONDS
            )

    def finish(self) -> tuple[int, str]:
        """Wait for the crawl to end (or kill it past TIMEOUT_SECONDS); return its exit status
        and its log."""
        try:
            code = self.process.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.reader.join(timeout=60)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code, "".join(self.lines)
