"""The data model's guarantees, checked by the database itself on SQLite and PostgreSQL."""

import pytest
import sqlalchemy as sa

from familyalliance.services import responses
from familyalliance.store.db import db
from familyalliance.store.models import Attendance, Family, Member, Response, TherapySession

from ..factories import commit, gen_family, gen_member, gen_session, gen_user


@pytest.fixture
def two_families(app):
    with app.app_context():
        t = gen_user()
        a = gen_family("A", [t])
        b = gen_family("B", [t])
        for f in (a, b):
            gen_member(f, "M1")
            gen_member(f, "Y1", "youth")
            gen_session(f, 1)
        commit()
        return {
            f.code: {"family": f.id, "members": [m.id for m in f.members], "session": f.sessions[0].id} for f in (a, b)
        }


def row(ids, member=0, item="bond", value=5, session=None, **kw):
    return {
        "family_id": ids["family"],
        "member_id": ids["members"][member],
        "item": item,
        "value": value,
        "session_id": session or ids["session"],
        "informant": "self",
        "target": "therapist",
        "instrument": "check4",
    } | kw


def test_bulk_store_and_unanswered(app, two_families):
    a = two_families["A"]
    with app.app_context():
        rows = [
            row(a, m, item, None if item == "safety" else 7)
            for m in (0, 1)
            for item in ("bond", "goals_tasks", "safety", "shared_purpose")
        ]
        assert responses.store_responses(rows) == 8
        commit()
        values = db.session.scalars(sa.select(Response.value).where(Response.item == "safety")).all()
    assert values == [None, None]


def test_one_answer_per_key(app, two_families):
    with app.app_context():
        responses.store_responses([row(two_families["A"])])
        commit()
        with pytest.raises(sa.exc.IntegrityError):
            responses.store_responses([row(two_families["A"], value=3)])
        db.session.rollback()
        # Same item, other target: a different key.
        responses.store_responses([row(two_families["A"], target="team")])
        commit()


def test_response_cannot_mix_families(app, two_families):
    """A member of family A cannot answer in a session of family B."""
    a, b = two_families["A"], two_families["B"]
    with app.app_context():
        with pytest.raises(sa.exc.IntegrityError):
            responses.store_responses([row(a, session=b["session"])])
        db.session.rollback()


@pytest.mark.parametrize("bad", [{"informant": "parent"}, {"target": "family"}])
def test_informant_and_target_checked_by_database(app, two_families, bad):
    with app.app_context():
        with pytest.raises((sa.exc.IntegrityError, sa.exc.StatementError, LookupError)):
            db.session.execute(sa.insert(Response.__table__), [row(two_families["A"], **bad)])
        db.session.rollback()


def test_session_number_positive_and_unique(app, two_families):
    with app.app_context():
        f = db.session.get(Family, two_families["A"]["family"])
        for number in (0, 1):
            with pytest.raises(sa.exc.IntegrityError):
                db.session.add(TherapySession(family=f, number=number, date=f.start_date))
                db.session.flush()
            db.session.rollback()


def test_deleting_a_family_removes_everything(app, two_families):
    """Cascades behave alike on both databases (SQLite enforces foreign keys here too)."""
    with app.app_context():
        responses.store_responses([row(two_families["A"]), row(two_families["B"])])
        commit()
        db.session.execute(sa.delete(Family).where(Family.code == "A"))
        commit()
        counts = {
            model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Member, TherapySession, Attendance, Response)
        }
    assert counts == {"Member": 2, "TherapySession": 1, "Attendance": 2, "Response": 1}
