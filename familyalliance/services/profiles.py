"""The therapist's alliance profile (metrics.md section 11) for reflection and supervision, and its notes.

A profile is read from the same analysis every family page reads (``queries.analysis``: the series,
the ruptures with their status, the perspective gaps), over the families a therapist is assigned to;
the team's profile over all of the team's families. Who may see whose profile is
``policy.profile_accounts``; nobody is ranked: a team lead's overview lists the team's therapists
alphabetically.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from flask import current_app

from familyalliance import config
from familyalliance.core import analytics
from familyalliance.services import policy
from familyalliance.store import queries
from familyalliance.store.db import db
from familyalliance.store.models import (
    SUPERVISION_NOTE_MAX_LENGTH,
    Family,
    SupervisionNote,
    TherapySession,
    User,
    family_therapist,
)

TEAM = "team"
#: Quarters on the profile's chart.
QUARTERS = 4


@dataclass
class Profile:
    """The profiles of some owners (``TEAM`` and account ids) over a period, per group, and per quarter."""

    start: dt.date
    end: dt.date
    #: owner -> group -> measure -> value (None where empty).
    table: dict
    #: The quarterly profiles (``period``, ``owner``, ``group`` and the measures), group ``all``.
    quarters: pd.DataFrame

    def of(self, owner) -> dict:
        return self.table.get(owner, {})

    def empty(self, owner) -> bool:
        """Whether the owner had no family-session in the period."""
        return not self.of(owner).get("all", {}).get("sessions")


def visible_account(viewer: User, user_id: int) -> User | None:
    """The account ``user_id`` if ``viewer`` may see its profile, else None."""
    return db.session.scalar(policy.profile_accounts(viewer).where(User.id == user_id))


def team_therapists(lead: User) -> list[User]:
    """The therapists of a team lead's team, alphabetically (by e-mail address), never ranked."""
    if lead.team_id is None:
        return []
    query = policy.profile_accounts(lead).where(User.role == "therapist").order_by(User.email)
    return list(db.session.scalars(query))


def _assigned(user_ids: list[int]) -> dict[int, list[int]]:
    """Per account, the ids of the families it is assigned to."""
    out: dict[int, list[int]] = {uid: [] for uid in user_ids}
    rows = db.session.execute(
        sa.select(family_therapist.c.user_id, family_therapist.c.family_id).where(
            family_therapist.c.user_id.in_(user_ids)
        )
    )
    for uid, fid in rows:
        out[uid].append(fid)
    return out


def profiles(accounts: list[User], team_id: int | None, start: dt.date, end: dt.date, today: dt.date) -> Profile:
    """The profiles of ``accounts`` and of the team ``team_id`` over ``start``..``end``, and over the last quarters."""
    assigned = _assigned([a.id for a in accounts])
    team_ids = (
        list(db.session.scalars(sa.select(Family.id).where(Family.team_id == team_id))) if team_id is not None else []
    )
    owners_ids = {a.id: ids for a, ids in ((a, assigned[a.id]) for a in accounts)}
    if team_id is not None:
        owners_ids[TEAM] = team_ids
    every = sorted({fid for ids in owners_ids.values() for fid in ids})
    codes = dict(db.session.execute(sa.select(Family.id, Family.code).where(Family.id.in_(every))).all())
    owners = pd.DataFrame(
        [(owner, codes[fid]) for owner, ids in owners_ids.items() for fid in ids], columns=["owner", "family"]
    )
    missing = [o for o in owners_ids if o not in set(owners["owner"])]
    owner_list = pd.concat([owners, pd.DataFrame([(o, "") for o in missing], columns=["owner", "family"])])
    settings = config.analytics_settings(current_app)
    analysis = queries.analysis(every, settings)
    sessions = _sessions(every)
    args = (owner_list, sessions, analysis.series, analysis.ruptures, analysis.gaps)
    table = analytics.profiles(*args, start, end, settings)
    history = analytics.quarterly_profiles(*args, analytics.quarters(today, QUARTERS), settings)
    history = history[history["group"] == "all"].reset_index(drop=True)
    nested: dict = {}
    for record in table.to_dict("records"):
        values = {k: (None if pd.isna(v) else v) for k, v in record.items() if k in analytics.MEASURES}
        nested.setdefault(record["owner"], {})[record["group"]] = values
    return Profile(start=start, end=end, table=nested, quarters=history)


