"""Reading the response store into DataFrames for scoring, analytics and exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pandas as pd
import sqlalchemy as sa

from .extensions import db
from .models import Family, Member, Response, TherapySession
from .registry import installed_instruments
from .scoring import score_frame

LONG_COLUMNS = ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]


def _long_query(family_ids: Sequence[int] | None) -> sa.Select:
    """The long table's rows, sorted as the long export wants them (metrics.md section 9)."""
    query = (
        sa.select(
            Family.code,
            Member.code,
            Member.role,
            TherapySession.number,
            TherapySession.date,
            Response.informant,
            Response.target,
            Response.instrument,
            Response.item,
            Response.value,
        )
        .join(Family, Family.id == Response.family_id)
        .join(Member, Member.id == Response.member_id)
        .join(TherapySession, TherapySession.id == Response.session_id)
        .order_by(
            Family.code,
            Member.code,
            TherapySession.number,
            Response.informant,
            Response.target,
            Response.instrument,
            Response.item,
        )
    )
    if family_ids is not None:
        query = query.where(Response.family_id.in_(family_ids))
    return query


def iter_long_rows(family_ids: Sequence[int] | None = None, batch: int = 10_000) -> Iterator[tuple]:
    """The long table as plain tuples, fetched a batch at a time (memory stays flat)."""
    cursor = db.session.connection().execute(_long_query(family_ids)).cursor
    while rows := cursor.fetchmany(batch):
        yield from rows


def responses_frame(family_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """The long table of metrics.md section 3 for the given families (all when None), one row per answer.

    Rows are fetched as plain tuples and turned into columns at once: building a million ORM
    rows would cost more than the query.
    """
    result = db.session.connection().execute(_long_query(family_ids))
    columns = list(zip(*result.cursor.fetchall(), strict=True)) if result.returns_rows else []
    if not columns:
        columns = [[] for _ in LONG_COLUMNS]
    frame = pd.DataFrame(dict(zip(LONG_COLUMNS, columns, strict=True)))
    frame["value"] = pd.array(frame["value"], dtype="Int64")
    frame["session"] = frame["session"].astype("int64")
    frame["date"] = _dates(frame["date"])
    return frame


def _dates(column: pd.Series) -> pd.Series:
    """Session dates as ``datetime.date`` (SQLite hands them over as ISO text)."""
    if column.empty or isinstance(column.iloc[0], dt.date):
        return column
    lookup = {text: dt.date.fromisoformat(text) for text in column.unique()}
    return column.map(lookup)


def scores(family_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Scores per form (metrics.md section 4) for the given families."""
    return score_frame(responses_frame(family_ids), installed_instruments())


def export_table(
    kind: str, family_ids: Sequence[int] | None, settings, pseudonymiser=None, instruments=None
) -> pd.DataFrame:
    """One of the export tables for the given families, pseudonymised when a pseudonymiser is given."""
    from . import exports

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
    from . import exports

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
