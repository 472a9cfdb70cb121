"""Sending questionnaire links by e-mail: invitations from the session page, reminders from ``flask send-reminders``.

A message carries a fresh link of an open request and nothing clinical (``core.invitations``).
The new link is stored (and committed) before the message goes out, beside the link the member
may already have; once the server accepted the message, the older link is replaced, and when
it refused, the new link is dropped again: a failed send never takes a working link away.

Reminders go to requests still open, with a link that still works, made ``REMINDER_DAYS`` or
more ago; never twice on one day for the same request, never after it is answered or expired.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from familyalliance.core import invitations
from familyalliance.services import mail, requests
from familyalliance.services.requests import newest_link_made, token_hash
from familyalliance.store import summaries
from familyalliance.store.db import db
from familyalliance.store.models import Member, QuestionnaireRequest, RequestToken, TherapySession, utcnow
from familyalliance.store.registry import installed_instruments

#: Builds the absolute URL of a link from its token.
LinkUrl = Callable[[str], str]


@dataclass
class Outcome:
    """What a sending did, per member name: sent, failed (with the error kind), and who has no address."""

    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)


def _language(member: Member) -> str:
    return member.language or current_app.config["BABEL_DEFAULT_LOCALE"]


def _send(kind: str, chosen: list[QuestionnaireRequest], link_url: LinkUrl, days: int | None) -> Outcome:
    """Send ``kind`` messages for these requests (with addresses); the links stay right whatever the server says."""
    outcome = Outcome()
    now = utcnow()
    pending = []
    for request in chosen:
        token = secrets.token_urlsafe(32)
        expires = request.expires_at if days is None else now + dt.timedelta(days=days)
        db.session.add(RequestToken(token_hash=token_hash(token), request_id=request.id, created_at=now))
        language = _language(request.member)
        text = invitations.compose(
            kind, f"{link_url(token)}?lang={language}", requests.link_last_day(expires), language
        )
        pending.append(
            (
                request,
                token,
                expires,
                mail.Message(request.member.email, text.subject, text.text, text.html, key=request.id),
            )
        )
    db.session.commit()  # the new links work from now on, beside the old ones, while the messages go out
    by_id = {request.id: (request, token, expires) for request, token, expires, _ in pending}
    try:
        report = mail.send_all([message for *_, message in pending])
    except mail.MailError as exc:  # no connection at all: nothing was sent
        report = mail.SendReport(failed=[(message, exc) for *_, message in pending])
    for message in report.sent:
        request, token, expires = by_id[message.key]
        db.session.execute(
            sa.update(RequestToken)
            .where(
                RequestToken.request_id == request.id,
                RequestToken.token_hash != token_hash(token),
                RequestToken.replaced_at.is_(None),
            )
            .values(replaced_at=utcnow())
        )
        request.expires_at = expires
        if kind == "reminder":
            request.reminded_at = now
        else:
            request.invited_at = now
        outcome.sent.append(request.member.display_name)
    # A fresh link resets the reminder clock: the caseload's flag and the family page read it.
    summaries.touch(by_id[message.key][0].family_id for message in report.sent)
    for message, error in report.failed:
        request, token, _ = by_id[message.key]
        db.session.execute(sa.delete(RequestToken).where(RequestToken.token_hash == token_hash(token)))
        outcome.failed.append((request.member.display_name, error.kind))
    db.session.commit()
    return outcome


def invite(session: TherapySession, link_url: LinkUrl) -> Outcome:
    """E-mail a fresh link to every attendee of the session who can still answer and has an address.

    Raises ``mail.MailError`` (``not_configured``) when the installation sends no mail.
    """
    if not mail.mail_configured():
        raise mail.MailError("not_configured", "MAIL_SERVER and MAIL_SENDER are not set")
    requests.sync_session(session)
    instruments = installed_instruments()
    outcome = Outcome()
    chosen = []
    for request in requests.for_session(session):
        if request.answered_at is not None or request.withdrawn_at is not None:
            continue
        if instruments[request.instrument].informant != "self":
            continue
        if request.member.email:
            chosen.append(request)
        else:
            outcome.no_address.append(request.member.display_name)
    sent = _send("invitation", chosen, link_url, current_app.config["MEMBER_LINK_DAYS"])
    sent.no_address = outcome.no_address
    return sent


def due_reminders(now: dt.datetime | None = None) -> list[QuestionnaireRequest]:
    """The requests a reminder is due for today (see the module's rules), members with an address only."""
    now = now or utcnow()
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    today = now.astimezone(zone).date()
    candidates = db.session.scalars(
        sa.select(QuestionnaireRequest)
        .join(
            Member, (Member.id == QuestionnaireRequest.member_id) & (Member.family_id == QuestionnaireRequest.family_id)
        )
        .where(
            QuestionnaireRequest.answered_at.is_(None),
            QuestionnaireRequest.withdrawn_at.is_(None),
            QuestionnaireRequest.expires_at > now,
            newest_link_made() < requests.reminder_cutoff(now),
            Member.email.is_not(None),
        )
    )
    due = []
    for request in candidates:
        last = request.reminded_at
        if last is not None:
            last = (last if last.tzinfo else last.replace(tzinfo=dt.UTC)).astimezone(zone).date()
        if last != today:
            due.append(request)
    return due


def send_reminders(link_url: LinkUrl, now: dt.datetime | None = None) -> Outcome:
    """Send the reminders due today; each keeps its link's expiry (a reminder never lengthens a link)."""
    if not mail.mail_configured():
        raise mail.MailError("not_configured", "MAIL_SERVER and MAIL_SENDER are not set")
    return _send("reminder", due_reminders(now), link_url, None)
