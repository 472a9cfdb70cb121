"""Retention: which closed families are past the period the law keeps them (erasure is ``casework.erase_family``),
and the supervision notes on therapists' profiles past the same period (erased here, like other clinical notes).

A supervision note goes with its therapist's account (ON DELETE CASCADE); while the account stays, a
note is kept ``RETENTION_YEARS`` after it was written, as clinical notes are, and then erased.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from familyalliance.services import policy
from familyalliance.store.db import db
from familyalliance.store.models import Family, SupervisionNote, TherapySession, User


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


def _notes_past_retention(user: User, cutoff: dt.date) -> sa.Select:
    """The ids of the supervision notes ``user`` may erase, written on or before ``cutoff``: every note (admin),
    the notes on the profiles a team lead may see."""
    day_after = dt.datetime.combine(cutoff + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    query = sa.select(SupervisionNote.id).where(SupervisionNote.created_at < day_after)
    if user.role == "admin":
        return query
    accounts = policy.profile_accounts(user).with_only_columns(User.id).scalar_subquery()
    return query.where(SupervisionNote.therapist_id.in_(accounts))


def notes_past_retention(user: User, cutoff: dt.date) -> int:
    """How many supervision notes ``user`` may erase are past the retention period (written on or before ``cutoff``)."""
    ids = _notes_past_retention(user, cutoff).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(ids))


def erase_notes_past_retention(user: User, cutoff: dt.date) -> int:
    """Erase the supervision notes ``user`` may erase that were written on or before ``cutoff``; returns how many."""
    ids = list(db.session.scalars(_notes_past_retention(user, cutoff)))
    if ids:
        db.session.execute(sa.delete(SupervisionNote).where(SupervisionNote.id.in_(ids)))
    return len(ids)
