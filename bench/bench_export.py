"""Benchmark: peak memory of the family-metrics export (metrics.md section 5) of many families, on SQLite.

Usage: .venv/bin/python bench/bench_export.py [FAMILIES] [KIND]   (default 2,000 families, ``family``)

- data: bench_import.py's long CSV (families of 4 members over 50 sessions, ``check4`` and
  ``observer4``: 1,600 rows a family, 3.2 million rows for 2,000 families), imported through
  ``importer.import_long_csv`` into a fresh migrated database;
- the export as ``flask export family --format csv`` runs it (``exporting.write_export``: a batch of
  families at a time), in a child process of its own so that its peak memory (max RSS) is its own;
- the same table built at once (``exporting.export_table`` and ``exports.write``, as every
  export was written before), in another child process, for the comparison; both files must be
  byte for byte the same.
Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_import import make_csv  # noqa: E402

#: Rows of one family in bench_import's file.
FAMILY_ROWS = 4 * 50 * 2 * 4

SETUP = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from familyalliance import create_app
from familyalliance.core import analytics, exports
from familyalliance.services import exporting, importer
from familyalliance.store.registry import installed_instruments
app = create_app({{"SQLALCHEMY_DATABASE_URI": "sqlite:///{db}", "SECRET_KEY": "bench"}})
"""

IMPORT = """
import flask_migrate
with app.app_context():
    flask_migrate.upgrade()
    summary = importer.import_long_csv(Path({csv!r}), installed_instruments())
print(json.dumps({{"rows": summary.rows, "families": len(summary.families_created)}}))
"""

EXPORT = """
with app.app_context():
    start = time.perf_counter()
    if {whole!r}:
        table = exporting.export_table({kind!r}, None, analytics.DEFAULTS)
        exports.write({kind!r}, table, "csv", Path({out!r}), installed_instruments(), analytics.DEFAULTS, False)
        rows = len(table)
    else:
        rows, _ = exporting.write_export({kind!r}, "csv", Path({out!r}), None, analytics.DEFAULTS)
    seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"rows": rows, "seconds": seconds, "rss_mb": rss}}))
"""


def child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; its last line of output, as JSON."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the child process failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    families = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    kind = sys.argv[2] if len(sys.argv) > 2 else "family"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        setup = SETUP.format(root=str(ROOT), db=str(tmp / "app.sqlite"))
        source = tmp / "ratings.csv"
        make_csv(source, families * FAMILY_ROWS)
        start = time.perf_counter()
        imported = child(setup + IMPORT.format(csv=str(source)))
        print(
            f"imported {imported['rows']:,} rows of {imported['families']:,} families "
            f"in {time.perf_counter() - start:.0f} s"
        )
        source.unlink()
        # The baseline: the interpreter with the app, pandas and SQLAlchemy loaded, nothing exported.
        idle = child(setup + "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
        print(f"a process with the app loaded: {idle:.0f} MB")
        results = {}
        for whole in (False, True):
            out = tmp / f"{kind}-{'whole' if whole else 'batches'}.csv"
            results[whole] = child(setup + EXPORT.format(kind=kind, whole=whole, out=str(out)))
            how = "the whole table at once (as before)" if whole else "a batch of families at a time"
            r = results[whole]
            print(f"{kind} export, {how}: {r['rows']:,} rows in {r['seconds']:.1f} s, peak RSS {r['rss_mb']:.0f} MB")
        same = (tmp / f"{kind}-batches.csv").read_bytes() == (tmp / f"{kind}-whole.csv").read_bytes()
        print(f"byte for byte the same file: {same}")


if __name__ == "__main__":
    main()
