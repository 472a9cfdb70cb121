"""The page cache: rendered parts of pages (dashboards, reports, caseload lists).

A key names everything a part shows (a family's revision, the thresholds, the language, ...), so a
stale entry is never served: a change makes a new key, and the old entry ages out.

Each process keeps the parts it used last in memory. With ``REDIS_URL`` the parts that are text
(the family pages' and the caseload's HTML) are kept in Redis as well, under ``REDIS_KEY_PREFIX``
for ``PAGE_CACHE_TTL`` seconds, so a part rendered by one worker serves every worker on every host;
the session report's parts (chart objects) stay in the process. When Redis does not answer, pages
are rendered without it (a warning in the log) and it is tried again after ``REDIS_RETRY`` seconds.

Emptying it on one worker is not enough after an erasure: every worker (gunicorn processes,
other hosts) keeps its own. :func:`clear_everywhere` raises the shared ``cache_epoch`` in the
database and deletes the parts in Redis; :func:`page_cache` compares the epoch on every use and
empties this worker's cache when it moved, so no worker serves or keeps a rendered page of an erased
family past its next request. The epoch is part of every key in Redis too: a part rendered from data
read before the erasure's commit lands under the old epoch, where no one looks, and is deleted when
its worker sees the new epoch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
import zlib
from collections import OrderedDict

import redis
import sqlalchemy as sa
from flask import current_app
from markupsafe import Markup

from familyalliance.store.db import db
from familyalliance.store.models import CacheEpoch

DASHBOARD_CACHE_SIZE = 128
#: Seconds the page cache leaves Redis alone after it failed to answer.
REDIS_RETRY = 30
#: A part in Redis: a tag naming its type, then the zlib-compressed UTF-8 text (never a pickle: a value read
#: back is only ever text, whoever wrote it).
_TAGS = {Markup: b"m", str: b"s", bytes: b"b"}
#: Changes when the layout of keys or values in Redis changes, so an older version's entries are not read.
_FORMAT = "1"


class _Cache:
    """A small thread-safe LRU of rendered dashboard parts, one per application."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        #: The shared epoch the entries were made under.
        self.epoch: int | None = None

    def follow(self, epoch: int) -> bool:
        """Empty the cache when the shared epoch moved since its entries were made; say whether it moved."""
        with self.lock:
            if epoch != self.epoch:
                moved = self.epoch is not None
                self.items.clear()
                self.epoch = epoch
                return moved
        return False

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after an erasure: no rendered page of the family stays in memory)."""
        with self.lock:
            self.items.clear()


class _Shared:
    """The text parts in Redis, one client per application; while Redis does not answer, nothing."""

    def __init__(self, url: str, prefix: str, ttl: int, timeout: float):
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.prefix = f"{prefix}:pages:"
        self.ttl = ttl
        #: Until when (time.monotonic) Redis is left alone after a failure.
        self.down_until = 0.0
        #: Whether parts of older epochs may be left because deleting them failed (Redis was down).
        self.purge_pending = False

    def key(self, epoch: int, key) -> str | None:
        """The Redis key of a part: the epoch and a digest of ``key``; None when ``key`` is not all plain values."""
        try:
            text = json.dumps(_plain(key), separators=(",", ":"))
        except TypeError:
            return None
        return f"{self.prefix}{epoch}:{hashlib.sha256((_FORMAT + text).encode()).hexdigest()}"

    def get(self, epoch: int, key):
        name = self.key(epoch, key)
        if name is None or not self._up(epoch):
            return None
        try:
            data = self.client.get(name)
        except redis.RedisError as error:
            self._failed(error)
            return None
        return None if data is None else _decode(data)

    def put(self, epoch: int, key, value) -> None:
        name, data = self.key(epoch, key), _encode(value)
        if name is None or data is None or not self._up(epoch):
            return
        try:
            self.client.set(name, data, ex=self.ttl)
        except redis.RedisError as error:
            self._failed(error)

    def purge(self, keep: int | None = None) -> None:
        """Delete every part in Redis, or every one but those of epoch ``keep``; later if Redis is down."""
        self.purge_pending = True
        if time.monotonic() < self.down_until:
            return
        try:
            names = [
                name
                for name in self.client.scan_iter(match=self.prefix + "*", count=1000)
                if keep is None or not name.decode().startswith(f"{self.prefix}{keep}:")
            ]
            for start in range(0, len(names), 1000):
                self.client.unlink(*names[start : start + 1000])
        except redis.RedisError as error:
            self._failed(error)
            return
        self.purge_pending = False

    def _up(self, epoch: int) -> bool:
        """Whether to use Redis now, after the purge an outage held back."""
        if time.monotonic() < self.down_until:
            return False
        if self.purge_pending:
            self.purge(keep=epoch)
        return time.monotonic() >= self.down_until

    def _failed(self, error: Exception) -> None:
        current_app.logger.warning(
            "page cache: Redis did not answer (%s); pages are rendered without it for %d s", error, REDIS_RETRY
        )
        self.down_until = time.monotonic() + REDIS_RETRY


class _Pages:
    """The page cache as one request uses it: this process's parts, then Redis's, under the epoch it read."""

    def __init__(self, local: _Cache, shared: _Shared | None, epoch: int):
        self.local = local
        self.shared = shared
        self.epoch = epoch

    @property
    def items(self) -> OrderedDict:
        """This process's parts."""
        return self.local.items

    def get(self, key):
        value = self.local.get(key)
        if value is None and self.shared is not None:
            value = self.shared.get(self.epoch, key)
            if value is not None:
                self.local.put(key, value)
        return value

    def put(self, key, value) -> None:
        if self.local.epoch != self.epoch:  # an erasure came while this part was rendered: keep it nowhere
            return
        self.local.put(key, value)
        if self.shared is not None:
            self.shared.put(self.epoch, key, value)


