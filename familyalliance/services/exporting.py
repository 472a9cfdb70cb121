"""Exports: building the tables of metrics.md from the response store and writing them to files.

The web's Export page and ``flask export`` call :func:`write_export` alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from familyalliance.store.queries import iter_long_rows, responses_frame
from familyalliance.store.registry import installed_instruments


def export_table(
    kind: str, family_ids: Sequence[int] | None, settings, pseudonymiser=None, instruments=None
) -> pd.DataFrame:
    """One of the export tables for the given families, pseudonymised when a pseudonymiser is given."""
    from familyalliance.core import exports

    instruments = instruments if instruments is not None else installed_instruments()
    table = exports.build(kind, responses_frame(family_ids), instruments, settings)
    return pseudonymiser.apply(table) if pseudonymiser is not None else table


def write_export(
    kind: str, fmt: str, path, family_ids: Sequence[int] | None, settings, pseudonymiser=None, language: str = "en"
) -> tuple[int, list]:
    """Build and write one export; returns (rows, files written).

    The plain long CSV streams from the database to the file; every other export is built
    as a table first (pseudonymising re-sorts by the new codes).
    """
    from familyalliance.core import exports

    instruments = installed_instruments()
    if kind == "long" and fmt == "csv" and pseudonymiser is None:
        counter = _Counter(iter_long_rows(family_ids))
        exports.write_long_csv(counter, path)
        book = path.with_name(path.stem + "-codebook.csv")
        exports.write_codebook_csv(list(exports.COLUMNS["long"]), instruments, book)
        return counter.count, [path, book]
    table = export_table(kind, family_ids, settings, pseudonymiser, instruments)
    dates = pseudonymiser.dates if pseudonymiser is not None else "shift"
    written = exports.write(kind, table, fmt, path, instruments, settings, pseudonymiser is not None, dates, language)
    return len(table), written


class _Counter:
    """Pass rows through, counting them."""

    def __init__(self, rows):
        self.rows, self.count = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row
