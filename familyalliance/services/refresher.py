"""What follows a change, done after its commit and outside the request that made it.

A member's answer changes their family; the caseload's summary and the dashboard the therapist opens
next both follow from it. Computed in the member's request, the member would wait; computed when the
therapist opens the page, the therapist waits (a dashboard of 8 members and 40 sessions is some
400 ms of CPU to rebuild). So when a request's transaction that changed a few families commits
(``summaries.touch`` records which, ``summaries.COMMITTED``), they are handed to this process's
refresher: one thread that, ``REFRESH_DELAY`` seconds later (the members of a family answering one
after another make one refresh), runs the tasks the app registered (``web.create_app``): the
families' summaries (:func:`refresh_summaries`) and their dashboards rendered into the page cache in
every language (``web.families.views.warm_dashboards``). With Redis the rendered parts serve every
worker on every host; without it, this process's next requests.

The thread works a family and a task at a time, and only once its process has served no request for
``REFRESH_IDLE`` seconds while the machine has a core to spare (its load average under
``REFRESH_MAX_LOAD`` per core): it shares the interpreter with the requests and the cores with the
other workers, so someone being answered lets the refresh wait. Under a load that keeps the cores
busy nothing is done ahead (measured: 200 members answering and 20 therapists browsing on 2 cores
sent a quarter fewer questionnaires while the refreshers rendered families that changed again
before anyone looked) and the pages compute what changed, as without it; families that waited
longer than ``REFRESH_MAX_WAIT`` seconds are left to them.

It is only a head start: every page still computes what it finds stale, so a refresh that did not run
(the process stopped, a failure, which is logged) costs the next page time, never correctness. A commit
that changed more than ``REFRESH_MAX_FAMILIES`` families (an import, which stores its own summaries)
is left to the pages, and so is a commit outside a request (a command).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable

import flask
import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, request

from familyalliance.services import caseload
from familyalliance.store import summaries
from familyalliance.store.models import Family

log = logging.getLogger(__name__)

EXTENSION = "familyalliance.refresher"
#: A task: the ids of families that changed, and the URL root of the request that changed them (for links).
Task = Callable[[list[int], str], None]


class Refresher:
    """One process's queue of changed families and the thread that works through it."""

    def __init__(self, app: Flask, tasks: Iterable[Task]):
        self.app = app
        self.tasks = tuple(tasks)
        #: Family id: (when it is due, time.monotonic; the URL root to render its links with).
        self.due: dict[int, tuple[float, str]] = {}
        self.busy = False
        #: Requests this process is serving now, and when (time.monotonic) the last one ended.
        self.active = 0
        self.last_end = 0.0
        self.condition = threading.Condition()
        self.thread: threading.Thread | None = None
        self.pid: int | None = None

    def schedule(self, family_ids: Iterable[int], url_root: str) -> None:
        """Refresh the families after ``REFRESH_DELAY`` seconds; one already waiting keeps its time."""
        due = time.monotonic() + self.app.config["REFRESH_DELAY"]
        with self.condition:
            for family_id in family_ids:
                self.due.setdefault(int(family_id), (due, url_root))
            self._start()
            self.condition.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is due or running (tests, benchmarks); say whether it got there in ``timeout``."""
        with self.condition:
            return self.condition.wait_for(lambda: not self.due and not self.busy, timeout)

    def _start(self) -> None:
        """Start the thread in this process (a forked worker has none of its parent's threads)."""
        if self.thread is not None and self.thread.is_alive() and self.pid == os.getpid():
            return
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, name="familyalliance-refresher", daemon=True)
        self.thread.start()

    def _next(self) -> tuple[list[int], str]:
        """Wait for the families that are due (those of one URL root) and take them off the queue."""
        with self.condition:
            while True:
                now = time.monotonic()
                ready = [fid for fid, (when, _) in self.due.items() if when <= now]
                if ready:
                    url_root = self.due[ready[0]][1]
                    ready = [fid for fid in ready if self.due[fid][1] == url_root]
                    for fid in ready:
                        del self.due[fid]
                    self.busy = True
                    return sorted(ready), url_root
                self.busy = False
                self.condition.notify_all()
                wait = min((when for when, _ in self.due.values()), default=None)
                self.condition.wait(None if wait is None else max(wait - now, 0.0))

    def request_started(self, sender: Flask, **extra) -> None:
        with self.condition:
            self.active += 1

    def request_ended(self, sender: Flask, **extra) -> None:
        if threading.current_thread() is self.thread:  # the context the thread renders a dashboard in
            return
        with self.condition:
            self.active = max(self.active - 1, 0)
            self.last_end = time.monotonic()
            self.condition.notify_all()

    def _quiet(self, since: float) -> bool:
        """Wait until this process has been idle a while and the machine is not busy; False when waited too long."""
        config = self.app.config
        give_up = since + config["REFRESH_MAX_WAIT"]
        with self.condition:
            while True:
                now = time.monotonic()
                idle = config["REFRESH_IDLE"] - (now - self.last_end)
                if self.active == 0 and idle <= 0 and _spare_core(config["REFRESH_MAX_LOAD"]):
                    return True
                if now >= give_up:
                    return False
                self.condition.wait(min(max(idle, 0.05), 0.5))  # idleness and the load are not announced

    def _run(self) -> None:
        while True:
            family_ids, url_root = self._next()
            since = time.monotonic()
            for family_id in family_ids:
                for task in self.tasks:
                    if not self._quiet(since):
                        break  # the machine stayed busy: the pages compute what is left
                    try:
                        with self.app.app_context():
                            task([family_id], url_root)
                    except Exception:  # a failed head start costs the next page time, never the thread
                        log.exception("refreshing family %s failed in %s", family_id, getattr(task, "__name__", task))


def _spare_core(max_load: float) -> bool:
    """Whether the machine's load average over the last minute is under ``max_load`` per core."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not known here: take it as idle
        return True
    return load < max_load * (os.cpu_count() or 1)


def init_app(app: Flask, tasks: Iterable[Task]) -> None:
    """Give ``app`` a refresher running ``tasks`` after commits that changed families (when REFRESH_AHEAD is on)."""
    if not app.config["REFRESH_AHEAD"]:
        return
    app.extensions[EXTENSION] = refresher = Refresher(app, tasks)
    # Signals, not hooks: they come in pairs even when a hook ends the request early (a refused CSRF token).
    flask.request_started.connect(refresher.request_started, app, weak=False)
    flask.request_tearing_down.connect(refresher.request_ended, app, weak=False)
    if not sa.event.contains(sa.orm.Session, "after_commit", _after_commit):
        sa.event.listen(sa.orm.Session, "after_commit", _after_commit)


def of(app: Flask) -> Refresher | None:
    """The app's refresher, or None when it has none."""
    return app.extensions.get(EXTENSION)


def _after_commit(session: sa.orm.Session) -> None:
    family_ids = session.info.pop(summaries.COMMITTED, None)
    if not family_ids or not has_request_context():  # a request has its app too; a command is left to the pages
        return
    refresher = of(current_app)
    if refresher is not None and len(family_ids) <= current_app.config["REFRESH_MAX_FAMILIES"]:
        refresher.schedule(family_ids, request.url_root)


def refresh_summaries(family_ids: list[int], url_root: str) -> None:
    """The task that stores the caseload summaries of the families whose data changed since theirs."""
    caseload.refresh_summaries(sa.select(Family).where(Family.id.in_(family_ids)), caseload.settings_key())
