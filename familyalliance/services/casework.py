"""Families, members and sessions: opening, changing and erasing them.

Every change raises the family's revision (``summaries.touch``) in the same transaction.
Services flush but leave committing to the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import email_validator
import sqlalchemy as sa

from familyalliance.core import plan, vocab
from familyalliance.services import requests
from familyalliance.services.errors import OperationError
from familyalliance.store import summaries
from familyalliance.store.db import db
from familyalliance.store.models import (
    Attendance,
    Family,
    FormScore,
    Member,
    QuestionnaireRequest,
    Response,
    ResponseChange,
    Team,
    TherapySession,
    User,
)


def create_family(
    code: str, start_date: dt.date, therapists: Iterable[User], team: Team | None, status: str = "active"
) -> Family:
    """Open a family with its assigned therapists."""
    family = Family(
        code=code,
        start_date=start_date,
        status=status,
        team=team,
        therapists=list(therapists),
        closed_on=dt.date.today() if status == "closed" else None,
    )
    db.session.add(family)
    db.session.flush()
    summaries.raise_teams([family.id])  # the team's caseload holds one more family
    summaries.raise_therapists([family.id])  # and so do its therapists'
    return family


def update_family(
    family: Family,
    code: str,
    start_date: dt.date,
    status: str,
    therapists: Iterable[User],
    full_every: int = plan.DEFAULT_FULL_EVERY,
) -> None:
    """Change a family's case data, questionnaire plan and assigned therapists."""
    family.code = code
    family.start_date = start_date
    if status == "closed" and family.status != "closed":
        family.closed_on = dt.date.today()
    elif status != "closed":
        family.closed_on = None
    family.status = status
    family.full_every = full_every
    before = {u.id for u in family.therapists}
    family.therapists = list(therapists)
    db.session.flush()
    summaries.touch([family.id])  # the caseload shows status and therapists
    summaries.raise_therapists([], before - {u.id for u in family.therapists})  # no longer theirs


def erase_family(family: Family) -> dict[str, int]:
    """Remove a family and every trace of it: members, sessions, attendance, answers and their stored
    scores, corrections, drafts and member links, the stored summary and the therapists' assignment.

    One DELETE of the family row; the database removes the rest through its ON DELETE CASCADE
    foreign keys, in the caller's transaction. Returns how many rows of each kind went (no content).
    """
    counted = {
        "members": Member,
        "sessions": TherapySession,
        "answers": Response,
        "scores": FormScore,
        "corrections": ResponseChange,
        "requests": QuestionnaireRequest,
    }
    counts = {
        name: db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.family_id == family.id))
        for name, model in counted.items()
    }
    summaries.raise_teams([family.id])  # the team's caseload holds one family fewer
    summaries.raise_therapists([family.id])  # and so do its therapists'
    db.session.execute(sa.delete(Family).where(Family.id == family.id))
    return counts


def member_email(address: str | None) -> str | None:
    """A member's e-mail address as stored: normalised, None when empty; OperationError when it is none."""
    address = (address or "").strip()
    if not address:
        return None
    try:
        return email_validator.validate_email(address, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as exc:
        raise OperationError(f"Not an e-mail address: {exc}") from None


def _contact(fields: dict) -> dict:
    """``fields`` with the address normalised and an empty language as none; checked before anything changes."""
    checked = dict(fields)
    if "email" in checked:
        checked["email"] = member_email(checked["email"])
    if "language" in checked:
        checked["language"] = checked["language"] or None
        if checked["language"] is not None and checked["language"] not in vocab.LANGUAGES:
            raise OperationError(
                f"Unknown language {checked['language']!r}; choose one of {', '.join(vocab.LANGUAGES)}."
            )
    return checked


def add_member(family: Family, **fields) -> Member:
    """Add a member to ``family``; ``fields`` are Member columns."""
    fields = _contact(fields)
    member = Member(family=family, **fields)
    db.session.add(member)
    db.session.flush()
    summaries.touch([family.id])
    return member


def update_member(member: Member, **fields) -> None:
    """Change a member's columns."""
    fields = _contact(fields)
    for name, value in fields.items():
        setattr(member, name, value)
    db.session.flush()
    summaries.touch([member.family_id])


def record_session(
    family: Family,
    number: int,
    date: dt.date,
    present_member_ids: Iterable[int],
    session: TherapySession | None = None,
    target: str = "therapist",
) -> TherapySession:
    """Create (or, given ``session``, update) a session with one attendance row per member.

    Each member present gets the questionnaire of the default plan (``plan.default_instrument``).
    """
    if session is None:
        session = TherapySession(family=family, number=number, date=date, target=target)
        db.session.add(session)
    else:
        session.number = number
        session.date = date
        session.target = target
    db.session.flush()
    present = set(present_member_ids)
    known = {a.member_id: a for a in session.attendance}
    for member in family.members:
        instrument = plan.default_instrument(member.role, number, family.full_every) if member.id in present else None
        if member.id in known:
            known[member.id].present = member.id in present
            known[member.id].instrument = instrument
        else:
            session.attendance.append(
                Attendance(
                    member_id=member.id, family_id=family.id, present=member.id in present, instrument=instrument
                )
            )
    db.session.flush()
    requests.sync_session(session)
    summaries.touch([family.id])
    return session


def assignable_therapists(team_id: int | None, user: User, assigned: Iterable[User] = ()) -> list[User]:
    """Active clinicians of the team (without a team: ``user``), plus those already assigned, by email."""
    query = sa.select(User).where(User.role.in_(vocab.CLINICAL_ROLES), User.active.is_(True))
    query = query.where(User.team_id == team_id) if team_id is not None else query.where(User.id == user.id)
    users = {u.id: u for u in db.session.scalars(query)}
    users.update({u.id: u for u in assigned})
    return sorted(users.values(), key=lambda u: u.email)


def accounts_by_id(ids: Iterable[int]) -> list[User]:
    """The accounts with these ids (the therapists ticked on a family form)."""
    ids = list(ids)
    return list(db.session.scalars(sa.select(User).where(User.id.in_(ids)))) if ids else []
