"""Mail through a real SMTP server (aiosmtpd, started by the test): what arrives, and every way it fails."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from familyalliance.core import invitations
from familyalliance.services import mail, requests
from familyalliance.services.errors import OperationError

from ..factories import commit, gen_family, gen_member, gen_session, gen_user

pytest_plugins = ["tests.support_mail"]

ADDRESS = "ouder.de.vries@example.org"


@pytest.fixture
def mailing(app, smtp_server):
    """The app pointed at the running server."""
    app.config.update(smtp_server.settings())
    return smtp_server


@pytest.fixture
def member_link(app):
    """An open link to a member's questionnaire, and the things the message must never mention."""
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann.therapeut@example.org")
        family = gen_family("FAM-7731", [therapist])
        gen_member(family, "Y1", "youth", "Noor Jansen", birth_year=2011, email=ADDRESS)
        session = gen_session(family, 3)
        ((link, token),) = requests.make_links(session, 7)
        expires = link.expires_at.date()
        instrument = link.instrument
        commit()
    return {
        "path": f"/r/{token}",
        "expires": expires,
        "clinical": ["FAM-7731", "Noor", "Jansen", "Y1", "ann.therapeut", "youth", "2011", instrument],
    }


def plain_part(received) -> str:
    return received.message.get_body(preferencelist=("plain",)).get_content()


def html_part(received) -> str:
    return received.message.get_body(preferencelist=("html",)).get_content()


def test_mail_is_off_without_a_server(app):
    with app.app_context():
        assert mail.mail_configured() is False
        with pytest.raises(mail.MailError) as refused:
            mail.send(ADDRESS, "Subject", "Text")
    assert refused.value.kind == "not_configured"
    assert "MAIL_SERVER" in str(refused.value)
    assert isinstance(refused.value, OperationError)


def test_a_server_without_a_sender_is_not_enough(app, smtp_server):
    app.config.update(smtp_server.settings(MAIL_SENDER=None))
    with app.app_context():
        assert mail.mail_configured() is False
        with pytest.raises(mail.MailError, match="MAIL_SENDER"):
            mail.send(ADDRESS, "Subject", "Text")
    assert smtp_server.received == []


def test_an_invitation_arrives_with_a_working_link_and_nothing_clinical(app, mailing, member_link):
    url = "http://localhost" + member_link["path"]
    text = invitations.invitation(url, member_link["expires"], "en")
    with app.app_context():
        assert mail.mail_configured() is True
        mail.send(ADDRESS, text.subject, text.text, text.html)

    (received,) = mailing.received
    assert received.mail_from == "vragen@praktijk.example"
    assert received.rcpt_tos == [ADDRESS]
    assert received.message["From"] == "Praktijk De Linde <vragen@praktijk.example>"
    assert received.message["To"] == ADDRESS
    assert received.message["Subject"] == "A few short questions about your sessions"
    assert received.message["Message-ID"].endswith("@praktijk.example>")

    # The link as the member's mail program shows it, in the text and behind the button.
    (found,) = set(re.findall(r"https?://\S+", plain_part(received)))
    assert set(re.findall(r'href="([^"]+)"', html_part(received))) == {found}
    path = found.removeprefix("http://localhost")
    page = app.test_client().get(path + "?lang=en")
    assert page.status_code == 200
    assert "Your view of the work together" in page.text
    # ... and the app knows it as that member's link: a changed token is refused.
    assert app.test_client().get(path + "x").status_code == 404

    # Nothing clinical in what a reader of the mailbox sees: headers and both bodies, decoded.
    assert set(received.message.keys()) == {
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Type",
    }
    shown = [str(received.message[h]) for h in ("From", "To", "Subject")] + [plain_part(received), html_part(received)]
    shown = [part.replace(found, "") for part in shown]  # the random token could hold any two letters
    for secret in member_link["clinical"]:
        assert not any(secret in part for part in shown), secret


def test_the_message_arrives_in_dutch(app, mailing, member_link):
    text = invitations.reminder("https://alliantie.example" + member_link["path"], dt.date(2027, 1, 12), "nl")
    with app.app_context():
        mail.send(ADDRESS, text.subject, text.text, text.html)
    (received,) = mailing.received
    assert received.message["Subject"] == text.subject != invitations.SUBJECTS["reminder"]
    body = plain_part(received)
    assert "dinsdag 12 januari 2027" in body
    assert "https://alliantie.example" + member_link["path"] in body


