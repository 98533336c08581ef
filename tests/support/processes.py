"""Processes read from Linux's /proc: what a crawl started, and their CPU time and priority.
Shared by the worker tests and benchmarks/crawl_throughput.py."""

from __future__ import annotations

import os
from pathlib import Path


def children(pid: int) -> list[int]:
    """The processes `pid` started (any of its threads), still running or not yet reaped."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += map(int, (task / "children").read_text().split())
        except FileNotFoundError:  # the thread, or the process, has ended
            continue
    return found


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and the ones they started, and so on."""
    return [d for child in children(pid) for d in [child, *descendants(child)]]


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """The CPU seconds (user and system) process `pid` has used; FileNotFoundError if gone."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def niceness(pid: int) -> int:
    return int(_stat(pid)[16])