def _plain(value):
    """A cache key as JSON: plain values as they are, dates and times tagged (they are read as text otherwise)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):  # a datetime too; isoformat keeps its offset
        return {type(value).__name__: value.isoformat()}
    raise TypeError(f"not a plain key: {type(value).__name__}")


def _encode(value) -> bytes | None:
    tag = _TAGS.get(type(value))
    if tag is None:
        return None
    data = value if isinstance(value, bytes) else value.encode()
    return tag + zlib.compress(data)


def _decode(data: bytes):
    """A part as it was put, or None for anything else (a part another version wrote, a damaged one)."""
    try:
        body = zlib.decompress(data[1:])
        match data[:1]:
            case b"m":
                return Markup(body.decode())
            case b"s":
                return body.decode()
            case b"b":
                return body
    except (zlib.error, UnicodeDecodeError):
        pass
    return None


def _shared() -> _Shared | None:
    """The app's parts in Redis, when REDIS_URL is set."""
    config = current_app.config
    if not config.get("REDIS_URL"):
        return None
    shared = current_app.extensions.get("familyalliance.pages.redis")
    if shared is None:
        shared = current_app.extensions.setdefault(
            "familyalliance.pages.redis",
            _Shared(config["REDIS_URL"], config["REDIS_KEY_PREFIX"], config["PAGE_CACHE_TTL"], config["REDIS_TIMEOUT"]),
        )
    return shared


def epoch() -> sa.ScalarSelect:
    """The shared epoch as a scalar subquery, for a page to read it with a query it runs anyway."""
    return sa.select(CacheEpoch.value).where(CacheEpoch.id == 1).scalar_subquery()


def page_cache(known_epoch: int | None = None) -> _Pages:
    """The cache of rendered page parts, this process's emptied first if the shared epoch moved.

    ``known_epoch`` is the epoch the caller read already (with :func:`epoch` in its own query);
    without it, it is read here.
    """
    cache = current_app.extensions.setdefault("familyalliance.pages", _Cache(DASHBOARD_CACHE_SIZE))
    if known_epoch is None:
        known_epoch = db.session.scalar(sa.select(epoch()))
    known_epoch = known_epoch or 0
    shared = _shared()
    if cache.follow(known_epoch) and shared is not None:
        shared.purge(keep=known_epoch)  # what this worker may have put under the old epoch
    return _Pages(cache, shared, known_epoch)


def clear_everywhere() -> None:
    """Empty the page cache of every worker, in the caller's transaction (an erasure's), and the parts in Redis."""
    raised = db.session.execute(sa.update(CacheEpoch).where(CacheEpoch.id == 1).values(value=CacheEpoch.value + 1))
    if raised.rowcount == 0:  # the row the migration made is gone (a database emptied by hand): make it anew
        db.session.add(CacheEpoch(id=1, value=1))
    shared = _shared()
    if shared is not None:
        shared.purge()
