"""Benchmark: the caseload and the family dashboard at three sizes, cached and right after a change.

Usage: .venv/bin/python bench/bench_sizes.py [DATABASE_URL] [--quick]
(default: a fresh SQLite file; a PostgreSQL URL is emptied and migrated first)

- data, imported through ``importer.import_long_csv`` (as a clinic's history would be), all in one team
  whose lead is logged in (the dashboard families assigned to the lead, the caseload families to a
  therapist of the team: the lead sees them through the team): three dashboard families of 4 members x
  10 sessions, 8 x 40 and 12 x 100 (check4 each session, alliance16 every third, the therapist's
  observer4), and caseload families of
  3 members x 6 sessions added in steps so that the caseload holds 200, 2,000 and 20,000 families;
- after each import ``flask refresh-summaries`` runs, as after an upgrade, and on PostgreSQL ``VACUUM ANALYZE``
  (what autovacuum does within a minute or so: without statistics of the new rows the planner reads the
  member table whole for 25 families); the first caseload request after it is reported as "first" (it
  must compute no summary);
- every page is requested in-process through Flask's test client (server time: routing, queries,
  analytics, templates; no network), each figure next to the median of as many ``/healthz`` requests
  interleaved with its own (the same load; the machine is shared, the ratio is what compares):
  "cached" is the median of REPEATS requests of an unchanged page; "after a change" is the median of
  REPEATS requests each made right after the therapist's grid (observer4) of the family's latest session
  was saved with one value changed, through the grid's own POST (only the page request is timed), with the
  refresher off, so the page computes what changed (the caseload: the family's summary); "ahead" the same,
  each request made once the refresher (``services.refresher``) was done with the change (how long it took
  after the save's answer is "ready"); the caseload's "rebuilt" is the
  median of REPEATS requests each made with the page cache emptied (the page built from fresh summaries);
- the caseload's SQL statements are counted for one cached and one after-a-change request.
``--quick`` runs the smallest sizes only, to check the script. Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from familyalliance import create_app  # noqa: E402
from familyalliance.services import accounts, importer, refresher  # noqa: E402
from familyalliance.store.db import db  # noqa: E402
from familyalliance.store.models import FamilySummary, User  # noqa: E402
from familyalliance.store.registry import installed_instruments  # noqa: E402

HEADER = ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]
ROLES = ["mother", "father", "youth", "child", "sibling", "grandparent", "child", "youth", "father", "child"]
DIMS = ["bond", "goals_tasks", "safety", "shared_purpose"]
REPEATS = 20
DASHBOARDS = [(4, 10), (8, 40), (12, 100)]
CASELOADS = [200, 2_000, 20_000]
EMAIL, PASSWORD = "lead@example.org", "bench password 1"
#: The caseload families are this therapist's; the lead sees them through the team, as in a clinic.
THERAPIST = "therapist@example.org"


def family_rows(code: str, members: int, sessions: int, rng: random.Random, full: bool = True):
    """A family's long rows: check4 and observer4 each session, alliance16 every third (``full``)."""
    start = dt.date(2025, 1, 6)
    levels = {m: rng.uniform(3, 9) for m in range(members)}
    for s in range(1, sessions + 1):
        date = (start + dt.timedelta(days=7 * s)).isoformat()
        for m in range(members):
            member, role = f"M{m + 1}", ROLES[m % len(ROLES)]
            level = min(10, max(0, levels[m] + rng.uniform(-2, 2)))
            for d in DIMS:
                yield [code, member, role, s, date, "self", "therapist", "check4", d, round(level)]
                yield [code, member, role, s, date, "therapist", "therapist", "observer4", d, rng.randint(-2, 3)]
            if full and s % 3 == 0 and role != "child":
                for d in DIMS:
                    for i in range(1, 5):
                        value = min(5, max(1, round(1 + level * 0.4 + rng.uniform(-1, 1))))
                        yield [code, member, role, s, date, "self", "therapist", "alliance16", f"{d}_{i}", value]


