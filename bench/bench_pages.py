"""Benchmark: server time of the family dashboard and the caseload against /healthz, in one run.

Usage: .venv/bin/python bench/bench_pages.py [DATABASE_URL]   (default: a fresh SQLite file)

- data: one family of 8 members and 40 sessions (check4 each session, alliance16 every
  third, the therapist's observer4), and 2,000 further families of 4 members and 12 sessions,
  all in one team, imported through ``importer.import_long_csv``;
- each page is requested in-process through Flask's test client as the team lead (server
  time: routing, queries, analytics, templates; no network), 50 times after a first request,
  the median reported next to /healthz's median from the same run;
- "rebuilt": the page cache emptied before each request, as after any change to the family
  (dashboard) or to any visible family (caseload): summaries stay stored, the page is built;
- "cold" is the first request: for the dashboard the charts are built (later requests use
  the per-process cache until the family changes); for the caseload every family's summary
  is computed and stored (later requests read the stored summaries);
- the caseload's SQL statements are counted per page.
Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from familyalliance import create_app  # noqa: E402
from familyalliance.services import accounts, importer  # noqa: E402
from familyalliance.store.db import db  # noqa: E402
from familyalliance.store.models import Family  # noqa: E402
from familyalliance.store.registry import installed_instruments  # noqa: E402

HEADER = ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]
ROLES = ["mother", "father", "youth", "child", "sibling", "grandparent", "child", "youth"]
DIMS = ["bond", "goals_tasks", "safety", "shared_purpose"]
REPEATS = 50


def family_rows(code: str, members: int, sessions: int, rng: random.Random):
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
            if s % 3 == 0:
                for d in DIMS:
                    for i in range(1, 5):
                        value = min(5, max(1, round(1 + level * 0.4 + rng.uniform(-1, 1))))
                        yield [code, member, role, s, date, "self", "therapist", "alliance16", f"{d}_{i}", value]


def make_csv(path: Path) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(family_rows("BIG-8x40", 8, 40, rng))
        for i in range(2000):
            writer.writerows(family_rows(f"F{i:04d}", 4, 12, rng))


def median_ms(client, url: str, rebuild: bool = False) -> tuple[float, float]:
    """(first request, median of the next REPEATS) in milliseconds; ``rebuild``: empty the page cache each time."""
    start = time.perf_counter()
    response = client.get(url)
    first = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(REPEATS):
        if rebuild:
            client.application.extensions.pop("familyalliance.pages", None)
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    return first * 1000, statistics.median(times) * 1000


def main(url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{tmp}/bench.sqlite"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "bench",
                "WTF_CSRF_ENABLED": False,
                "TWO_FACTOR_ROLES": [],  # the pages are measured, not the login
            }
        )
        with app.app_context():
            db.drop_all()
            db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
            flask_migrate.upgrade()
            lead = accounts.create_user("lead@example.org", "bench password 1", "team_lead", "Bench team")
            db.session.commit()
            path = Path(tmp) / "bench.csv"
            make_csv(path)
            start = time.perf_counter()
            summary = importer.import_long_csv(path, installed_instruments(), team=lead.team, therapists=[lead])
            print(
                f"imported {summary.rows:,} rows in {time.perf_counter() - start:.1f} s; "
                f"{db.session.scalar(sa.select(sa.func.count(Family.id))):,} families"
            )
        client = app.test_client()
        client.post("/login", data={"email": "lead@example.org", "password": "bench password 1"})
        statements: list[str] = []
        with app.app_context():
            engine = db.engine
        results = {}
        results["healthz"] = median_ms(client, "/healthz")
        results["dashboard 8x40"] = median_ms(client, "/families/BIG-8x40")
        results["caseload page 1"] = median_ms(client, "/families/")
        results["caseload flag=split"] = median_ms(client, "/families/?flag=split&page=2")
        results["caseload, rebuilt"] = median_ms(client, "/families/", rebuild=True)
        results["dashboard, rebuilt"] = median_ms(client, "/families/BIG-8x40", rebuild=True)
        results["healthz (again)"] = median_ms(client, "/healthz")

        def record(conn, cursor, statement, *rest):
            statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", record)
        client.application.extensions.pop("familyalliance.pages", None)
        client.get("/families/")
        sa.event.remove(engine, "before_cursor_execute", record)
        healthz = min(results["healthz"][1], results["healthz (again)"][1])
        print(f"database: {engine.dialect.name}; {REPEATS} requests each after a first one")
        print(f"{'page':24} {'first ms':>9} {'median ms':>10} {'x healthz':>10}")
        for name, (first, median) in results.items():
            print(f"{name:24} {first:9.1f} {median:10.2f} {median / healthz:10.1f}")
        print(f"SQL statements for one caseload page: {len(statements)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