def test_several_messages_over_one_connection(app, mailing):
    messages = [mail.Message(f"lid{n}@example.org", f"Bericht {n}", f"Tekst {n}", key=n) for n in range(3)]
    with app.app_context():
        report = mail.send_all(messages)
    assert report.sent == messages and report.failed == []
    assert [r.rcpt_tos for r in mailing.received] == [[f"lid{n}@example.org"] for n in range(3)]
    assert [str(r.message["Subject"]) for r in mailing.received] == ["Bericht 0", "Bericht 1", "Bericht 2"]
    # One TCP connection: every message came from the same client port.
    assert len({r.peer for r in mailing.received}) == 1


def test_each_message_fails_on_its_own(app, mailing):
    """A refused recipient or a malformed address costs the others nothing; each failure says why."""
    mailing.handler.refuse_recipients.add("weg@example.org")
    messages = [
        mail.Message("een@example.org", "Een", "Tekst"),
        mail.Message("weg@example.org", "Twee", "Tekst"),
        mail.Message("geen adres", "Drie", "Tekst"),
        mail.Message("vier@example.org", "Vier", "Tekst"),
    ]
    with app.app_context():
        report = mail.send_all(messages)
    assert [m.subject for m in report.sent] == ["Een", "Vier"]
    failed = {m.subject: error for m, error in report.failed}
    assert (
        failed["Twee"].kind == "refused"
        and "550" in failed["Twee"].detail
        and "No such mailbox" in failed["Twee"].detail
    )
    assert failed["Drie"].kind == "invalid_address"
    assert [r.rcpt_tos for r in mailing.received] == [["een@example.org"], ["vier@example.org"]]


def test_a_connection_closed_midway_sends_nothing_more(app, mailing):
    """The server ends the session at the second message: the first arrived, the rest is reported, not half-sent."""
    mailing.handler.refuse_subjects["Twee"] = "421 4.3.2 Service shutting down"
    messages = [mail.Message(f"lid{n}@example.org", name, "Tekst") for n, name in enumerate(["Een", "Twee", "Drie"])]
    with app.app_context():
        report = mail.send_all(messages)
    assert [m.subject for m in report.sent] == ["Een"]
    kinds = {m.subject: (error.kind, error.detail) for m, error in report.failed}
    assert kinds["Twee"][0] == "refused" and "421" in kinds["Twee"][1]
    assert kinds["Drie"][0] == "lost"
    assert [str(r.message["Subject"]) for r in mailing.received] == ["Een"]


def test_a_server_that_is_down(app, smtp_server):
    app.config.update(smtp_server.settings())
    smtp_server.stop()
    with app.app_context():
        with pytest.raises(mail.MailError) as down:
            mail.send(ADDRESS, "Subject", "Text")
        with pytest.raises(mail.MailError):
            mail.send_all([mail.Message(ADDRESS, "Subject", "Text")] * 2)
    assert down.value.kind == "unreachable"
    assert f"127.0.0.1:{smtp_server.port}" in str(down.value) and "refused" in str(down.value).lower()
    assert smtp_server.received == []


def test_starttls_required_but_not_offered(app, mailing):
    """The default (STARTTLS) against a server without it: refused before anything is sent."""
    app.config["MAIL_USE_TLS"] = True
    with app.app_context(), pytest.raises(mail.MailError) as refused:
        mail.send(ADDRESS, "Subject", "Text")
    assert refused.value.kind == "tls" and "STARTTLS" in refused.value.detail
    assert mailing.received == []


def test_login(app, start_smtp_server):
    from tests.support_mail import password_checker

    server = start_smtp_server(authenticator=password_checker("praktijk", "juist"), auth_require_tls=False)
    app.config.update(server.settings(MAIL_USERNAME="praktijk", MAIL_PASSWORD="fout"))
    with app.app_context(), pytest.raises(mail.MailError) as refused:
        mail.send(ADDRESS, "Subject", "Text")
    assert refused.value.kind == "authentication" and "535" in refused.value.detail
    assert server.received == []

    app.config["MAIL_PASSWORD"] = "juist"
    with app.app_context():
        mail.send(ADDRESS, "Subject", "Text")
    assert [r.rcpt_tos for r in server.received] == [[ADDRESS]]


def test_settings_from_the_environment_are_read_as_meant():
    """FAMILYALLIANCE_MAIL_* values arrive parsed as JSON where they can be: numbers, booleans, or text."""
    current = mail.MailSettings.from_mapping(
        {
            "MAIL_SERVER": "smtp.example.org",
            "MAIL_PORT": "465",
            "MAIL_USE_SSL": "true",
            "MAIL_USE_TLS": False,
            "MAIL_PASSWORD": 123456,
            "MAIL_SENDER": " vragen@praktijk.example ",
        }
    )
    assert (current.port, current.use_ssl, current.use_tls) == (465, True, False)
    assert (current.password, current.sender) == ("123456", "vragen@praktijk.example")
    assert mail.MailSettings.from_mapping({}).server is None
