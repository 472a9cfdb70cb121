"""Casework: erasing a family is one transaction; closing a family dates it."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from familyalliance.core.instruments import builtin_instruments
from familyalliance.services import casework, demo, requests
from familyalliance.store.db import db
from familyalliance.store.models import Family

from ..factories import commit, gen_family, gen_user


def make_clinic() -> str:
    """The demo families of a therapist in Team A, with member links made; a lead per team. Returns the first code."""
    ann = gen_user("therapist", "Team A", "ann@example.org")
    gen_user("team_lead", "Team A", "lead@example.org")
    gen_user("team_lead", "Team B", "lead-b@example.org")
    demo.load_demo(ann, builtin_instruments())
    family = db.session.scalar(sa.select(Family).order_by(Family.code))
    made = requests.make_links(family.sessions[-1], 7)
    requests.save_draft(made[0][0], {"bond": "7"}, builtin_instruments())
    commit()
    return family.code


@pytest.fixture
def clinic(app):
    with app.app_context():
        return make_clinic()


def rows_per_table() -> dict[str, list[tuple]]:
    """Every row of every table, as tuples of text."""
    return {
        table.name: [tuple(str(v) for v in row) for row in db.session.execute(table.select())]
        for table in db.metadata.sorted_tables
    }


def test_erasure_is_one_transaction(app, clinic):
    """Up to the commit nothing is gone: a failure after the delete leaves the family whole."""
    with app.app_context():
        family = db.session.scalar(sa.select(Family).where(Family.code == clinic))
        before = rows_per_table()
        casework.erase_family(family)
        db.session.rollback()
        assert rows_per_table() == before


def test_closing_a_family_dates_it(app):
    with app.app_context():
        family = gen_family("F1", [], "Team A")
        assert family.closed_on is None
        casework.update_family(family, "F1", family.start_date, "closed", [])
        assert family.closed_on == dt.date.today()
        casework.update_family(family, "F1", family.start_date, "active", [])
        assert family.closed_on is None
