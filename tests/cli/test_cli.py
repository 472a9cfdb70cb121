"""The command-line tasks: create-user (with the password rules) and demo."""

import pytest
import sqlalchemy as sa

from familyalliance.core import vocab
from familyalliance.store.db import db
from familyalliance.store.models import Family, Member, Response, User

#: A password the rules accept (four unrelated words).
NEW_PASSWORD = "lantern quarry pebble oxide"


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_create_user(app, runner):
    result = runner.invoke(
        args=[
            "create-user",
            "Lead@Example.org",
            "--password",
            "long enough pw",
            "--role",
            "team_lead",
            "--team",
            "Noord",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created team_lead lead@example.org in team Noord." in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert (user.email, user.role, user.team.name) == ("lead@example.org", "team_lead", "Noord")


def test_create_user_errors(app, runner):
    ok = ["create-user", "a@example.org", "--password", "long enough pw", "--role", "therapist"]
    assert runner.invoke(args=ok).exit_code == 0
    duplicate = runner.invoke(args=ok)
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    short = runner.invoke(args=["create-user", "b@example.org", "--password", "short", "--role", "therapist"])
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad_role = runner.invoke(args=["create-user", "c@example.org", "--password", "long enough pw", "--role", "boss"])
    assert bad_role.exit_code == 2
    bad_email = runner.invoke(
        args=["create-user", "not-an-email", "--password", "long enough pw", "--role", "therapist"]
    )
    assert bad_email.exit_code == 1 and "Invalid email address" in bad_email.output
    with app.app_context():
        assert count(User) == 1


def test_demo_needs_an_existing_owner(app, runner):
    result = runner.invoke(args=["demo", "--owner", "nobody@example.org"])
    assert result.exit_code == 1
    assert "create it first" in result.output


def test_demo_is_realistic_and_idempotent(app, runner):
    runner.invoke(
        args=[
            "create-user",
            "demo@example.org",
            "--password",
            "long enough pw",
            "--role",
            "therapist",
            "--team",
            "Demo",
        ]
    )
    first = runner.invoke(args=["demo", "--owner", "demo@example.org"])
    assert first.exit_code == 0, first.output
    with app.app_context():
        before = (count(Family), count(Member), count(Response))
        families = db.session.scalars(sa.select(Family)).all()
        sizes = sorted(len(f.members) for f in families)
        owner = db.session.scalar(sa.select(User))
        assert all(f.therapists == [owner] for f in families)
        targets = set(db.session.scalars(sa.select(Response.target).distinct()))
        instruments = set(db.session.scalars(sa.select(Response.instrument).distinct()))
        roles = set(db.session.scalars(sa.select(Member.role).distinct()))
        values = db.session.execute(
            sa.select(Response.instrument, sa.func.min(Response.value), sa.func.max(Response.value)).group_by(
                Response.instrument
            )
        ).all()
        unanswered = db.session.scalar(sa.select(sa.func.count()).where(Response.value.is_(None)))
    assert len(set(sizes)) >= 4 and min(sizes) == 2 and max(sizes) == 6
    assert targets == {"therapist", "team"}
    assert instruments == {"alliance16", "check4", "observer4"}
    assert roles <= set(vocab.ROLES) and {"child", "youth", "mother", "father"} <= roles
    scales = {"alliance16": (1, 5), "check4": (0, 10), "observer4": (-3, 3)}
    for instrument, lo, hi in values:
        assert scales[instrument][0] <= lo <= hi <= scales[instrument][1]
    assert unanswered > 0
    second = runner.invoke(args=["demo", "--owner", "demo@example.org"])
    assert second.exit_code == 0
    assert "already there" in second.output
    with app.app_context():
        assert (count(Family), count(Member), count(Response)) == before


# --- The password rules, at the command line -------------------------------------------------------------


@pytest.mark.parametrize(
    "weak",
    [
        "wachtwoord123",
        "short",
        "welkom2024welkom",
    ],
)
def test_create_user_refuses_a_weak_password(app, runner, weak):
    result = runner.invoke(args=["create-user", "weak@example.org", "--password", weak, "--role", "therapist"])
    assert result.exit_code != 0
    assert "password" in result.output.lower()
    with app.app_context():
        assert count(User) == 0


def test_create_user_accepts_a_strong_password(app, runner):
    result = runner.invoke(args=["create-user", "strong@example.org", "--password", NEW_PASSWORD, "--role", "admin"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert list(db.session.scalars(sa.select(User.email))) == ["strong@example.org"]
