"""One crawl shared by several crawler processes, through scrapy-redis and Redis.

With `ARCHIVE_REDIS_URL` set, every `newsarchive crawl` (or `scrapy crawl news`) started with
the same shared-crawl name takes its requests from one frontier in Redis and marks them in one
seen-set, and all of them write to one archive (PostgreSQL). scrapy-redis supplies the
frontier and the seen-set; this module closes the gaps it leaves (../shared/reliability-catalog,
G7, F12, F14, F15, S12):

- A request is *leased*, not destroyed, when a worker takes it: the pop moves it, in one Lua
  script, from the frontier into that worker's lease hash. The lease is returned (deleted) once
  the page's item has been through the pipelines, i.e. archived. A worker that dies stops
  renewing its heartbeat key; after `ARCHIVE_REDIS_LEASE_SECONDS` any other worker puts its
  leases back in the frontier. So a killed worker loses nothing: its in-flight pages are
  fetched again by the others (and archived once, since archive writes are upserts).
- A take is named by the worker, and asked again under the same name when its answer is lost
  with the connection (Redis shutting down, a network cut): Redis then gives the request it
  leased under that name, instead of a second one while the first stays leased to a worker
  that never saw it; until the answer comes, the worker does not count itself idle.
- A link a page leads to is marked in the seen-set and queued in one step (one Lua script;
  scrapy-redis uses two commands, and a worker killed between them leaves a link marked seen
  that nobody fetches), before that page's lease is returned.
- The shared state is kept when a worker stops (`SCHEDULER_PERSIST` is forced on, flushing on
  start forced off; a crawl started otherwise is refused). A worker that stops returns its
  leases. Only the last worker of a crawl that ran dry clears the crawl's keys, so that the next
  scheduled crawl of that name starts afresh; `newsarchive shared reset` clears them by hand.
- Requests are stored as JSON, never pickled: write access to Redis must not mean code
  execution. An entry that names a request class or callback that is not the spider's own is
  rejected and dropped.
- Redis may restart mid-crawl: its commands are tried again with backoff, then the worker waits
  (holding the links it finds) for up to `ARCHIVE_REDIS_OUTAGE_SECONDS` before it stops.
- Redis may come back empty (restarted without persistence, F13): the frontier and the
  seen-set are gone. The crawl's `started` key, set by its first worker, is gone with them; the
  worker that finds it missing crawls again from the start URLs, with the links it had already
  asked for forgotten. Listings are fetched again and lead to what was lost; the articles they
  lead to that are archived already are not fetched again (crawler.middlewares'
  SkipFreshArticlesMiddleware, `ARCHIVE_REVISIT`). The mark is named like a take, so that a
  lost answer to it does not hide that the key was missing.
- Every command a worker sends is safe to send twice (the client tries again after a lost
  connection, not knowing whether Redis carried the command out): see docs/scale-out.md.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit, urlunsplit

from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.request import request_from_dict
from scrapy_redis.queue import Base as RedisQueue
from scrapy_redis.scheduler import Scheduler as RedisScheduler
from twisted.internet.task import LoopingCall

from crawler.items import DateCandidate

if TYPE_CHECKING:
    from redis import Redis
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

LEASE = "newsarchive_lease"
REDIS_GONE = "redis_unreachable"
# A Redis command is tried again ARCHIVE_REDIS_RETRIES times, waiting up to REDIS_BACKOFF_CAP
# seconds between tries (exponential, with jitter): half a minute or so, enough for a restart.
DEFAULT_REDIS_RETRIES = 10
REDIS_BACKOFF_CAP = 8.0
DEFAULT_REDIS_OUTAGE_SECONDS = 300.0
KEY_PREFIX = "newsarchive"
# What a request read from Redis may name: Scrapy's plain request, the spider's own callbacks.
ALLOWED_REQUEST_CLASSES = {"scrapy.http.request.Request", "scrapy.Request", "scrapy.http.Request"}
ALLOWED_CALLBACKS = {"parse_start", "parse_robots", "parse_sitemap", "parse_feed", "parse_page"}
ALLOWED_ERRBACKS = {"on_error"}


class SharedCrawlError(ValueError):
    """A shared crawl cannot start: a setting would lose shared state, or Redis is unreachable."""


class RejectedEntry(ValueError):
    """A frontier entry that is not a request this spider would have made."""


# --- the serializer (SCHEDULER_SERIALIZER names this module: it has `dumps` and `loads`) ----


def _plain(value: object) -> object:
    """Turn a request dict into JSON types; bytes, datetimes and bytes-keyed dicts (headers)
    are tagged so that `loads` gives them back."""
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {key: _plain(item) for key, item in value.items()}
        return {"__pairs__": [[_plain(key), _plain(item)] for key, item in value.items()]}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, DateCandidate):  # the dates a feed or a sitemap lists for a page
        return {"__date_candidate__": [value.source, value.value]}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a shared crawl cannot store a {type(value).__name__} in a request")


def _untag(value: dict[str, Any]) -> object:
    if len(value) == 1:
        if "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        if "__datetime__" in value:
            return datetime.fromisoformat(value["__datetime__"])
        if "__pairs__" in value:
            return dict(value["__pairs__"])
        if "__date_candidate__" in value:
            source, text = value["__date_candidate__"]
            if isinstance(source, str) and isinstance(text, str):
                return DateCandidate(source=source, value=text)
    return value


def dumps(obj: object) -> str:
    """Encode a request dict as JSON."""
    return json.dumps(_plain(obj), separators=(",", ":"))


def loads(data: bytes | str) -> Any:
    """Decode what `dumps` wrote; never executes anything."""
    return json.loads(data, object_hook=_untag)


def check_entry(obj: object) -> dict[str, Any]:
    """Return a decoded frontier entry if it is a request this spider would make, or raise."""
    if not isinstance(obj, dict) or not isinstance(obj.get("url"), str):
        raise RejectedEntry("not a request")
    if "_class" in obj and obj["_class"] not in ALLOWED_REQUEST_CLASSES:
        raise RejectedEntry(f"request class {obj['_class']!r} is not allowed")
    if obj.get("callback") not in {None, *ALLOWED_CALLBACKS}:
        raise RejectedEntry(f"callback {obj.get('callback')!r} is not the spider's")
    if obj.get("errback") not in {None, *ALLOWED_ERRBACKS}:
        raise RejectedEntry(f"errback {obj.get('errback')!r} is not the spider's")
    if not obj["url"].startswith(("http://", "https://")):
        raise RejectedEntry(f"not an http(s) URL: {obj['url'][:100]!r}")
    return obj


# --- settings --------------------------------------------------------------------------------


def shared_keys(name: str) -> dict[str, str]:
    """The Redis keys of the shared crawl `name` (scrapy-redis' key templates)."""
    return {
        "SCHEDULER_QUEUE_KEY": f"{KEY_PREFIX}:{name}:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{KEY_PREFIX}:{name}:dupefilter",
    }


def configure(settings: BaseSettings) -> None:
    """Turn a crawl into a worker of the shared crawl, if ARCHIVE_REDIS_URL is set."""
    redis_url = settings.get("ARCHIVE_REDIS_URL")
    if not redis_url:
        return
    name = settings.get("ARCHIVE_SHARED_CRAWL") or "news"
    values = {
        "SCHEDULER": "crawler.distributed.SharedScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "crawler.distributed.LeasedQueue",
        "SCHEDULER_SERIALIZER": "crawler.distributed",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_FLUSH_ON_START": False,
        "REDIS_URL": redis_url,
        "REDIS_PARAMS": {
            **settings.getdict("REDIS_PARAMS"),
            **redis_retries(settings.getint("ARCHIVE_REDIS_RETRIES", DEFAULT_REDIS_RETRIES)),
        },
        **shared_keys(name),
    }
    for setting, value in values.items():
        settings.set(setting, value, priority="spider")
    middlewares = settings.getdict("SPIDER_MIDDLEWARES")
    middlewares["crawler.distributed.ItemsLastMiddleware"] = 1000
    settings.set("SPIDER_MIDDLEWARES", middlewares, priority="spider")
    check_settings(settings)


def redis_retries(retries: int) -> dict[str, Any]:
    """Client options under which a Redis that restarts or fails over (catalog F12) costs a
    wait, not the crawl: each command is tried again on a lost connection or a timeout, with
    backoff; a hung server is given up after the socket timeout (scrapy-redis' 30 s)."""
    return {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.25, cap=REDIS_BACKOFF_CAP), retries),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


