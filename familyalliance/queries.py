"""Reading the response store into DataFrames for scoring, analytics and exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from .extensions import db
from .models import Family, Member, Response, TherapySession
from .registry import installed_instruments
from .scoring import score_frame

LONG_COLUMNS = ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]


def responses_frame(family_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """The long table of metrics.md section 3 for the given families (all when None), one row per answer.

    Rows come sorted as the long export wants them. They are fetched as plain tuples and
    turned into columns at once: building a million ORM rows would cost more than the query.
    """
    query = (
        sa.select(
            Family.code, Member.code, Member.role, TherapySession.number, TherapySession.date,
            Response.informant, Response.target, Response.instrument, Response.item, Response.value,
        )
        .join(Family, Family.id == Response.family_id)
        .join(Member, Member.id == Response.member_id)
        .join(TherapySession, TherapySession.id == Response.session_id)
        .order_by(Family.code, Member.code, TherapySession.number, Response.informant, Response.target,
                  Response.instrument, Response.item)
    )  # fmt: skip
    if family_ids is not None:
        query = query.where(Response.family_id.in_(family_ids))
    result = db.session.connection().execute(query)
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


def export_table(kind: str, family_ids: Sequence[int] | None, settings, pseudonymiser=None) -> pd.DataFrame:
    """One of the export tables for the given families, pseudonymised when a pseudonymiser is given."""
    from . import exports

    table = exports.build(kind, responses_frame(family_ids), installed_instruments(), settings)
    return pseudonymiser.apply(table) if pseudonymiser is not None else table
