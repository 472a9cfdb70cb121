"""One small clinic for the tests that need people and families: the ``scenario`` fixture and its ``Scenario``.

The cast is always the same (everyone's password is ``factories.PASSWORD``, every email ``<name>@example.org``):

========  ============  ======  ==============================================
name      role          team    used for
========  ============  ======  ==============================================
ann       therapist     Team A  the therapist of FAM-1 and of the demo families
bob       therapist     Team A  a colleague of ann's, not assigned to FAM-1
cas       therapist     Team B  a therapist of another team
lead      team_lead     Team A  ann's and bob's team lead
lone      team_lead     Team C  a team lead whose team has no families
research  researcher    --      pseudonymised exports only
admin     admin         --      accounts and teams
========  ============  ======  ==============================================

A test module picks the families it starts from with ``pytestmark = pytest.mark.scenario(PART, ...)``:

- ``caseload``: a family per therapist and one they share (A-ANN, A-BOB, A-BOTH in Team A; B-CAS and
  B-ADMIN in Team B), with no members: who sees which family;
- ``visit``: FAM-1 of ann (Team A), Sandra (M1, mother) and Daan (C1, child) at session 1, each with a
  member link (``tokens``): one session, nothing answered yet;
- ``course``: FAM-1 of ann with Sandra (M1, mother), Noor (Y1, youth) and Daan (C1, child) over sessions
  1 to 3 (Noor absent at 2), answers stored at session 1 (``course_answers``); FAM-2 of cas (Team B) with
  Kees (M1, father) at session 1;
- ``demo``: ann's demo families (``services.demo``), with links made to the last session of the first.

``visit`` and ``course`` are two versions of FAM-1, so a module takes one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from familyalliance.core import vocab
from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import demo, requests, responses
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, Team, TherapySession, User

from .conftest import empty_tables
from .factories import gen_family, gen_member, gen_session, gen_user

#: name: (role, team)
PEOPLE = {
    "ann": ("therapist", "Team A"),
    "bob": ("therapist", "Team A"),
    "cas": ("therapist", "Team B"),
    "lead": ("team_lead", "Team A"),
    "lone": ("team_lead", "Team C"),
    "research": ("researcher", None),
    "admin": ("admin", None),
}

#: FAM-1's members in the ``course`` part, as stored (a test that edits one puts it back to this).
COURSE_MEMBERS = {
    "M1": {"code": "M1", "role": "mother", "display_name": "Sandra", "birth_year": 1980},
    "Y1": {"code": "Y1", "role": "youth", "display_name": "Noor", "birth_year": 2010},
    "C1": {"code": "C1", "role": "child", "display_name": "Daan", "birth_year": None},
}
COURSE_MEMBERS = {code: fields | {"active_from": None, "active_to": None} for code, fields in COURSE_MEMBERS.items()}


def email(name: str) -> str:
    """The email of a person of the cast."""
    return f"{name}@example.org"


@dataclass
class FamilyIds:
    """The ids of one family and of what the scenario made for it."""

    id: int
    members: dict[str, int] = field(default_factory=dict)  # member code: id
    sessions: dict[int, int] = field(default_factory=dict)  # session number: id
    tokens: dict[str, str] = field(default_factory=dict)  # member code: token of the link the scenario made


@dataclass
class Scenario:
    """Who and what a test starts from; ids as stored (building it again gives new ones)."""

    users: dict[str, int]  # name of PEOPLE: id
    teams: dict[str, int]  # "A", "B", "C": id
    families: dict[str, FamilyIds] = field(default_factory=dict)  # case code: ids
    parts: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)  # for the test's own use (kept across hypothesis examples)

    @property
    def fam1(self) -> FamilyIds:
        return self.families["FAM-1"]

    @property
    def fam2(self) -> FamilyIds:
        return self.families["FAM-2"]


def _ids(family: Family, linked: TherapySession | None = None) -> FamilyIds:
    """A family's ids as stored; with ``linked``, links made to that session (7 days) for everyone planned."""
    members = dict(db.session.execute(sa.select(Member.code, Member.id).where(Member.family_id == family.id)).all())
    sessions = sa.select(TherapySession.number, TherapySession.id).where(TherapySession.family_id == family.id)
    ids = FamilyIds(id=family.id, members=members, sessions=dict(db.session.execute(sessions).all()))
    if linked is not None:
        code = {member_id: member_code for member_code, member_id in members.items()}
        ids.tokens = {code[made.member_id]: token for made, token in requests.make_links(linked, 7)}
    return ids


