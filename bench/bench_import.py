"""Benchmark: import and export of the long CSV against their floors, on SQLite, with peak memory.

Usage: .venv/bin/python bench/bench_import.py [ROWS]   (default 1,000,000)

- floor for the import: the same rows read with csv.reader and inserted into one plain SQLite
  table with sqlite3.executemany;
- the import: ``importer.import_long_csv`` into a fresh migrated database, in a child process
  so that its peak memory (max RSS) is its own; timed until its answers and their scores are
  committed, and the step after it (the expected trajectory and the caseload's summaries of the
  families it wrote, in transactions of their own) timed apart, with the whole call;
- floor for the export: the long table's SELECT dumped with csv.writer;
- the export: ``exporting.write_export("long", "csv", ...)``, as the export command runs it.
Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]
ROLES = ["mother", "father", "youth", "child"]
ITEMS = ["bond", "goals_tasks", "safety", "shared_purpose"]

CHILD = """
import json, resource, sys, time
from pathlib import Path
import flask_migrate
sys.path.insert(0, {root!r})
from familyalliance import create_app
from familyalliance.services import importer
from familyalliance.services import exporting
from familyalliance.core import analytics
from familyalliance.store.db import db
from familyalliance.store.registry import installed_instruments
app = create_app({{"SQLALCHEMY_DATABASE_URI": "sqlite:///{db}", "SECRET_KEY": "bench"}})
summarising = importer._summarise
marks = {{}}

def timed(family_ids):
    marks["committed"] = time.perf_counter()  # the answers and scores are committed: the import's own work
    summarising(family_ids)
    marks["summarised"] = time.perf_counter()

importer._summarise = timed
with app.app_context():
    flask_migrate.upgrade()
    start = time.perf_counter()
    summary = importer.import_long_csv(Path({csv!r}), installed_instruments())
    imported = marks["committed"] - start
    summarised = marks["summarised"] - marks["committed"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    exporting.write_export("long", "csv", Path({out!r}), None, analytics.DEFAULTS)
    exported = time.perf_counter() - start
print(json.dumps({{"rows": summary.rows, "families": len(summary.families_created), "import": imported,
                  "summaries": summarised, "rss_mb": rss / 1024, "export": exported}}))
"""


def make_csv(path: Path, rows: int) -> None:
    """A valid long CSV of ``rows`` check4 and observer4 answers: families of 4 members, 50 sessions.

    Rows come in the long export's order, so the export of the imported data should equal the file.
    """
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        written, family = 0, 0
        while written < rows:
            family += 1
            for m, role in enumerate(ROLES):
                for session in range(1, 51):
                    date = f"2026-{1 + session // 28:02d}-{1 + session % 28:02d}"
                    for informant, instrument in (("self", "check4"), ("therapist", "observer4")):
                        for item in ITEMS:
                            value = (family + session + m) % 11 if instrument == "check4" else (session + m) % 7 - 3
                            writer.writerow(
                                [
                                    f"FAM{family:05d}",
                                    f"M{m}",
                                    role,
                                    session,
                                    date,
                                    informant,
                                    "therapist",
                                    instrument,
                                    item,
                                    value,
                                ]
                            )
                            written += 1


def floor_insert(csv_path: Path, db_path: Path) -> float:
    """csv.reader plus sqlite3.executemany into one plain table."""
    start = time.perf_counter()
    connection = sqlite3.connect(db_path)
    connection.execute(f"CREATE TABLE rows ({', '.join(HEADER)})")
    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        connection.executemany(f"INSERT INTO rows VALUES ({', '.join('?' * len(HEADER))})", reader)
    connection.commit()
    connection.close()
    return time.perf_counter() - start


def floor_export(db_path: Path, out: Path) -> float:
    """The long table's SELECT, dumped with csv.writer."""
    start = time.perf_counter()
    connection = sqlite3.connect(db_path)
    cursor = connection.execute(
        "SELECT f.code, m.code, m.role, s.number, s.date, r.informant, r.target, r.instrument, r.item, r.value "
        "FROM response r JOIN family f ON f.id = r.family_id JOIN member m ON m.id = r.member_id "
        "JOIN therapy_session s ON s.id = r.session_id "
        "ORDER BY f.code, m.code, s.number, r.informant, r.target, r.instrument, r.item"
    )
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(cursor)
    connection.close()
    return time.perf_counter() - start


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / "ratings.csv"
        make_csv(source, rows)
        print(f"file: {source.stat().st_size / 1e6:.0f} MB")
        floor = floor_insert(source, tmp / "floor.sqlite")
        code = CHILD.format(root=str(ROOT), db=str(tmp / "app.sqlite"), csv=str(source), out=str(tmp / "long.csv"))
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if child.returncode:
            raise SystemExit(f"the importing process failed:\n{child.stderr[-4000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        export_floor = floor_export(tmp / "app.sqlite", tmp / "floor.csv")
        print(f"floor (csv.reader + sqlite3.executemany): {floor:.2f} s")
        print(
            f"import of {result['rows']:,} rows, answers and scores committed: {result['import']:.2f} s = "
            f"{result['import'] / floor:.2f} x floor; peak RSS of the importing process {result['rss_mb']:.0f} MB"
        )
        whole = result["import"] + result["summaries"]
        print(
            f"then the expected trajectory and the summaries of its {result['families']:,} families, in their own "
            f"transactions: {result['summaries']:.2f} s (the whole call {whole:.2f} s = {whole / floor:.2f} x floor)"
        )
        print(f"floor (SELECT dumped with csv.writer): {export_floor:.2f} s")
        print(f"long export: {result['export']:.2f} s = {result['export'] / export_floor:.2f} x floor")
        same = (tmp / "long.csv").read_bytes() == source.read_bytes()
        print(f"export byte-identical to the imported file: {same}")


if __name__ == "__main__":
    main()
