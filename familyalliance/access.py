"""The authorisation policy for families, in one place.

- therapist: the families assigned to them;
- team lead: their team's families, and any assigned to them;
- admin: only families assigned to them (administrators manage accounts, not cases);
- researcher: no identifiable family at all (research works on pseudonymised exports).

Every view that touches a family gets it through :func:`family_or_404`, so a family the
user may not see answers 404, exactly as a family that does not exist.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from .extensions import db
from .models import Family, TherapySession, User, family_therapist

#: Roles that carry a caseload and may create families.
CLINICAL_ROLES = ("therapist", "team_lead")


def visible_families(user: User) -> sa.Select:
    """Return a query for the families ``user`` may see."""
    assigned = sa.select(family_therapist.c.family_id).where(family_therapist.c.user_id == user.id)
    query = sa.select(Family)
    if user.role == "researcher":
        return query.where(sa.false())
    if user.role == "team_lead" and user.team_id is not None:
        return query.where(sa.or_(Family.team_id == user.team_id, Family.id.in_(assigned)))
    return query.where(Family.id.in_(assigned))


def can_see_family(user: User, family: Family) -> bool:
    """Return whether ``user`` may see ``family``."""
    query = visible_families(user).where(Family.id == family.id)
    return db.session.scalar(sa.select(query.exists())) or False


def can_create_family(user: User) -> bool:
    """Return whether ``user`` may open a new family."""
    return user.role in CLINICAL_ROLES


def family_or_404(code: str) -> Family:
    """Return the family with case ``code`` if the current user may see it, else abort with 404."""
    family = db.session.scalar(visible_families(current_user).where(Family.code == code))
    if family is None:
        abort(404)
    return family


def can_export(user: User) -> bool:
    """Researchers and team leads export data; researchers only pseudonymised."""
    return user.role in ("researcher", "team_lead")


def must_pseudonymise(user: User) -> bool:
    """Researchers never get identifiable data."""
    return user.role != "team_lead"


def exportable_families(user: User) -> sa.Select:
    """The families whose data ``user`` may export: a team lead's caseload; a researcher's team (or all)."""
    if user.role == "researcher":
        query = sa.select(Family)
        return query.where(Family.team_id == user.team_id) if user.team_id is not None else query
    if user.role == "team_lead":
        return visible_families(user)
    return sa.select(Family).where(sa.false())


def can_import(user: User) -> bool:
    """Importing ratings (creating families from a file) is an administrator's task."""
    return user.role == "admin"


def session_or_404(family: Family, number: int) -> TherapySession:
    """The session of a family the user may see (see ``family_or_404``) by its number, else abort with 404."""
    session = next((s for s in family.sessions if s.number == number), None)
    if session is None:
        abort(404)
    return session