def _caseload(users: dict[str, User]) -> dict[str, FamilyIds]:
    ann, bob, cas, admin = (users[name] for name in ("ann", "bob", "cas", "admin"))
    made = [
        gen_family("A-ANN", [ann], "Team A"),
        gen_family("A-BOB", [bob], "Team A"),
        gen_family("A-BOTH", [ann, bob], "Team A"),
        gen_family("B-CAS", [cas], "Team B"),
        gen_family("B-ADMIN", [admin], "Team B"),
    ]
    return {family.code: _ids(family) for family in made}


def _visit(users: dict[str, User]) -> dict[str, FamilyIds]:
    family = gen_family("FAM-1", [users["ann"]])
    gen_member(family, "M1", "mother", "Sandra")
    gen_member(family, "C1", "child", "Daan")
    return {"FAM-1": _ids(family, linked=gen_session(family, 1))}


def course_answers(family: FamilyIds) -> None:
    """FAM-1's answers at session 1 in the ``course`` part: M1's and Y1's quick check, the therapist's view of M1."""
    answers = [("M1", "self", "check4", 7), ("Y1", "self", "check4", 3), ("M1", "therapist", "observer4", 1)]
    responses.store_responses(
        {
            "family_id": family.id,
            "member_id": family.members[code],
            "session_id": family.sessions[1],
            "informant": informant,
            "target": "therapist",
            "instrument": instrument,
            "item": item,
            "value": value,
        }
        for code, informant, instrument, value in answers
        for item in vocab.DIMENSIONS
    )


def _course(users: dict[str, User]) -> dict[str, FamilyIds]:
    family = gen_family("FAM-1", [users["ann"]])
    members = {code: gen_member(family, **fields) for code, fields in COURSE_MEMBERS.items()}
    for number in (1, 3):
        gen_session(family, number)
    gen_session(family, 2, present=[members["M1"], members["C1"]])
    other = gen_family("FAM-2", [users["cas"]], team_name="Team B")
    gen_member(other, "M1", "father", "Kees")
    gen_session(other, 1)
    made = {"FAM-1": _ids(family), "FAM-2": _ids(other)}
    course_answers(made["FAM-1"])
    return made


def _demo(users: dict[str, User]) -> dict[str, FamilyIds]:
    codes = demo.load_demo(users["ann"], builtin_instruments())
    families = {f.code: f for f in db.session.scalars(sa.select(Family).where(Family.code.in_(codes)))}
    first = min(families)
    return {
        code: _ids(family, linked=family.sessions[-1] if code == first else None) for code, family in families.items()
    }


BUILDERS = {"caseload": _caseload, "visit": _visit, "course": _course, "demo": _demo}


def build(*parts: str) -> Scenario:
    """Store the cast and the families of ``parts`` (inside an app context) and commit; return their ids."""
    if set(parts) - set(BUILDERS) or {"visit", "course"} <= set(parts):
        raise ValueError(f"not a scenario: {parts} (parts: {', '.join(BUILDERS)}; visit and course exclude each other)")
    users = {name: gen_user(role, team, email(name)) for name, (role, team) in PEOPLE.items()}
    teams = {name.removeprefix("Team "): team_id for name, team_id in db.session.execute(sa.select(Team.name, Team.id))}
    families = {}
    for part in parts:
        families |= BUILDERS[part](users)
    db.session.commit()
    return Scenario(users={name: user.id for name, user in users.items()}, teams=teams, families=families, parts=parts)


def rebuild(app, scenario: Scenario) -> Scenario:
    """Empty every table and build the same scenario again (new ids: log in again after this)."""
    with app.app_context():
        empty_tables()
        made = build(*scenario.parts)
        db.session.remove()
    return made


@pytest.fixture
def scenario(request, app) -> Scenario:
    """The cast, and the families of the module's (or test's) ``scenario`` marker; see this module's docstring."""
    marker = request.node.get_closest_marker("scenario")
    with app.app_context():
        made = build(*(marker.args if marker else ()))
        db.session.remove()
    return made
