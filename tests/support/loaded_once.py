"""A module that remembers which process imported it (tests of what workers load themselves)."""

from __future__ import annotations

import os

IMPORTED_IN = os.getpid()


def imported_in_this_process() -> bool:
    """Tell whether the calling process imported this module itself, rather than inheriting it
    from the process it was forked from."""
    return os.getpid() == IMPORTED_IN