def import_rows(app, therapist_id: int, path: Path, rows) -> float:
    """Write ``rows`` to a CSV, import it and refresh the summaries; return the seconds taken."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    start = time.perf_counter()
    with app.app_context():
        therapist = db.session.get(User, therapist_id)
        importer.import_long_csv(path, installed_instruments(), team=therapist.team, therapists=[therapist])
    result = app.test_cli_runner().invoke(args=["refresh-summaries"])
    assert result.exit_code == 0, result.output
    seconds = time.perf_counter() - start
    with app.app_context():
        if db.engine.dialect.name == "postgresql":  # what autovacuum does within a minute of a large import
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
    return seconds


class Grid:
    """The observer4 grid of a family's latest session, saved through its POST with one value changed."""

    FIELD = re.compile(r'name="([vo]-\d+-[a-z_0-9]+)"[^>]*?value="([^"]*)"')

    def __init__(self, client, code: str, session: int):
        self.client, self.url, self.turn = client, f"/families/{code}/sessions/{session}/grid/observer4", 0

    def change(self) -> None:
        page = self.client.get(self.url)
        assert page.status_code == 200, (self.url, page.status_code)
        form = dict(self.FIELD.findall(page.text))
        first = sorted(k for k in form if k.startswith("v-"))[0]
        self.turn += 1
        form[first] = str(self.turn % 3)  # 1, 2, 0, 1, ...: a different value each time
        answer = self.client.post(self.url, data=form)
        assert answer.status_code == 302, (self.url, answer.status_code, answer.text[:500])


def timed(client, url: str, before=None) -> float:
    """One request's server time in ms (``before`` runs first, untimed)."""
    if before:
        before()
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


class Figure(NamedTuple):
    """A page's median server time and the median of the ``/healthz`` requests interleaved with it."""

    ms: float
    healthz: float

    @property
    def ratio(self) -> float:
        return self.ms / self.healthz


def median(client, url: str, before=None) -> Figure:
    """REPEATS requests of ``url``, each right after one of ``/healthz``: the page's median and the floor's,
    measured under the same load (the machine is shared: the ratio is what compares across runs)."""
    pages, floors = [], []
    for _ in range(REPEATS):
        floors.append(timed(client, "/healthz"))
        pages.append(timed(client, url, before))
    return Figure(statistics.median(pages), statistics.median(floors))


class Ahead:
    """The app's refresher (services.refresher), switched off for "opened at once" and waited for otherwise."""

    def __init__(self, app):
        self.app, self.refresher, self.ready = app, refresher.of(app), []
        app.config["REFRESH_DELAY"] = 0.0  # the bench waits for it: no need to gather changes
        app.config["REFRESH_MAX_LOAD"] = 1000  # nor for a spare core: the bench is the machine's load

    @contextlib.contextmanager
    def off(self):
        """Changes in the block are not refreshed ahead: the page opened next computes them."""
        self.app.extensions.pop(refresher.EXTENSION)
        try:
            yield
        finally:
            self.app.extensions[refresher.EXTENSION] = self.refresher

    def change(self, grid: Grid):
        """``grid.change``, then wait until the refresher is done with it (untimed; its time is kept in ready)."""

        def before() -> None:
            grid.change()
            start = time.perf_counter()
            assert self.refresher.wait_idle(120)
            self.ready.append((time.perf_counter() - start) * 1000)

        return before

    def ready_ms(self) -> float:
        """The median time from the change's answer to the refresher's end, and start again."""
        value, self.ready = statistics.median(self.ready), []
        return value


def count_statements(engine, action) -> int:
    statements: list[str] = []

    def record(conn, cursor, statement, *rest):
        if not statement.startswith("BEGIN"):  # transaction control (sent explicitly on SQLite), not a query
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def computed_since(app):
    """A function that counts the summaries computed (stored) since this call."""
    with app.app_context():
        start = db.session.scalar(sa.select(sa.func.max(FamilySummary.computed_at)))

    def since() -> int:
        with app.app_context():
            return db.session.scalar(
                sa.select(sa.func.count()).select_from(FamilySummary).where(FamilySummary.computed_at > start)
            )

    return since


