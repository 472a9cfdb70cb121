"""Which families and accounts a user may see, export or manage: the data side of the access policy.

- therapist: the families assigned to them;
- team lead: their team's families, and any assigned to them; manages the team's therapists;
- admin: manages accounts and teams; sees only families assigned to them (no clinical data otherwise);
- researcher: no identifiable family at all, only pseudonymised exports.

Alliance profiles (metrics.md section 11): a therapist sees their own, never another's; a team lead
their own and each therapist's of their team.

The page side (which role may use which page) is ``web.access``.
"""

from __future__ import annotations

import sqlalchemy as sa

from familyalliance.store.models import Family, User, family_therapist


def visible_families(user: User) -> sa.Select:
    """Return a query for the families ``user`` may see."""
    query = sa.select(Family)
    if user.role == "researcher":
        return query.where(sa.false())
    team_id = visible_team(user)
    if team_id is not None:
        # Checked family by family (an index probe), so walking a team's families never first lists the lead's.
        assigned = sa.select(family_therapist).where(
            family_therapist.c.family_id == Family.id, family_therapist.c.user_id == user.id
        )
        return query.where(sa.or_(Family.team_id == team_id, assigned.exists()))
    return query.where(Family.id.in_(assigned_families(user)))


def visible_team(user: User) -> int | None:
    """The team whose families ``user`` sees, every one of them (a team lead's); None: only those assigned."""
    return user.team_id if user.role == "team_lead" else None


def assigned_families(user: User) -> sa.Select:
    """The ids of the families assigned to ``user``."""
    return sa.select(family_therapist.c.family_id).where(family_therapist.c.user_id == user.id)


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


def managed_users(user: User) -> sa.Select:
    """The accounts ``user`` manages: every account (admin), the therapists of their team (team lead)."""
    query = sa.select(User)
    if user.role == "admin":
        return query
    if user.role == "team_lead" and user.team_id is not None:
        return query.where(User.team_id == user.team_id, User.role == "therapist")
    return query.where(sa.false())


def profile_accounts(user: User) -> sa.Select:
    """The accounts whose alliance profile ``user`` may see: their own; a team lead also their team's therapists."""
    query = sa.select(User).where(User.role.in_(("therapist", "team_lead")))
    if user.role == "team_lead" and user.team_id is not None:
        return query.where(sa.or_(User.id == user.id, (User.team_id == user.team_id) & (User.role == "therapist")))
    if user.role in ("therapist", "team_lead"):
        return query.where(User.id == user.id)
    return query.where(sa.false())
