"""Small ``gen_*`` factories for test data; each flushes and returns the new object."""

from __future__ import annotations

import datetime as dt
import itertools

from familyalliance.services import accounts, casework
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, TherapySession, User

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def gen_user(
    role: str = "therapist", team: str | None = "Team A", email: str | None = None, password: str = PASSWORD
) -> User:
    """An account (its team is created when new)."""
    email = email or f"user{next(_counter)}@example.org"
    return accounts.create_user(email, password, role, team)


def gen_family(
    code: str | None = None,
    therapists: list[User] = (),
    team_name: str | None = "Team A",
    start_date: dt.date = dt.date(2026, 1, 5),
    status: str = "active",
) -> Family:
    """A family with the given therapists."""
    team = accounts.get_or_create_team(team_name) if team_name else None
    code = code or f"FAM-{next(_counter):03d}"
    return casework.create_family(code, start_date, list(therapists), team, status=status)


def gen_member(
    family: Family, code: str = "M1", role: str = "mother", display_name: str | None = None, **fields
) -> Member:
    """A member of ``family``."""
    return casework.add_member(family, code=code, role=role, display_name=display_name or f"Name {code}", **fields)


def gen_session(
    family: Family, number: int = 1, date: dt.date | None = None, present: list[Member] | None = None
) -> TherapySession:
    """A session of ``family``; everyone present unless ``present`` says otherwise."""
    date = date or family.start_date + dt.timedelta(days=7 * number)
    members = family.members if present is None else present
    return casework.record_session(family, number, date, [m.id for m in members])


def commit() -> None:
    """Commit the test data."""
    db.session.commit()