def main(url: str | None, quick: bool) -> None:
    dashboards = DASHBOARDS[:2] if quick else DASHBOARDS
    caseloads = [20, 200] if quick else CASELOADS
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{tmp}/bench.sqlite"
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "TWO_FACTOR_ROLES": []}
        )
        with app.app_context():
            db.drop_all()
            db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
            flask_migrate.upgrade()
            lead_id = accounts.create_user(EMAIL, PASSWORD, "team_lead", "Bench team").id
            therapist_id = accounts.create_user(THERAPIST, PASSWORD, "therapist", "Bench team").id
            db.session.commit()
            engine = db.engine
        csv_path = Path(tmp) / "bench.csv"
        client = app.test_client()
        client.post("/login", data={"email": EMAIL, "password": PASSWORD})
        healthz = [median(client, "/healthz")]
        print(f"database: {engine.dialect.name}; {REPEATS} requests per figure; server time in ms")

        rows = [row for m, s in dashboards for row in family_rows(f"D-{m}x{s}", m, s, rng)]
        seconds = import_rows(app, lead_id, csv_path, rows)
        print(f"dashboards imported ({len(rows):,} rows) and summarised in {seconds:.1f} s")
        ahead = Ahead(app)
        dashboard = {}
        for m, s in dashboards:
            page = f"/families/D-{m}x{s}"
            grid = Grid(client, f"D-{m}x{s}", s)
            first = timed(client, page)
            with ahead.off():
                at_once = median(client, page, grid.change)
            refreshed = median(client, page, ahead.change(grid))
            dashboard[(m, s)] = (first, median(client, page), at_once, refreshed, ahead.ready_ms())

        caseload = {}
        families = 0
        for size in caseloads:
            new = size - families
            rows = (row for i in range(families, size) for row in family_rows(f"F{i:05d}", 3, 6, rng, full=False))
            seconds = import_rows(app, therapist_id, csv_path, rows)
            families = size
            print(f"caseload of {size:,}: {new:,} families imported and summarised in {seconds:.1f} s")
            grid = Grid(client, "F00000", 6)
            since = computed_since(app)
            first = timed(client, "/families/")
            computed = since()
            cached = median(client, "/families/")
            rebuilt = median(client, "/families/", lambda: app.extensions.pop("familyalliance.pages", None))
            with ahead.off():
                changed = median(client, "/families/", grid.change)
            refreshed = median(client, "/families/", ahead.change(grid))
            ready = ahead.ready_ms()
            q_cached = count_statements(engine, lambda: client.get("/families/"))
            with ahead.off():
                grid.change()
                queries = (q_cached, count_statements(engine, lambda: client.get("/families/")))
            caseload[size] = (first, cached, rebuilt, changed, refreshed, ready, queries, computed)
        healthz.append(median(client, "/healthz"))

    print(f"/healthz alone: {', '.join(f'{h.healthz:.2f}' for h in healthz)} ms (start, end)")
    print("x: the page's median over the median of the /healthz requests interleaved with it (hz)")
    print(f"{'dashboard':34} {'first':>8} {'cached':>8} {'hz':>5} {'x':>6} {'changed':>8} {'hz':>5} {'x':>6}", end="")
    print(f" {'ahead':>8} {'hz':>5} {'x':>6} {'ready':>8}")
    for (m, s), (first, cached, changed, refreshed, ready) in dashboard.items():
        name = f"dashboard {m} members x {s} sessions"
        print(
            f"{name:34} {first:8.1f} {cached.ms:8.2f} {cached.healthz:5.2f} {cached.ratio:6.1f}"
            f" {changed.ms:8.2f} {changed.healthz:5.2f} {changed.ratio:6.1f}"
            f" {refreshed.ms:8.2f} {refreshed.healthz:5.2f} {refreshed.ratio:6.1f} {ready:8.1f}"
        )
    print(f"{'caseload':34} {'first':>8} {'cached':>8} {'x':>6} {'rebuilt':>8} {'hz':>5} {'x':>6}", end="")
    print(f" {'changed':>8} {'x':>6} {'ahead':>8} {'x':>6} {'ready':>8} {'SQL':>9} {'computed':>9}")
    for size, (first, cached, rebuilt, changed, refreshed, ready, (q_cached, q_changed), computed) in caseload.items():
        name = f"caseload of {size:,} families"
        print(
            f"{name:34} {first:8.1f} {cached.ms:8.2f} {cached.ratio:6.1f} {rebuilt.ms:8.2f} {rebuilt.healthz:5.2f}"
            f" {rebuilt.ratio:6.1f} {changed.ms:8.2f} {changed.ratio:6.1f} {refreshed.ms:8.2f} {refreshed.ratio:6.1f}"
            f" {ready:8.1f} {q_cached:4d}/{q_changed:<4d} {computed:9d}"
        )
    print("rebuilt: the page cache emptied before each request (the summaries fresh): the page built from them")
    print("changed: opened right after the grid's save, which changes one family, with the refresher off: the request")
    print("  computes what changed (the dashboard; the caseload: the family's summary)")
    print("ahead: opened after the refresher (services.refresher) was done with the save; ready: its median time")
    print("  from the save's answer until it was done (the page opened before that computes what it still needs)")
    print("SQL: statements for one cached / one after-a-change caseload request (the grid's save not counted)")
    print("computed: summaries computed by the first caseload request after `flask refresh-summaries` (should be 0)")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(arguments[0] if arguments else None, "--quick" in sys.argv)
