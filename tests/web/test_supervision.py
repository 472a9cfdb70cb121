"""The alliance profile (metrics.md section 11): who sees whose, the period, an empty period, notes, the audit log.

The scenario's ``course``: ann's FAM-1 (Team A) with Sandra (mother) at 70 and Noor (youth) at 30 on the quick
check of session 1 (12 January 2026), ann's own view of Sandra +1 (67 out of 100); bob is ann's colleague, lead
their team lead, cas a therapist of Team B.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import AuditEvent, SupervisionNote, User, utcnow
from tests.scenarios import email

pytestmark = pytest.mark.scenario("course")

PERIOD = "start=2026-01-01&end=2026-03-31"


def cells(html: str, measure: str) -> list[str]:
    """The values in the first table row of ``measure``."""
    row = re.search(rf"<th scope=\"row\">{re.escape(measure)}</th>(.*?)</tr>", html, re.S)
    assert row, measure
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_a_therapist_sees_their_own_profile_beside_the_team(client, auth, scenario):
    auth.login(email("ann"))
    html = client.get(f"/profile/?{PERIOD}&lang=en").text
    assert "Your alliance profile" in html and "not for ranking" in html
    assert cells(html, "Families") == ["1", "1"]
    assert cells(html, "Family sessions") == ["3", "3"]
    assert cells(html, "Sessions with a split") == ["100%", "100%"]  # 70 against 30: a split of 40 points
    assert cells(html, "Mean balance (0-100)") == ["60", "60"]
    assert cells(html, "Mean difference between your view and the members&#39; (points)") == ["3", "3"]
    assert "Parents and carers" in html and "Young members" in html
    assert 'data-chart="chart-history"' in html


def test_an_empty_period_says_why(client, auth, scenario):
    auth.login(email("ann"))
    html = client.get("/profile/?lang=en").text  # the last 182 days: no session of FAM-1
    assert "nothing to show yet" in html
    assert "Families</th>" not in html


def test_a_period_that_ends_before_it_starts_is_refused_keeping_what_was_typed(client, auth, scenario):
    auth.login(email("ann"))
    response = client.get("/profile/?start=2026-05-01&end=2026-04-01&lang=en")
    assert response.status_code == 400
    assert "The end of the period cannot be before its start." in response.text
    assert 'value="2026-05-01"' in response.text and 'value="2026-04-01"' in response.text


def test_a_therapist_never_sees_another_therapists_profile(client, auth, scenario, app):
    auth.login(email("bob"))
    ann = scenario.users["ann"]
    assert client.get(f"/profile/{ann}").status_code == 404
    assert client.post(f"/profile/{ann}/notes", data={"text": "hi"}).status_code == 404
    auth.logout()
    auth.login(email("cas"))
    assert client.get(f"/profile/{ann}").status_code == 404
    with app.app_context():
        refused = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action.like("profile.%"))).all()
        assert {(e.user_email, e.status) for e in refused} >= {(email("bob"), 404), (email("cas"), 404)}
        assert all(e.detail.get("account") == ann for e in refused)


def test_the_team_lead_sees_each_therapist_alphabetically_and_opens_one(client, auth, scenario, app):
    auth.login(email("lead"))
    html = client.get(f"/profile/?{PERIOD}&lang=en").text
    assert "Team profiles" in html and "not a ranking" in html
    assert html.index(email("ann")) < html.index(email("bob"))
    assert email("cas") not in html  # another team
    ann = scenario.users["ann"]
    page = client.get(f"/profile/{ann}?{PERIOD}&lang=en")
    assert page.status_code == 200 and f"Alliance profile of {email('ann')}" in page.text
    with app.app_context():
        actions = [
            (e.action, e.detail.get("account"))
            for e in db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.user_email == email("lead")).order_by(AuditEvent.id)
            )
        ]
    assert ("profile.team_view", None) in actions and ("profile.view", ann) in actions


def test_notes_are_kept_dated_with_their_author_and_seen_by_both(client, auth, scenario, app):
    ann = scenario.users["ann"]
    auth.login(email("ann"))
    response = client.post(f"/profile/{ann}/notes", data={"text": "Fathers drift out of my alliances?\nAsk Kim."})
    assert response.status_code == 303
    empty = client.post(f"/profile/{ann}/notes?lang=en", data={"text": "  "})
    assert empty.status_code == 422 and "Write a note first." in empty.text
    auth.logout()
    auth.login(email("lead"))
    client.post(f"/profile/{ann}/notes", data={"text": "Let us look at session 3 together."})
    html = client.get(f"/profile/{ann}?lang=en").text
    assert "Fathers drift out of my alliances?" in html and "Let us look at session 3 together." in html
    assert html.index("Let us look") < html.index("Fathers drift")  # newest first
    assert email("ann") in html and email("lead") in html  # who wrote them
    auth.logout()
    auth.login(email("ann"))
    assert "Let us look at session 3 together." in client.get("/profile/").text
    with app.app_context():
        notes = db.session.scalars(sa.select(SupervisionNote).order_by(SupervisionNote.id)).all()
        assert [(n.therapist_id, n.author_id) for n in notes] == [(ann, ann), (ann, scenario.users["lead"])]
        assert all(n.created_at is not None for n in notes)
        # The audit log names the profile, never the note's text.
        logged = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "profile.note")).all()
        assert logged and not any("Fathers" in str(e.detail) for e in logged)


@pytest.mark.parametrize("name", ["research", "admin"])
def test_researchers_and_admins_have_no_profile_page(client, auth, scenario, name):
    auth.login(email(name))
    assert client.get("/profile/").status_code == 403


def test_notes_go_with_retention_and_with_the_account(client, auth, scenario, app):
    """A note is kept RETENTION_YEARS after it was written (as clinical notes are), then erased from the retention
    page; a therapist's account removed takes its notes along."""
    ann, bob = scenario.users["ann"], scenario.users["bob"]
    with app.app_context():
        old = utcnow() - dt.timedelta(days=366 * app.config["RETENTION_YEARS"] + 2)
        db.session.add_all(
            [
                SupervisionNote(therapist_id=ann, author_id=ann, text="Old reflection.", created_at=old),
                SupervisionNote(therapist_id=ann, author_id=ann, text="Recent reflection."),
                SupervisionNote(therapist_id=bob, author_id=bob, text="Bob's reflection."),
            ]
        )
        db.session.commit()
    auth.login(email("lead"))
    page = client.get("/retention?lang=en").text
    assert "1 supervision note was written on or before" in page
    response = client.post("/profile/notes/erase")
    assert response.status_code == 303
    with app.app_context():
        kept = {n.text for n in db.session.scalars(sa.select(SupervisionNote))}
        assert kept == {"Recent reflection.", "Bob's reflection."}
        erased = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "supervision_notes.erased"))
        assert erased.detail["notes"] == 1
        db.session.execute(sa.delete(User).where(User.id == bob))
        db.session.commit()
        assert {n.text for n in db.session.scalars(sa.select(SupervisionNote))} == {"Recent reflection."}
