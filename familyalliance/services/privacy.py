"""Retention: which closed families are past the period the law keeps them (erasure is ``casework.erase_family``)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from familyalliance.services import policy
from familyalliance.store.db import db
from familyalliance.store.models import Family, TherapySession, User


def retention_cutoff(years: int, today: dt.date | None = None) -> dt.date:
    """Families closed on or before this day are past a retention period of ``years`` (``RETENTION_YEARS``)."""
    today = today or dt.date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def past_retention(user: User, cutoff: dt.date) -> list:
    """(family, closed) of the closed families ``user`` may erase or report, closed on or before ``cutoff``.

    A family closed without a date counts from its last session, else its start. Admins see every
    family; team leads their own caseload.
    """
    last_session = (
        sa.select(sa.func.max(TherapySession.date)).where(TherapySession.family_id == Family.id).scalar_subquery()
    )
    closed = sa.func.coalesce(Family.closed_on, last_session, Family.start_date)
    scope = sa.select(Family) if user.role == "admin" else policy.visible_families(user)
    return db.session.execute(
        scope.add_columns(closed.label("closed"))
        .where(Family.status == "closed", closed <= cutoff)
        .order_by(closed, Family.code)
    ).all()
