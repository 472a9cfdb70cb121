"""Exports: building the tables of metrics.md and the research statistics from the response store, writing them.

The web's Export page and ``flask export`` call :func:`write_export` alike; ``flask export``
picks its families with :func:`select_families`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.store.models import Family, Team
from familyalliance.store.queries import iter_long_rows, responses_frame
from familyalliance.store.registry import installed_instruments


def select_families(codes: Sequence[str] = (), team_name: str | None = None) -> list[int] | None:
    """The ids of the families with these codes and of this team (None: every family, when neither is given).

    Raises OperationError naming the codes, or the team, that do not exist.
    """
    query = sa.select(Family.id, Family.code)
    if codes:
        query = query.where(Family.code.in_(codes))
    if team_name:
        query = query.join(Team).where(Team.name == team_name)
    found = db.session.execute(query).all()
    missing = sorted(set(codes) - {code for _, code in found})
    if missing:
        raise OperationError(f"No family {', '.join(missing)}.")
    if team_name and db.session.scalar(sa.select(Team.id).where(Team.name == team_name)) is None:
        raise OperationError(f"No team {team_name}.")
    return [family_id for family_id, _ in found] if (codes or team_name) else None


def export_table(
    kind: str, family_ids: Sequence[int] | None, settings, pseudonymiser=None, instruments=None
) -> pd.DataFrame:
    """One of the export tables for the given families, pseudonymised when a pseudonymiser is given."""
    from familyalliance.core import exports

    instruments = instruments if instruments is not None else installed_instruments()
    # Only the long table says how each form was given: the others do without the join to the requests.
    table = exports.build(kind, responses_frame(family_ids, with_mode=kind == "long"), instruments, settings)
    return pseudonymiser.apply(table) if pseudonymiser is not None else table


def write_export(
    kind: str, fmt: str, path, family_ids: Sequence[int] | None, settings, pseudonymiser=None, language: str = "en"
) -> tuple[int, list]:
    """Build and write one export; returns (rows, files written).

    The plain long CSV streams from the database to the file; every other export is built
    as a table first (pseudonymising re-sorts by the new codes). The long export, streamed or
    built, has the ``mode`` column: how each form was given (its request's ``answered_mode``).
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
        """Count the rows of ``rows`` as they pass."""
        self.rows, self.count = rows, 0

    def __iter__(self):
        """The rows, one at a time."""
        for row in self.rows:
            self.count += 1
            yield row
