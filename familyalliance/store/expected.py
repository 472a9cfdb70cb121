"""The stored expected trajectory (metrics.md section 10): read by every analysis, written when the data changed.

The table holds one row per target and session number with the ``basis`` it was computed from:
a fingerprint of every family's revision (each write raises its family's revision in its own
transaction, ``summaries.touch``) and of the instruments. Finding out whether it is stale is one
aggregate over the family table; nothing is written per change. ``services.trajectories`` decides
when to recompute (never in a member's request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from familyalliance.core import analytics
from familyalliance.core.instruments import Instrument
from familyalliance.core.scoring import SCORES_EXPORT_COLUMNS
from familyalliance.store.db import db
from familyalliance.store.models import ExpectedTrajectory, Family, FormScore, Member, TherapySession, utcnow


def basis(instruments: Mapping[str, Instrument]) -> str:
    """The fingerprint of what the trajectory is computed from: every family's revision, and the instruments."""
    count, revisions, ids, weighted = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(Family.revision), 0),
            sa.func.coalesce(sa.func.sum(Family.id), 0),
            sa.func.coalesce(sa.func.sum(Family.id * Family.revision), 0),
        )
    ).one()
    text = json.dumps(
        {
            "families": [int(count), int(revisions), int(ids), int(weighted)],
            "instruments": sorted((code, i.version) for code, i in instruments.items()),
            "sessions": analytics.EXPECTED_SESSIONS,
            "minimum": analytics.EXPECTED_MINIMUM,
        }
    )
    return hashlib.sha256(text.encode()).hexdigest()


def stored_state() -> tuple[str | None, dt.datetime | None]:
    """(basis, computed_at) of the stored table; (None, None) when it was never computed."""
    row = db.session.execute(
        sa.select(ExpectedTrajectory.basis, ExpectedTrajectory.computed_at).order_by(ExpectedTrajectory.computed_at)
    ).first()
    if row is None:
        return None, None
    computed = row.computed_at
    return row.basis, computed if computed.tzinfo else computed.replace(tzinfo=dt.UTC)


def load() -> pd.DataFrame | None:
    """The stored table (``analytics.EXPECTED_COLUMNS``), or None when it was never computed."""
    rows = db.session.execute(
        sa.select(
            ExpectedTrajectory.target,
            ExpectedTrajectory.session,
            ExpectedTrajectory.n,
            ExpectedTrajectory.p10,
            ExpectedTrajectory.p25,
            ExpectedTrajectory.p50,
            ExpectedTrajectory.p75,
            ExpectedTrajectory.p90,
        ).order_by(ExpectedTrajectory.target, ExpectedTrajectory.session)
    ).all()
    if not rows:
        return None
    frame = pd.DataFrame([tuple(r) for r in rows], columns=analytics.EXPECTED_COLUMNS)
    columns = analytics.PERCENTILE_COLUMNS
    frame[columns] = frame[columns].astype("float64")
    return frame


def own_totals() -> pd.DataFrame:
    """Every member's own total scores (one row per form, as ``queries.scores`` gives them, other dimensions empty).

    What the trajectory is learned from: the stored form scores (informant ``self``), never the answers.
    """
    query = (
        sa.select(
            Family.code,
            Member.code,
            Member.role,
            TherapySession.number,
            FormScore.target,
            FormScore.instrument,
            FormScore.total,
            FormScore.total_pomp,
        )
        .join(Family, Family.id == FormScore.family_id)
        .join(Member, Member.id == FormScore.member_id)
        .join(TherapySession, TherapySession.id == FormScore.session_id)
        .where(FormScore.informant == "self", FormScore.total.is_not(None))
    )
    rows = db.session.connection().execute(query).cursor.fetchall()
    names = ["family", "member", "role", "session", "target", "instrument", "total", "total_pomp"]
    frame = pd.DataFrame(rows, columns=names)
    frame = frame.assign(informant="self", date=None)
    for column in SCORES_EXPORT_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
    frame[["total", "total_pomp"]] = frame[["total", "total_pomp"]].astype("float64")
    frame["session"] = frame["session"].astype("int64")
    return frame[SCORES_EXPORT_COLUMNS]


def store(table: pd.DataFrame, fingerprint: str) -> None:
    """Store ``table`` (``analytics.EXPECTED_COLUMNS``) as the trajectory, computed from ``fingerprint``."""
    now = utcnow()
    rows = []
    for record in table.to_dict("records"):
        row = {"target": record["target"], "session": int(record["session"]), "n": int(record["n"])}
        for column in analytics.PERCENTILE_COLUMNS:
            value = record[column]
            row[column] = None if value is None or np.isnan(value) else float(value)
        rows.append(row | {"basis": fingerprint, "computed_at": now})
    if not rows:
        return
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ExpectedTrajectory)
    updated = {c: insert.excluded[c] for c in rows[0] if c not in ("target", "session")}
    db.session.execute(insert.on_conflict_do_update(index_elements=["target", "session"], set_=updated), rows)
