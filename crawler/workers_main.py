"""Loaded by the workers' fork server (crawler.workers): the script that started the crawl.

multiprocessing runs a process's main script again in every worker it starts, unless the
process its workers are forked from loaded it already. Asked to preload "__main__", the fork
server of Python 3.11 never does (it looks for the script under a name its caller does not
pass): crawler.workers names this module instead, with the script's path in
WORKERS_SCRIPT_VARIABLE, and it loads the script as multiprocessing would (as "__mp_main__").
"""

from __future__ import annotations

import os
from multiprocessing import spawn

from crawler.workers import WORKERS_SCRIPT_VARIABLE

# Only the fork server imports this module (crawler.workers never does): elsewhere the variable,
# inherited by a crawl's own subprocesses, would load another process's script.
if script := os.environ.get(WORKERS_SCRIPT_VARIABLE):
    spawn.import_main_path(script)
