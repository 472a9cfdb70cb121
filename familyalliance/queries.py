"""Reading the response store into DataFrames for scoring, analytics and exports."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from .extensions import db
from .models import Family, Member, Response, TherapySession
from .registry import installed_instruments
from .scoring import score_frame

LONG_COLUMNS = ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]


def responses_frame(family_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """The long table of metrics.md section 3 for the given families (all when None), one row per answer."""
    query = (
        sa.select(
            Family.code, Member.code, Member.role, TherapySession.number, TherapySession.date,
            Response.informant, Response.target, Response.instrument, Response.item, Response.value,
        )
        .join(Family, Family.id == Response.family_id)
        .join(Member, Member.id == Response.member_id)
        .join(TherapySession, TherapySession.id == Response.session_id)
    )  # fmt: skip
    if family_ids is not None:
        query = query.where(Response.family_id.in_(family_ids))
    frame = pd.DataFrame(db.session.execute(query).all(), columns=LONG_COLUMNS)
    frame["value"] = frame["value"].astype("Int64")
    frame["session"] = frame["session"].astype("int64")
    return frame


def scores(family_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Scores per form (metrics.md section 4) for the given families."""
    return score_frame(responses_frame(family_ids), installed_instruments())


def export_table(kind: str, family_ids: Sequence[int] | None, settings, pseudonymiser=None) -> pd.DataFrame:
    """One of the export tables for the given families, pseudonymised when a pseudonymiser is given."""
    from . import exports

    table = exports.build(kind, responses_frame(family_ids), installed_instruments(), settings)
    return pseudonymiser.apply(table) if pseudonymiser is not None else table
