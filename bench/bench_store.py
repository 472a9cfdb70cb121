"""Benchmark: bulk-insert answers into the response store, then read one family back and score it.

Usage: .venv/bin/python bench/bench_store.py DATABASE_URL [ANSWERS]
The database should be empty or scratch: the benchmark builds the schema (migrations)
and adds its own families. Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import flask_migrate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from familyalliance import create_app
from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import accounts, casework, responses
from familyalliance.store import queries
from familyalliance.store.db import db


def main() -> None:
    url = sys.argv[1]
    target = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    check4 = builtin_instruments()["check4"]
    with app.app_context():
        flask_migrate.upgrade()
        therapist = accounts.create_user(f"bench{time.time_ns()}@example.org", "bench password", "therapist")
        rows, families, stamp = [], [], time.time_ns()
        while len(rows) < target:
            family = casework.create_family(f"B{stamp}-{len(families)}", dt.date(2026, 1, 1), [therapist], None)
            members = [casework.add_member(family, code=f"M{i}", display_name="x", role="mother") for i in range(8)]
            for number in range(1, 41):
                session = casework.record_session(family, number, dt.date(2026, 1, 1), [m.id for m in members])
                for m in members:
                    rows.extend(
                        {
                            "family_id": family.id,
                            "member_id": m.id,
                            "session_id": session.id,
                            "informant": "self",
                            "target": "therapist",
                            "instrument": "check4",
                            "item": item,
                            "value": (m.id + number) % 11,
                        }
                        for item in check4.item_codes
                    )
            families.append(family.id)
        db.session.commit()
        start = time.perf_counter()
        responses.store_responses(rows)
        db.session.commit()
        insert = time.perf_counter() - start
        print(f"{db.engine.dialect.name}: stored {len(rows):,} answers in {insert:.2f} s ({len(rows) / insert:,.0f}/s)")
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            scores = queries.scores([families[0]])
            timings.append(time.perf_counter() - start)
        print(
            f"read and score one family (8 members x 40 sessions, {len(scores)} forms): "
            f"best {min(timings) * 1000:.0f} ms of 5"
        )
        db.engine.dispose()


if __name__ == "__main__":
    main()
