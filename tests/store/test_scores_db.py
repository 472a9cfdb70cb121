"""Answers stored, read back and scored: the same on SQLite and PostgreSQL.

Refusals of the shared validation are ``services/test_responses.py``; the family page's scores
``web/test_scores_page.py`` (both use this module's ``family`` and ``answers``).
"""

import datetime as dt

import pytest

from familyalliance.services import responses
from familyalliance.store import queries
from familyalliance.store.db import db
from familyalliance.store.models import Family
from familyalliance.store.registry import installed_instruments

from ..factories import commit, gen_family, gen_member, gen_session, gen_user


def make_family() -> int:
    """F-SCORE of a therapist: mother M1 and youth Y1 at session 1 (2 February 2026); returns its id."""
    family = gen_family("F-SCORE", [gen_user()])
    gen_member(family, "M1", "mother")
    gen_member(family, "Y1", "youth")
    gen_session(family, 1, dt.date(2026, 2, 2))
    commit()
    return family.id


@pytest.fixture
def family(app):
    with app.app_context():
        return make_family()


def answers(family_id, member_code, instrument, values, informant="self", target="therapist"):
    """Rows for store_answers: item codes in definition order, values as typed."""
    family = db.session.get(Family, family_id)
    member = next(m for m in family.members if m.code == member_code)
    items = installed_instruments()[instrument].item_codes
    return [
        {
            "family_id": family.id,
            "member_id": member.id,
            "session_id": family.sessions[0].id,
            "informant": informant,
            "target": target,
            "instrument": instrument,
            "item": item,
            "value": value,
        }
        for item, value in zip(items, values, strict=True)
    ]


def test_stored_answers_score_as_by_hand(app, family):
    with app.app_context():
        rows = answers(
            family, "M1", "alliance16", ["5", "4", "4", "5", "3", "3", "4", "2", "4", "4", "5", "1", "2", "3", "2", "5"]
        )
        rows += answers(family, "Y1", "check4", ["8", "", "10", "7"])
        rows += answers(family, "Y1", "observer4", ["3", "-3", "0", "1"], informant="therapist")
        assert responses.store_answers(rows, installed_instruments()) == 24
        commit()
        scores = queries.scores([family])
    assert scores[["member", "informant", "instrument"]].values.tolist() == [
        ["M1", "self", "alliance16"],
        ["Y1", "self", "check4"],
        ["Y1", "therapist", "observer4"],
    ]
    m1, y1, observed = (scores.iloc[i] for i in range(3))
    assert (m1.bond, m1.goals_tasks, m1.safety, m1.shared_purpose, m1.total) == (4.5, 3.0, 4.5, 2.0, 3.5)
    assert m1.total_pomp == 62.5
    assert (y1.bond, y1.safety, y1.shared_purpose) == (8.0, 10.0, 7.0)
    assert y1.goals_tasks != y1.goals_tasks and y1.total != y1.total  # NaN: unanswered, so no total
    assert observed.total == 0.25 and observed.shared_purpose_pomp == pytest.approx(400 / 6, rel=1e-15)
    assert m1.role == "mother" and m1.date == dt.date(2026, 2, 2) and m1.family == "F-SCORE"


def test_demo_scores_show_the_split_and_the_rupture(app, runner):
    """The demo data carries the stories it promises, seen through the scoring engine."""
    runner.invoke(args=["create-user", "demo@example.org", "--password", "long enough pw", "--role", "therapist"])
    assert runner.invoke(args=["demo", "--owner", "demo@example.org"]).exit_code == 0
    with app.app_context():
        scores = queries.scores()
    own = scores[(scores.informant == "self") & (scores.target == "therapist")]
    split = own[(own.family.str.endswith("-01")) & (own.session == 10)].set_index("member")
    assert split.loc["M1", "safety_pomp"] - split.loc["F1", "safety_pomp"] >= 37.5  # at least a moderate split
    jayden = own[(own.family.str.endswith("-02")) & (own.member == "Y1")].set_index("session")["total_pomp"]
    assert jayden[4] - jayden[5] >= 20  # a rupture at session 5 ...
    assert abs(jayden[7] - jayden[4]) <= 10  # ... and back near where it was by session 7
    team = scores[(scores.target == "team") & (scores.informant == "self")]
    assert not team.empty
