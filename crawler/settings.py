"""Scrapy settings for newsarchive: polite defaults, and the ARCHIVE_* settings of the project.

The only module that reads the environment: every ARCHIVE_<NAME> setting can be set by the
environment variable NEWSARCHIVE_<NAME>; `-s NAME=VALUE` on the command line overrides both.
Each one is documented in docs/settings.md.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("newsarchive")
except PackageNotFoundError:  # running from a checkout that was not installed
    VERSION = "0.0.0"

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- the project's own settings (defaults; the environment may override them below) -------
ARCHIVE_DATABASE_URL = "sqlite:///archive.db"
ARCHIVE_MIN_TEXT_CHARS = 200
# Worker processes that parse and extract pages off the reactor (empty: one per core and one
# more; 0: in the reactor thread), and how long one page may take before it is given up.
ARCHIVE_EXTRACTION_PROCESSES = ""
ARCHIVE_EXTRACTION_TIMEOUT = 60.0
ARCHIVE_PROGRESS = False
ARCHIVE_LEARN_MIN_PAGES = 3
ARCHIVE_LEARN_MIN_SHARE = 0.1
ARCHIVE_LEARN_EVERY = 25
ARCHIVE_CONTACT_URL = "https://pypi.org/project/newsarchive/"
ARCHIVE_REVISIT = "7d"
ARCHIVE_MAX_CRAWL_DELAY = 60.0
ARCHIVE_MAX_RETRY_AFTER = 300.0
ARCHIVE_SQLITE_BUSY_TIMEOUT = 30.0
ARCHIVE_STORAGE_RETRY_SECONDS = 60.0
# The most pages one transaction of the archive's writer thread holds (group commit).
ARCHIVE_WRITE_BATCH = 50
# Seconds the writer waits for a batch to fill before it writes the pages that wait.
ARCHIVE_WRITE_LINGER = 0.1
# The most requests one site gets in one run: an endless calendar or pagination stops there.
ARCHIVE_MAX_PAGES_PER_SITE = 20000
# Requests waiting to be fetched that the crawl keeps in memory, per site and priority; the rest
# wait in a temporary file (crawler.frontier): a frontier of millions of URLs in bounded memory.
ARCHIVE_FRONTIER_MEMORY_REQUESTS = 2000
# A page whose fetch failed (no response, 429, 5xx) is asked for again by later runs, this long
# after its first failure, twice as long after each further one, and not after this many.
ARCHIVE_RETRY_BACKOFF = "30m"
ARCHIVE_RETRY_ATTEMPTS = 5
# Off: hosts on private, loopback and link-local addresses are refused (the demo and the tests,
# which crawl 127.0.0.1, turn it on).
ARCHIVE_ALLOW_PRIVATE_ADDRESSES = False
ARCHIVE_SOURCES_FILE = "sources.toml"
ARCHIVE_LEASE_SECONDS = 600
# Set by `newsarchive crawl --due` for each source it crawls; empty for plain crawls.
ARCHIVE_SOURCE = ""
ARCHIVE_LEASE_OWNER = ""
# The time scheduling decisions (due sources, revisits, leases) are made at; empty for the
# real clock. For tests and replays.
ARCHIVE_NOW = ""
# A crawl shared by several processes (crawler.distributed): the Redis of the shared frontier,
# the shared crawl's name, how long a silent worker keeps its requests, this worker's name;
# how often a Redis command is tried again, and how long a worker waits for Redis past that.
ARCHIVE_REDIS_URL = ""
ARCHIVE_SHARED_CRAWL = "news"
ARCHIVE_REDIS_LEASE_SECONDS = 60.0
ARCHIVE_WORKER_NAME = ""
ARCHIVE_REDIS_RETRIES = 10
ARCHIVE_REDIS_OUTAGE_SECONDS = 300.0

for _name in [name for name in list(globals()) if name.startswith("ARCHIVE_")]:
    _value = os.environ.get("NEWSARCHIVE_" + _name.removeprefix("ARCHIVE_"))
    if _value is not None:
        globals()[_name] = _value

# --- politeness -----------------------------------------------------------------------------
USER_AGENT = f"newsarchive/{VERSION} (+{ARCHIVE_CONTACT_URL})"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_TIMES = 2

# --- limits: a hostile or broken site must not hold the crawl ------------------------------
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024  # trafilatura's own limit
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 10
DEPTH_LIMIT = 25
# Only http and https: Scrapy's file, data, ftp and s3 handlers would let a feed entry read
# local files (file://) or reach other services.
DOWNLOAD_HANDLERS = {"file": None, "data": None, "ftp": None, "s3": None}
# TLS certificates are checked (Scrapy does not by default): an archive keeps what the site
# served, not what a machine in the middle did. A site with a broken certificate is recorded
# as a failed fetch; -s DOWNLOAD_VERIFY_CERTIFICATES=False (or a source's settings) accepts it.
DOWNLOAD_VERIFY_CERTIFICATES = True
# Refuses non-public addresses when connecting too, whatever the DNS said before (rebinding).
TWISTED_DNS_RESOLVER = "crawler.resolver.PublicAddressResolver"

# --- stages ----------------------------------------------------------------------------------
ITEM_PIPELINES = {
    "crawler.pipelines.ExtractionPipeline": 100,
    "crawler.pipelines.NormalizationPipeline": 200,
    "crawler.pipelines.StoragePipeline": 300,
}
# crawler.progress.ProgressExtension is added by `newsarchive crawl` when ARCHIVE_PROGRESS is on.
# No console and no remote control: Scrapy's (2.19 and later) runs Python code sent to an HTTP
# port of the crawl; an archive crawl run by cron has no one to type into it, and loading it
# (aiohttp, an SSL context) cost every crawl 0.2 s at start.
# GarbageCollection: CPython's collector made to skip what a crawl starts with (crawler/garbage.py).
EXTENSIONS = {
    "crawler.garbage.GarbageCollection": 0,
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "crawler.leases.SourceLeaseExtension": 510,
}
SPIDER_MIDDLEWARES = {
    "crawler.middlewares.SpiderTrapMiddleware": 550,
    # Before the per-site budget (the spider's output reaches the higher numbers first): an
    # article not fetched because it is fresh does not count against it.
    "crawler.middlewares.SkipFreshLinksMiddleware": 560,
    # Closest to the spider (above Scrapy's 1,000): every output of a long one (a sitemap of
    # thousands of URLs) is timed, those the others drop included.
    "crawler.middlewares.OutputSlicesMiddleware": 1100,
}
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.PrivateAddressMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.RobotsPolicyMiddleware": 100,
    "crawler.middlewares.SkipFreshArticlesMiddleware": 150,
    "crawler.middlewares.ConditionalRequestMiddleware": 540,
    # Above Scrapy's RetryMiddleware (550): responses pass the higher numbers first, so this
    # sees a 429 or 503 before Retry would retry it at once.
    "crawler.middlewares.RetryAfterMiddleware": 555,
}

# The frontier of a crawl on one machine: the newest requests in memory, the rest in a temporary
# SQLite file that disappears with the crawl (a shared crawl's frontier is in Redis instead).
SCHEDULER_MEMORY_QUEUE = "crawler.frontier.SpillingLifoQueue"

# A page yields at most one item; Scrapy starts this many tasks for every response's output
# (100 by default, a tenth of a crawl's CPU on the reactor for nothing).
CONCURRENT_ITEMS = 4

# A page stays in Scrapy's scraper, counted by its size, until its batch is committed: the
# scraper holds a batch being written, the next one filling and the pages at the workers, three
# batches of 100 KB pages (Scrapy's 5 MB, about 55 generated pages, starved the workers while
# PostgreSQL committed: 7-9% of the cores idle, docs/performance.md).
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 3 * ARCHIVE_WRITE_BATCH * 100_000

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
