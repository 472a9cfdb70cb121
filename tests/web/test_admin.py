"""Managing accounts and teams: admins every account, team leads their team's therapists only."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import AuditEvent, Team, User, utcnow

from ..factories import PASSWORD, commit, gen_user

STRONG = "paarse olifant op de fiets"


@pytest.fixture
def staff(app):
    with app.app_context():
        gen_user("admin", None, "admin@example.org")
        gen_user("team_lead", "Team A", "lead@example.org")
        gen_user("therapist", "Team A", "ann@example.org")
        gen_user("therapist", "Team B", "cas@example.org")
        gen_user("researcher", "Team A", "research@example.org")
        commit()
        return {u.email: u.id for u in db.session.scalars(sa.select(User))}


def account(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def test_the_edit_form_shows_the_accounts_team_and_saving_keeps_it(app, client, auth, staff):
    auth.login("admin@example.org")
    page = client.get(f"/admin/users/{staff['ann@example.org']}").text
    with app.app_context():
        team_a = db.session.scalar(sa.select(Team.id).where(Team.name == "Team A"))
    assert f'<option selected value="{team_a}">Team A</option>' in page
    form = {"email": "ann@example.org", "role": "therapist", "team": str(team_a)}
    response = client.post(f"/admin/users/{staff['ann@example.org']}", data=form)
    assert response.status_code == 302
    ann = account(app, "ann@example.org")
    assert (ann.team_id, ann.role, ann.active) == (team_a, "therapist", True)


def test_an_account_form_changes_only_what_it_names(app, client, auth, staff):
    """A POST with only the CSRF token (or without a field) changes nothing: no log-in taken away, no team cleared."""
    auth.login("admin@example.org")
    ann_id = staff["ann@example.org"]
    before = account(app, "ann@example.org")
    for data in ({}, {"email": "ann@example.org"}, {"email": "ann@example.org", "role": "therapist"}):
        refused = client.post(f"/admin/users/{ann_id}?lang=en", data=data)
        assert refused.status_code == 422 and "missing from the form" in refused.text
    refused = client.post(f"/admin/users/{ann_id}/log-in?lang=en", data={})
    assert refused.status_code == 302
    assert "Nothing was changed" in client.get(refused.headers["Location"] + "?lang=en").text
    after = account(app, "ann@example.org")
    assert (after.active, after.team_id, after.role, after.email) == (
        before.active,
        before.team_id,
        before.role,
        before.email,
    )
    # The explicit action does what it says, both ways, and is in the audit log.
    assert client.post(f"/admin/users/{ann_id}/log-in", data={"may_log_in": "no"}).status_code == 302
    assert account(app, "ann@example.org").active is False
    assert account(app, "ann@example.org").team_id == before.team_id
    assert client.post(f"/admin/users/{ann_id}/log-in", data={"may_log_in": "yes"}).status_code == 302
    assert account(app, "ann@example.org").active is True
    with app.app_context():
        changes = [
            e.detail for e in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.changed"))
        ]
    assert [c["after"] for c in changes] == [{"active": False}, {"active": True}]


def test_nobody_stops_their_own_log_in(app, client, auth, staff):
    auth.login("admin@example.org")
    refused = client.post(f"/admin/users/{staff['admin@example.org']}/log-in?lang=en", data={"may_log_in": "no"})
    assert "You cannot take away your own role or log-in." in client.get(refused.headers["Location"] + "?lang=en").text
    assert account(app, "admin@example.org").active is True


def test_admin_opens_and_changes_accounts(app, client, auth, staff):
    auth.login("admin@example.org")
    response = client.post(
        "/admin/users/new",
        data={"email": "New.Lead@Example.org", "role": "team_lead", "team": "", "password": STRONG},
    )
    assert response.status_code == 302
    new = account(app, "new.lead@example.org")
    assert (new.role, new.team_id, new.active) == ("team_lead", None, True)
    weak = client.post(
        "/admin/users/new?lang=en", data={"email": "x@example.org", "role": "therapist", "password": "welkom2024welkom"}
    )
    assert weak.status_code == 422 and "too easy to guess" in weak.text
    taken = client.post(
        "/admin/users/new?lang=en", data={"email": "ann@example.org", "role": "therapist", "password": STRONG}
    )
    assert taken.status_code == 422 and "exists already" in taken.text
    # Deactivating ends the account's sessions at once and refuses its logins.
    ann = app.test_client()
    assert ann.post("/login", data={"email": "ann@example.org", "password": PASSWORD}).status_code == 302
    stopped = client.post(f"/admin/users/{staff['ann@example.org']}/log-in?lang=en", data={"may_log_in": "no"})
    assert stopped.status_code == 302
    assert "can no longer log in" in client.get(stopped.headers["Location"] + "?lang=en").text
    assert ann.get("/families/").status_code == 302
    assert ann.post("/login", data={"email": "ann@example.org", "password": PASSWORD}).status_code == 401


def test_admin_cannot_take_away_their_own_role(app, client, auth, staff):
    auth.login("admin@example.org")
    form = {"email": "admin@example.org", "role": "therapist", "team": ""}
    response = client.post(f"/admin/users/{staff['admin@example.org']}?lang=en", data=form)
    assert response.status_code == 422 and "You cannot take away your own role" in response.text
    assert account(app, "admin@example.org").role == "admin"


def test_team_lead_manages_only_the_teams_therapists(app, client, auth, staff):
    auth.login("lead@example.org")
    page = client.get("/admin/users").text
    assert "ann@example.org" in page
    assert not any(email in page for email in ("cas@example.org", "admin@example.org", "research@example.org"))
    for other in ("cas@example.org", "admin@example.org", "research@example.org", "lead@example.org"):
        assert client.get(f"/admin/users/{staff[other]}").status_code == 404
    # A new account is a therapist of the lead's team, whatever the form says.
    with app.app_context():
        team_a, team_b = (db.session.scalar(sa.select(Team.id).where(Team.name == n)) for n in ("Team A", "Team B"))
    for role, team in (("admin", team_a), ("therapist", team_b)):
        refused = client.post(
            "/admin/users/new",
            data={"email": "x@example.org", "role": role, "team": str(team), "password": STRONG},
        )
        assert refused.status_code == 422
    made = client.post(
        "/admin/users/new",
        data={"email": "new@example.org", "role": "therapist", "team": str(team_a), "password": STRONG},
    )
    assert made.status_code == 302
    new = account(app, "new@example.org")
    assert (new.role, new.team_id) == ("therapist", team_a)
    assert client.post("/admin/teams", data={"name": "Team C"}).status_code == 403


def test_unlocking_an_account(app, client, auth, staff):
    with app.app_context():
        db.session.get(User, staff["ann@example.org"]).locked_until = utcnow() + dt.timedelta(minutes=10)
        commit()
    assert auth.login("ann@example.org").status_code == 401
    auth.login("lead@example.org")
    page = client.get(f"/admin/users/{staff['ann@example.org']}?lang=en").text
    assert "This account is locked for a while" in page
    assert client.post(f"/admin/users/{staff['ann@example.org']}", data={"unlock": "1"}).status_code == 302
    assert not account(app, "ann@example.org").locked()
    assert app.test_client().post("/login", data={"email": "ann@example.org", "password": PASSWORD}).status_code == 302


def test_admin_adds_a_team(app, client, auth, staff):
    auth.login("admin@example.org")
    assert client.post("/admin/teams", data={"name": "Team C"}).status_code == 302
    again = client.post("/admin/teams?lang=en", data={"name": "Team C"})
    assert again.status_code == 422 and "A team with this name exists already." in again.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Team).where(Team.name == "Team C")) == 1


def test_control_characters_in_account_and_team_forms_are_refused(app, client, auth, staff):
    """A NUL in an email or team name is a field error (PostgreSQL could not even look it up), nothing stored."""
    auth.login("admin@example.org")
    email = client.post(
        "/admin/users/new?lang=en", data={"email": "x\x00@example.org", "role": "therapist", "password": STRONG}
    )
    team = client.post("/admin/teams?lang=en", data={"name": "Team\x00C"})
    for response in (email, team):
        assert response.status_code == 422 and "Remove the control characters" in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == len(staff)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Team)) == 2