def _sessions(family_ids: list[int]) -> pd.DataFrame:
    """Every family-session of the families (``family`` code, ``session`` number, ``date``)."""
    sessions = pd.DataFrame(
        db.session.execute(
            sa.select(Family.code, TherapySession.number, TherapySession.date)
            .join(Family, Family.id == TherapySession.family_id)
            .where(TherapySession.family_id.in_(family_ids))
        ).all(),
        columns=["family", "session", "date"],
    )
    sessions["date"] = sessions["date"].map(lambda d: dt.date.fromisoformat(d) if isinstance(d, str) else d)
    return sessions


def notes(therapist: User) -> list[SupervisionNote]:
    """The supervision notes on a therapist's profile, newest first."""
    return list(
        db.session.scalars(
            sa.select(SupervisionNote)
            .where(SupervisionNote.therapist_id == therapist.id)
            .order_by(SupervisionNote.created_at.desc(), SupervisionNote.id.desc())
        )
    )


def add_note(therapist: User, author: User, text: str) -> SupervisionNote:
    """Keep a short dated note on ``therapist``'s profile, written by ``author`` (the therapist or their lead)."""
    text = text.replace("\r\n", "\n").strip()
    if not text or len(text) > SUPERVISION_NOTE_MAX_LENGTH:
        raise ValueError(f"a note is 1 to {SUPERVISION_NOTE_MAX_LENGTH} characters")
    note = SupervisionNote(therapist_id=therapist.id, author_id=author.id, text=text)
    db.session.add(note)
    db.session.flush()
    return note


def export_table(family_ids: list[int] | None, settings, pseudonymiser=None) -> pd.DataFrame:
    """The ``profiles`` research export over ``family_ids`` (all when None): per quarter of the last four, each
    therapist assigned to these families (over those of them) and each team (over its families among them), per
    group; pseudonymised always (the installation's key when no ``pseudonymiser`` is given), no family or date,
    and a profile from fewer than ``exports.PROFILE_MINIMUM_FAMILIES`` families suppressed."""
    from familyalliance.core import exports

    pseudonymiser = pseudonymiser or exports.Pseudonymiser(config.pseudonym_key(current_app))
    query = sa.select(Family.id, Family.code, Family.team_id)
    if family_ids is not None:
        query = query.where(Family.id.in_(family_ids))
    families = db.session.execute(query).all()
    ids = [fid for fid, _, _ in families]
    codes = {fid: code for fid, code, _ in families}
    assigned = db.session.execute(
        sa.select(family_therapist.c.user_id, User.team_id, family_therapist.c.family_id)
        .join(User, User.id == family_therapist.c.user_id)
        .where(family_therapist.c.family_id.in_(ids), User.role.in_(("therapist", "team_lead")))
    ).all()
    rows, owners = [], {}
    for uid, team_id, fid in assigned:
        owners[f"therapist:{uid}"] = (uid, team_id)
        rows.append((f"therapist:{uid}", codes[fid]))
    for _, code, team_id in families:
        if team_id is not None:
            owners[f"team:{team_id}"] = (None, team_id)
            rows.append((f"team:{team_id}", code))
    owner_frame = pd.DataFrame(rows, columns=["owner", "family"])
    analysis = queries.analysis(ids, settings)
    sessions = _sessions(ids)
    quarterly = analytics.quarterly_profiles(
        owner_frame,
        sessions,
        analysis.series,
        analysis.ruptures,
        analysis.gaps,
        analytics.quarters(dt.date.today(), QUARTERS),
        settings,
    )
    return exports.profile_table(quarterly, owners, pseudonymiser)
