"""The page cache: rendered parts of pages (dashboards, reports, caseload lists), kept per process.

A key names everything a part shows (a family's revision, the thresholds, the language, ...), so a
stale entry is never served: a change makes a new key, and the old entry ages out of the LRU.

Emptying it on one worker is not enough after an erasure: every worker (gunicorn processes,
other hosts) keeps its own. :func:`clear_everywhere` raises the shared ``cache_epoch`` in the
database; :func:`page_cache` compares it on every use and empties this worker's cache when it
moved, so no worker serves or keeps a rendered page of an erased family past its next request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import sqlalchemy as sa
from flask import current_app

from familyalliance.store.db import db
from familyalliance.store.models import CacheEpoch

DASHBOARD_CACHE_SIZE = 128


class _Cache:
    """A small thread-safe LRU of rendered dashboard parts, one per application."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        #: The shared epoch the entries were made under.
        self.epoch: int | None = None

    def follow(self, epoch: int) -> None:
        """Empty the cache when the shared epoch moved since its entries were made."""
        with self.lock:
            if epoch != self.epoch:
                self.items.clear()
                self.epoch = epoch

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


def epoch() -> sa.ScalarSelect:
    """The shared epoch as a scalar subquery, for a page to read it with a query it runs anyway."""
    return sa.select(CacheEpoch.value).where(CacheEpoch.id == 1).scalar_subquery()


def page_cache(known_epoch: int | None = None) -> _Cache:
    """This process's cache of rendered page parts, emptied first if the shared epoch moved.

    ``known_epoch`` is the epoch the caller read already (with :func:`epoch` in its own query);
    without it, it is read here.
    """
    cache = current_app.extensions.setdefault("familyalliance.pages", _Cache(DASHBOARD_CACHE_SIZE))
    if known_epoch is None:
        known_epoch = db.session.scalar(sa.select(epoch()))
    cache.follow(known_epoch or 0)
    return cache


def clear_everywhere() -> None:
    """Empty the page cache of every worker, in the caller's transaction (an erasure's)."""
    raised = db.session.execute(sa.update(CacheEpoch).where(CacheEpoch.id == 1).values(value=CacheEpoch.value + 1))
    if raised.rowcount == 0:  # the row the migration made is gone (a database emptied by hand): make it anew
        db.session.add(CacheEpoch(id=1, value=1))
