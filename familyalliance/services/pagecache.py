"""The page cache: rendered parts of pages (dashboards, reports, caseload lists), kept per process.

A key names everything a part shows (a family's revision, the thresholds, the language, ...), so a
stale entry is never served: a change makes a new key, and the old entry ages out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import current_app

DASHBOARD_CACHE_SIZE = 128


class _Cache:
    """A small thread-safe LRU of rendered dashboard parts, one per application."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

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


def page_cache() -> _Cache:
    """This process's cache of rendered page parts (dashboards, reports, caseload lists)."""
    return current_app.extensions.setdefault("familyalliance.pages", _Cache(DASHBOARD_CACHE_SIZE))
