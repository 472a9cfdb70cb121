"""Invitations that reach the family: links sent by e-mail from the session page, and reminders by command.

Against a real SMTP server (aiosmtpd) started by the test: the message arrives, its link works and
opens the member's questionnaire in their language, and it holds nothing clinical.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from familyalliance.services import requests
from familyalliance.store.db import db
from familyalliance.store.models import Member, QuestionnaireRequest, RequestToken
from familyalliance.store.registry import installed_instruments

from ..factories import commit, gen_family, gen_member, gen_session, gen_user

pytest_plugins = ["tests.support_mail"]

CHECK4 = ("bond", "goals_tasks", "safety", "shared_purpose")


@pytest.fixture
def family(app, auth):
    """FAM-1 at session 1: Sandra (mother, Dutch, an address), Daan (child, his mother's address in English),
    Mehmet (father, no address)."""
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("FAM-1", [therapist])
        sandra = gen_member(family, "M1", "mother", "Sandra", email="sandra@example.org", language="nl")
        daan = gen_member(family, "C1", "child", "Daan", email="ouder@example.org", language="en")
        mehmet = gen_member(family, "F1", "father", "Mehmet")
        gen_session(family, 1, present=[sandra, daan, mehmet])
        commit()
    auth.login("ann@example.org")


def days_pass(days: int) -> None:
    """Move every link and reminder ``days`` into the past (as if that many days went by)."""
    for token in db.session.scalars(sa.select(RequestToken)):
        token.created_at -= dt.timedelta(days=days)
    for request in db.session.scalars(sa.select(QuestionnaireRequest)):
        if request.reminded_at is not None:
            request.reminded_at -= dt.timedelta(days=days)
    commit()


def link_in(received) -> str:
    """The questionnaire path in a received message's plain text."""
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://localhost(/r/[A-Za-z0-9_-]+\?lang=\w+)", text).group(1)


def test_send_links_by_email(app, client, family, smtp_server):
    app.config.update(smtp_server.settings())
    page = client.post("/families/FAM-1/sessions/1/invite?lang=en", follow_redirects=True).text
    assert "Sent by e-mail to" in page and "Sandra" in page and "Daan" in page
    assert "No e-mail address for Mehmet" in page
    received = {r.rcpt_tos[0]: r for r in smtp_server.received}
    assert set(received) == {"sandra@example.org", "ouder@example.org"}
    dutch, english = received["sandra@example.org"], received["ouder@example.org"]
    assert dutch.message["Subject"] == "Een paar korte vragen over je gesprekken"
    assert english.message["Subject"] == "A few short questions about your sessions"
    for message in (dutch, english):
        raw = message.raw.decode("utf-8", "replace")
        for clinical in ("FAM-1", "Sandra", "Daan", "Mehmet", "ann@example.org", "check4", "bond"):
            assert clinical not in raw
    # The link works: it opens the questionnaire in the member's language, and the answers are stored.
    phone = app.test_client()
    opened = phone.get(link_in(dutch))
    assert opened.status_code == 200 and 'lang="nl"' in opened.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', opened.text).group(1)
    sent = phone.post(link_in(dutch), data={"csrf_token": token, **dict.fromkeys(CHECK4, "6")})
    assert sent.status_code == 200
    with app.app_context():
        by_code = {
            r.member.code: (requests.state(r), r.answered_mode, r.invited_at is not None)
            for r in db.session.scalars(sa.select(QuestionnaireRequest))
        }
    assert by_code == {"M1": ("answered", "link", True), "C1": ("open", None, True), "F1": ("open", None, False)}
    # Sending again: Sandra answered, so only Daan gets a new link; his first one now says a newer was sent.
    smtp_server.received.clear()
    client.post("/families/FAM-1/sessions/1/invite")
    assert [r.rcpt_tos[0] for r in smtp_server.received] == ["ouder@example.org"]
    assert phone.get(link_in(english)).status_code == 410


def test_a_refused_address_keeps_the_earlier_link(app, client, family, start_smtp_server):
    server = start_smtp_server()
    server.handler.refuse_recipients.add("ouder@example.org")
    app.config.update(server.settings())
    html = client.post("/families/FAM-1/sessions/1/links").text
    daans = re.search(r"<h3>Daan</h3>.*?<a href=\"http://localhost(/r/[^\"]+)\"", html, re.S).group(1)
    page = client.post("/families/FAM-1/sessions/1/invite?lang=en", follow_redirects=True).text
    assert "Not sent to Daan: the mail server refused it. A link they got earlier still works." in page
    assert app.test_client().get(daans).status_code == 200  # still works
    with app.app_context():
        child = db.session.scalar(sa.select(Member).where(Member.code == "C1"))
        tokens = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(RequestToken)
            .join(QuestionnaireRequest)
            .where(QuestionnaireRequest.member_id == child.id)
        )
    assert tokens == 1  # the link made for the refused message is gone again


def test_without_mail_the_page_says_so(app, client, family):
    page = client.get("/families/FAM-1/sessions/1?lang=en").text
    assert "Send links by e-mail" not in page and "E-mail is not set up for this installation" in page
    refused = client.post("/families/FAM-1/sessions/1/invite?lang=en", follow_redirects=True).text
    assert "E-mail is not set up" in refused


def test_reminders_once_a_day_never_after_answered_or_expired(app, client, runner, family, smtp_server):
    app.config.update(smtp_server.settings(), PUBLIC_URL="https://alliance.example.org", REMINDER_DAYS=3)
    client.post("/families/FAM-1/sessions/1/invite")
    assert len(smtp_server.received) == 2
    smtp_server.received.clear()
    with app.app_context():
        days_pass(4)  # both links were made long enough ago
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Reminders sent: 2" in result.output
    subjects = {r.rcpt_tos[0]: str(r.message["Subject"]) for r in smtp_server.received}
    assert subjects["ouder@example.org"] == "Reminder: a few short questions about your sessions"
    assert "https://alliance.example.org/r/" in smtp_server.received[0].raw.decode()
    # The same day again: nothing.
    smtp_server.received.clear()
    assert "Reminders sent: 0" in runner.invoke(args=["send-reminders"]).output
    with app.app_context():
        # The next day, four days after the reminder links: Sandra answered meanwhile, Daan's link expired.
        days_pass(4)
        sandra = db.session.scalar(
            sa.select(QuestionnaireRequest)
            .join(Member, Member.id == QuestionnaireRequest.member_id)
            .where(Member.code == "M1")
        )
        daan = db.session.scalar(
            sa.select(QuestionnaireRequest)
            .join(Member, Member.id == QuestionnaireRequest.member_id)
            .where(Member.code == "C1")
        )
        requests.submit(sandra, dict.fromkeys(CHECK4, "5"), installed_instruments(), "link")
        daan.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        commit()
    assert "Reminders sent: 0" in runner.invoke(args=["send-reminders"]).output
    assert smtp_server.received == []


def test_reminders_need_the_public_address(app, runner, family, smtp_server):
    app.config.update(smtp_server.settings())
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code != 0 and "PUBLIC_URL" in result.output


def test_the_caseload_flags_questionnaires_open_past_their_reminder(app, client, family):
    client.post("/families/FAM-1/sessions/1/links")
    assert "FAM-1" not in client.get("/families/?flag=unanswered").text
    with app.app_context():
        days_pass(4)
    page = client.get("/families/?flag=unanswered&lang=en").text
    assert "FAM-1" in page and "Questionnaires still open after their reminder" in page