def check_settings(settings: BaseSettings) -> None:
    """Refuse settings that would let one worker wipe the others' frontier (F15)."""
    if not settings.getbool("SCHEDULER_PERSIST"):
        raise SharedCrawlError(
            "SCHEDULER_PERSIST=False would let the first worker that stops wipe the shared "
            "frontier of every other worker; a shared crawl keeps it on"
        )
    if settings.getbool("SCHEDULER_FLUSH_ON_START"):
        raise SharedCrawlError(
            "SCHEDULER_FLUSH_ON_START=True would let each worker that starts wipe the shared "
            "frontier; use `newsarchive shared reset` to start a shared crawl afresh"
        )
    serializer = settings.get("SCHEDULER_SERIALIZER")
    if serializer != "crawler.distributed":
        raise SharedCrawlError(
            f"SCHEDULER_SERIALIZER={serializer!r}: a shared crawl stores requests as JSON only "
            "(pickle would let anyone who can write to Redis run code in every worker)"
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def new_name() -> str:
    """A name for one command that is asked again under it until answered (POP_AND_LEASE,
    MARK_STARTED): this worker's, and new."""
    return f"{worker_name()}:{os.urandom(4).hex()}"


# --- the frontier with leases ----------------------------------------------------------------

# Take the request of highest priority and lease it to a worker, in one step. The worker names
# each take (ARGV[1]) and keeps the name until it hears the answer: asked again under the same
# name (the answer was lost with the connection), Redis gives the request it leased then,
# instead of leasing a second one while the first stays leased to a worker that never saw it.
POP_AND_LEASE = """
local last = redis.call('HMGET', KEYS[3], 'take', 'entry')
if last[1] == ARGV[1] and redis.call('HEXISTS', KEYS[2], last[2]) == 1 then return last[2] end
local entry = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #entry == 0 then return nil end
redis.call('ZREM', KEYS[1], entry[1])
redis.call('HSET', KEYS[2], entry[1], entry[2])
redis.call('HSET', KEYS[3], 'take', ARGV[1], 'entry', entry[1])
return entry[1]
"""
# Queue a request a worker found, unless its fingerprint (ARGV[3]; '' for a request that is not
# filtered) is in the seen-set: marked seen and queued in one step, since a worker killed between
# the two would leave a link marked seen that nobody fetches. The lease of the request it comes
# back as (ARGV[4]: a retry, a redirect; '' for none) is returned in the same step.
QUEUE_UNSEEN = """
local queued = 0
if ARGV[3] == '' or redis.call('SADD', KEYS[2], ARGV[3]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  queued = 1
end
if ARGV[4] ~= '' then redis.call('HDEL', KEYS[3], ARGV[4]) end
return queued
"""
# Mark a shared crawl started unless it is; 1 if this mark (ARGV[1], kept by the worker until
# it hears the answer) is the one that did it, also when asked again after a lost answer.
MARK_STARTED = """
local mark = redis.call('GET', KEYS[1])
if not mark then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
if mark == ARGV[1] then return 1 end
return 0
"""
# Put every request leased to a worker back in the frontier, and forget the worker.
RETURN_LEASES = """
local leased = redis.call('HGETALL', KEYS[2])
for i = 1, #leased, 2 do
  redis.call('ZADD', KEYS[1], leased[i + 1], leased[i])
end
redis.call('DEL', KEYS[2], KEYS[4])
redis.call('SREM', KEYS[3], ARGV[1])
return #leased / 2
"""


def request_dict(request: Request, spider: Spider | None) -> dict[str, Any]:
    """`request.to_dict(spider=spider)`, the same dict, without Scrapy's search through every
    member of the spider for the name of each callback (about 100 µs a request)."""
    callback, errback = request.callback, request.errback
    if type(request) is not Request or not (
        _spiders(callback, spider) and _spiders(errback, spider)
    ):
        return request.to_dict(spider=spider)
    data: dict[str, Any] = {
        "url": request.url,
        "callback": callback.__name__ if callback is not None else None,
        "errback": errback.__name__ if errback is not None else None,
        "headers": dict(request.headers),
    }
    for attribute in request.attributes:
        data.setdefault(attribute, getattr(request, attribute))
    return data


def _spiders(method: Callable[..., Any] | None, spider: Spider | None) -> bool:
    """Tell whether `method` is None or the spider's own method of that name."""
    if method is None:
        return True
    name = getattr(method, "__name__", None)
    return (
        getattr(method, "__self__", None) is spider
        and name is not None
        and getattr(spider, name, None) == method
    )


class LeasedQueue(RedisQueue):  # type: ignore[misc]
    """scrapy-redis' priority queue, with requests leased to workers instead of popped."""

    server: Redis
    key: str

    def __init__(self, server: Redis, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.worker = spider.settings.get("ARCHIVE_WORKER_NAME") or worker_name()
        self.lease_ms = int(spider.settings.getfloat("ARCHIVE_REDIS_LEASE_SECONDS", 60) * 1000)
        self.workers_key = f"{self.key}:workers"
        self._pop = server.register_script(POP_AND_LEASE)
        self._queue_unseen = server.register_script(QUEUE_UNSEEN)
        self._return = server.register_script(RETURN_LEASES)
        self.take: str | None = None  # the name of a take not answered yet (POP_AND_LEASE)

    def leases_key(self, worker: str) -> str:
        return f"{self.key}:leases:{worker}"

    def alive_key(self, worker: str) -> str:
        return f"{self.key}:alive:{worker}"

    def taken_key(self, worker: str) -> str:
        return f"{self.key}:taken:{worker}"

    def _returned_keys(self, worker: str) -> list[str]:
        return [self.key, self.leases_key(worker), self.workers_key, self.taken_key(worker)]

    def __len__(self) -> int:
        return int(self.server.zcard(self.key))

    def push(self, request: Request, *, seen: tuple[str, str] | None = None) -> bool:
        """Queue `request`; with `seen` (the seen-set's key and the request's fingerprint),
        only if the fingerprint is new, marking it seen in the same step. A request that comes
        back (a retry, a redirect) returns its lease in that step too. True if queued."""
        lease = request.meta.pop(LEASE, None)  # not part of the request queued
        seen_key, fingerprint = seen or (self.key, "")
        try:
            queued = self._queue_unseen(
                keys=[self.key, seen_key, self.leases_key(self.worker)],
                args=[self._encode_request(request), -request.priority, fingerprint, lease or ""],
            )
        except RedisError:
            if lease is not None:
                request.meta[LEASE] = lease  # returned when the request is sent again
            raise
        return bool(queued)

    @property
    def unanswered(self) -> bool:
        """A take's answer was lost: a request may be leased to this worker unseen."""
        return self.take is not None

    def pop(self, timeout: int = 0) -> Request | None:
        self.take = self.take or new_name()
        data = self._pop(keys=[self.key, self.leases_key(self.worker), self.taken_key(self.worker)],
                         args=[self.take])  # fmt: skip
        self.take = None  # answered: the next take is a new one
        if data is None:
            return None
        try:
            request = self._decode_request(data)
        except (RejectedEntry, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.error("rejected a frontier entry of %s: %s", self.key, exc)
            self.ack(data)
            return None
        request.meta[LEASE] = data
        return request

    def _encode_request(self, request: Request) -> bytes:
        # scrapy-redis calls Scrapy's Request.to_dict, which searches the spider's members for
        # each callback's name (about 100 µs a request): the same dict, made directly.
        return self.serializer.dumps(request_dict(request, self.spider))  # type: ignore[no-any-return]

    def _decode_request(self, encoded_request: bytes) -> Request:
        obj = check_entry(self.serializer.loads(encoded_request))
        return request_from_dict(obj, spider=self.spider)

    def ack(self, lease: bytes | str) -> None:
        """The leased request is done: forget it."""
        self.server.hdel(self.leases_key(self.worker), lease)

    def heartbeat(self) -> None:
        """Tell the other workers this one is alive for one more lease period."""
        self.server.set(self.alive_key(self.worker), b"1", px=self.lease_ms)
        self.server.sadd(self.workers_key, self.worker)

    def reap(self) -> int:
        """Put the leases of workers that stopped renewing theirs back in the frontier."""
        returned = 0
        for member in self.server.smembers(self.workers_key):
            worker = _text(member)
            if worker == self.worker or self.server.exists(self.alive_key(worker)):
                continue
            count = int(self._return(keys=self._returned_keys(worker), args=[worker]))
            if count:
                logger.warning("worker %s is gone: %d of its requests are queued again",
                               worker, count)  # fmt: skip
            returned += count
        return returned

    def release(self) -> int:
        """This worker stops: its leases go back to the frontier, and it leaves."""
        count = int(self._return(keys=self._returned_keys(self.worker), args=[self.worker]))
        self.server.delete(self.alive_key(self.worker))
        return count

    def forget_own_leases(self) -> None:
        """Nothing is in flight in this worker: any lease still held is done."""
        self.server.delete(self.leases_key(self.worker))

    def others_busy(self) -> bool:
        """Tell whether another worker is alive and holds leases (it may queue more)."""
        for member in self.server.smembers(self.workers_key):
            worker = _text(member)
            if worker != self.worker and self.server.hlen(self.leases_key(worker)):
                return True
        return False

    def other_workers(self) -> int:
        return sum(
            1 for member in self.server.smembers(self.workers_key) if (_text(member)) != self.worker
        )

    def clear(self) -> None:
        """Forget the whole frontier: requests, leases, workers."""
        self.server.delete(*frontier_keys(self.server, self.key))


class SharedScheduler(RedisScheduler):  # type: ignore[misc]
    """scrapy-redis' scheduler, refusing settings that lose shared state, with the leases of
    LeasedQueue kept alive, returned and reaped."""

    queue: LeasedQueue

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        check_settings(crawler.settings)
        scheduler: Self = super().from_crawler(crawler)
        scheduler.crawler = crawler
        for handler, signal in (
            (scheduler.item_done, signals.item_scraped),
            (scheduler.item_done, signals.item_dropped),
            (scheduler.item_done, signals.item_error),
            (scheduler.spider_idle, signals.spider_idle),
        ):
            crawler.signals.connect(handler, signal=signal)
        return scheduler

    def open(self, spider: Spider) -> None:
        super().open(spider)
        self.started_key = started_key(self.queue.key)
        self._mark = self.queue.server.register_script(MARK_STARTED)
        self.mark: str | None = None  # the name of a mark not answered yet (MARK_STARTED)
        self._mark_started()
        self.queue.heartbeat()
        self.queue.reap()
        self.unsent: list[Request] = []  # requests found while Redis was away
        self.outage_since: float | None = None
        self.redis_gone = False  # past ARCHIVE_REDIS_OUTAGE_SECONDS: Redis is not asked again
        self.outage_limit = self.crawler.settings.getfloat(
            "ARCHIVE_REDIS_OUTAGE_SECONDS", DEFAULT_REDIS_OUTAGE_SECONDS
        )
        self.beat = LoopingCall(self._beat)
        self.beat.start(self.queue.lease_ms / 3000, now=False)

    # Redis away past the client's retries (catalog F12): the worker waits, keeping what it
    # finds, and stops after ARCHIVE_REDIS_OUTAGE_SECONDS. Pages it fetched are archived all the
    # same; the leases it could not return go back to the frontier once its heartbeat expires.
    def _redis_failed(self, error: RedisError) -> None:
        now = time.monotonic()
        if self.outage_since is None:
            self.outage_since = now
            logger.warning("Redis does not answer (%s): this worker waits for it, up to %.0f s",
                           error, self.outage_limit)  # fmt: skip
        elif now - self.outage_since > self.outage_limit and not self.redis_gone:
            self.redis_gone = True
            logger.error("Redis has not answered for %.0f s: this worker stops", self.outage_limit)
            assert self.crawler.engine is not None  # noqa: S101 - a running crawl has one
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=REDIS_GONE))

    def _redis_answered(self) -> None:
        if self.outage_since is not None:
            logger.warning("Redis answers again after %.0f s", time.monotonic() - self.outage_since)
            self.outage_since = None
            try:
                self._check_frontier()
            except RedisError as exc:
                self._redis_failed(exc)

    def _beat(self) -> None:
        try:
            self.queue.heartbeat()
            self.queue.reap()
            self._check_frontier()
        except RedisError as exc:  # the next beat tries again
            self._redis_failed(exc)

    # Redis back without the crawl's keys (catalog F13: restarted without persistence).
    def _mark_started(self) -> bool:
        """Mark the shared crawl as started; True if it was not marked already. A mark whose
        answer was lost is asked again under the same name (MARK_STARTED): a plain SET NX
        would then answer "marked already", and nobody would crawl the lost frontier again."""
        self.mark = self.mark or new_name()
        started = bool(self._mark(keys=[self.started_key], args=[self.mark]))
        self.mark = None  # answered: the next mark is a new one
        return started

    def _check_frontier(self) -> bool:
        """If Redis has lost the crawl's keys, crawl again from the start URLs; True if so.
        Only one worker does it: the one whose mark is the new one."""
        if not self._mark_started():
            return False
        logger.warning("the shared frontier is gone (Redis came back empty?): crawling again "
                       "from the start URLs; archived articles are not fetched again")  # fmt: skip
        self.stats.inc_value("archive/shared_frontier_rebuilt")
        deferred_from_coro(self._crawl_from_the_start())
        return True

    async def _crawl_from_the_start(self) -> None:
        forget = getattr(self.spider, "forget_followed_links", None)
        if forget is not None:
            forget()  # they were in the frontier that is gone
        assert self.crawler.engine is not None  # noqa: S101 - a running crawl has one
        async for request in self.spider.start():
            self.crawler.engine.crawl(request)

    def close(self, reason: str) -> None:
        if self.beat.running:
            self.beat.stop()
        if not self._left(reason):
            logger.error("this worker's requests in flight go back to the shared frontier once "
                         "its heartbeat expires; %d it found are not queued (the next crawl "
                         "finds them again)", len(self.unsent))  # fmt: skip
        super().close(reason)

    def _left(self, reason: str) -> bool:
        """Return this worker's leases; the last worker of a crawl that ran dry clears it.
        False when Redis could not be told."""
        if self.redis_gone:
            return False
        try:
            returned = self.queue.release()
            if returned:
                logger.info("returned %d requests to the shared frontier", returned)
            if reason == "finished" and not len(self.queue) and not self.queue.other_workers():
                # The crawl ran dry and this was its last worker: the next one starts afresh.
                self.flush()
        except RedisError:
            return False
        return True

    def has_pending_requests(self) -> bool:
        if self.redis_gone:
            return False  # stopping: Redis is not asked again
        try:
            return bool(self.unsent) or self.queue.unanswered or len(self.queue) > 0
        except RedisError as exc:
            self._redis_failed(exc)
            return not self.redis_gone  # unknown: not idle, unless this worker is stopping

    def enqueue_request(self, request: Request) -> bool:
        if self.redis_gone:
            self.unsent.append(request)
            return True
        try:
            self._send_unsent()
            return self._enqueue(request)
        except RedisError as exc:
            self._redis_failed(exc)
            self.unsent.append(request)
            return True

    # scrapy-redis asks the seen-set, then queues: two commands, and a worker killed between
    # them loses the request (marked seen, queued nowhere). LeasedQueue.push does both at once.
    def _enqueue(self, request: Request) -> bool:
        seen = None if request.dont_filter else (self.df.key, self.df.request_fingerprint(request))
        if not self.queue.push(request, seen=seen):
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def _send_unsent(self) -> None:
        while self.unsent:
            self._enqueue(self.unsent[0])
            del self.unsent[0]

    def next_request(self) -> Request | None:
        if self.redis_gone:
            return None
        try:
            self._send_unsent()
            request = self.queue.pop()
        except RedisError as exc:
            self._redis_failed(exc)
            return None
        self._redis_answered()
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def item_done(self, response: Response | Any = None, **_: Any) -> None:
        request = getattr(response, "request", None)
        lease = request.meta.get(LEASE) if request is not None else None
        if lease is None or self.redis_gone:
            return
        try:
            self._send_unsent()  # what the page led to is queued before the page is done
            self.queue.ack(lease)
        except RedisError as exc:  # left in this worker's leases: dropped when it is idle
            self._redis_failed(exc)

    def spider_idle(self, **_: Any) -> None:
        # Nothing is in flight here; wait while another worker may still queue requests.
        if self.redis_gone:
            return
        try:
            self.queue.forget_own_leases()
            self.queue.reap()
            busy = (
                self._check_frontier()
                or bool(self.unsent)
                or len(self.queue) > 0
                or self.queue.others_busy()
            )
        except RedisError as exc:
            self._redis_failed(exc)
            busy = not self.redis_gone
        if busy:
            raise DontCloseSpider


class ItemsLastMiddleware:
    """Pass a callback's requests on before its item, so that once the item is archived (and
    the page's lease returned) everything the page led to is already in the shared frontier."""

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        held: list[Any] = []
        async for output in result:
            if isinstance(output, Request):
                yield output
            else:
                held.append(output)
        for item in held:
            yield item

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        held: list[Any] = []
        for output in result:
            if isinstance(output, Request):
                yield output
            else:
                held.append(output)
        yield from held


def started_key(queue_key: str) -> str:
    """The key that says a shared crawl has started (its first worker sets it)."""
    return f"{queue_key}:started"


def frontier_keys(server: Redis, queue_key: str) -> list[Any]:
    """Every key of a shared frontier: its requests, workers, leases and heartbeats."""
    return [
        queue_key,
        started_key(queue_key),
        f"{queue_key}:workers",
        *server.scan_iter(f"{queue_key}:leases:*"),
        *server.scan_iter(f"{queue_key}:alive:*"),
        *server.scan_iter(f"{queue_key}:taken:*"),
    ]


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    alive: bool
    in_flight: int


@dataclass(frozen=True)
class SharedCrawlStatus:
    queued: int
    seen: int
    workers: list[WorkerStatus]


def shared_crawl_status(server: Redis, name: str) -> SharedCrawlStatus:
    keys = shared_keys(name)
    queue_key = keys["SCHEDULER_QUEUE_KEY"]
    workers = sorted(_text(member) for member in server.smembers(f"{queue_key}:workers"))
    return SharedCrawlStatus(
        queued=int(server.zcard(queue_key)),
        seen=int(server.scard(keys["SCHEDULER_DUPEFILTER_KEY"])),
        workers=[
            WorkerStatus(
                name=worker,
                alive=bool(server.exists(f"{queue_key}:alive:{worker}")),
                in_flight=int(server.hlen(f"{queue_key}:leases:{worker}")),
            )
            for worker in workers
        ],
    )


def reset_shared_crawl(server: Redis, name: str) -> None:
    """Forget a shared crawl's frontier and seen-set (the archive is not touched)."""
    keys = shared_keys(name)
    server.delete(
        keys["SCHEDULER_DUPEFILTER_KEY"], *frontier_keys(server, keys["SCHEDULER_QUEUE_KEY"])
    )


def redis_url_for_display(url: str) -> str:
    """The Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def redis_server(settings: BaseSettings) -> Redis:
    """Connect to the shared crawl's Redis, or raise SharedCrawlError with one line at once
    (no retries: an unreachable Redis at the start is a mistake to report, not to wait out)."""
    from scrapy_redis import connection

    at_once = settings.copy()
    at_once.set("REDIS_PARAMS", {**settings.getdict("REDIS_PARAMS"), **redis_retries(0)})
    try:
        server: Redis = connection.from_settings(at_once)
        server.ping()
    except RedisError as exc:
        raise SharedCrawlError(
            f"redis: cannot reach {redis_url_for_display(settings.get('ARCHIVE_REDIS_URL'))}: {exc}"
        ) from None
    return server
