"""Member links: personal, single-use links to one member's questionnaire for one session.

The token is 32 random bytes (``secrets.token_urlsafe``); only its SHA-256 is stored. A link
expires (``MEMBER_LINK_DAYS``, default 7) and dies when its answers are sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping

import sqlalchemy as sa
from flask import current_app

from familyalliance.core import validation
from familyalliance.core.instruments import Instrument
from familyalliance.services import errors, responses
from familyalliance.store.db import db
from familyalliance.store.models import Attendance, MemberLink, Response, ResponseChange, TherapySession, utcnow


class AlreadyAnswered(errors.OperationError):
    """The member's answers to this questionnaire for this session are stored already (through another link)."""

    def __init__(self):
        super().__init__("The answers to this questionnaire are stored already.")


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_links(session: TherapySession, days: int) -> list[tuple[MemberLink, str]]:
    """A new link for every attending member with a planned questionnaire; returns (link, token) pairs.

    The tokens exist only in the returned pairs: show them now, they cannot be read back.
    """
    expires = utcnow() + dt.timedelta(days=days)
    created = []
    attending = db.session.scalars(
        sa.select(Attendance).where(
            Attendance.session_id == session.id, Attendance.present.is_(True), Attendance.instrument.is_not(None)
        )
    )
    for attendance in attending:
        token = secrets.token_urlsafe(32)
        link = MemberLink(
            token_hash=token_hash(token),
            family_id=session.family_id,
            session_id=session.id,
            member_id=attendance.member_id,
            instrument=attendance.instrument,
            target=session.target,
            expires_at=expires,
        )
        db.session.add(link)
        created.append((link, token))
    db.session.flush()
    return created


def state(link: MemberLink) -> str:
    """``open``, ``used`` or ``expired``."""
    if link.used_at is not None:
        return "used"
    expires = link.expires_at if link.expires_at.tzinfo else link.expires_at.replace(tzinfo=dt.UTC)
    return "expired" if expires <= utcnow() else "open"


def find(token: str) -> tuple[MemberLink | None, str]:
    """The link for ``token`` and its state: ``open``, ``used``, ``expired`` or ``unknown``."""
    link = db.session.scalar(sa.select(MemberLink).where(MemberLink.token_hash == token_hash(token)))
    return (None, "unknown") if link is None else (link, state(link))


def save_draft(link: MemberLink, answers: Mapping[str, object], instruments: Mapping[str, Instrument]) -> dict:
    """Keep the answers given so far with the link; returns {item: problem} for values that were not kept.

    Only items of the link's questionnaire, with values the questionnaire allows, are kept.
    """
    instrument = instruments[link.instrument]
    draft = json.loads(link.draft) if link.draft else {}
    problems = {}
    for item, raw in answers.items():
        if instrument.item(item) is None:
            problems[item] = f"{item!r} is not an item of {instrument.code}"
            continue
        value, found = validation.check_answer(
            instruments, instrument.informant, link.target, instrument.code, item, raw
        )
        if found:
            problems[item] = "; ".join(p.message for p in found)
        elif value is None:
            draft.pop(item, None)
        else:
            draft[item] = value
    if draft != (json.loads(link.draft) if link.draft else {}):  # nothing kept: nothing written
        link.draft = json.dumps(draft, sort_keys=True)
    return problems


def draft_values(link: MemberLink) -> dict[str, str]:
    """The draft as the form shows it: item code -> text."""
    return {item: str(value) for item, value in (json.loads(link.draft) if link.draft else {}).items()}


def submit(link: MemberLink, answers: Mapping[str, object], instruments: Mapping[str, Instrument]) -> int:
    """Store the answers of a link's questionnaire (every item; unanswered ones empty) and close the link.

    Raises ``responses.AnswersRejected`` (nothing stored, link still open) when an answer is
    invalid. Marking the link used in the same transaction means a second submission of the
    same form finds it used and stores nothing. Raises ``AlreadyAnswered`` (nothing stored) when
    the session's answers to this questionnaire came in already, through another link of the
    member (links made twice, a tablet round) or typed in from paper.
    """
    instrument = instruments[link.instrument]
    stored = sa.select(Response.family_id).where(
        Response.family_id == link.family_id,
        Response.member_id == link.member_id,
        Response.session_id == link.session_id,
        Response.informant == instrument.informant,
        Response.target == link.target,
        Response.instrument == instrument.code,
    )
    if db.session.scalar(stored.limit(1)) is not None:
        raise AlreadyAnswered
    closed = db.session.execute(
        sa.update(MemberLink)
        .where(MemberLink.id == link.id, MemberLink.used_at.is_(None))
        .values(used_at=utcnow(), draft=None)
    )
    if closed.rowcount != 1:
        raise errors.OperationError("This link has already been used.")
    # "line" numbers the questions from 1, so that a problem can be shown beside its question.
    rows = [
        {
            "family_id": link.family_id,
            "member_id": link.member_id,
            "session_id": link.session_id,
            "informant": instrument.informant,
            "target": link.target,
            "instrument": instrument.code,
            "item": item.code,
            "value": answers.get(item.code),
            "line": number,
        }
        for number, item in enumerate(instrument.items, start=1)
    ]
    try:
        return responses.store_answers(rows, instruments)
    except sa.exc.IntegrityError:  # another link of the member sent the same answers at the same moment
        raise AlreadyAnswered from None


def close(link: MemberLink) -> None:
    """Mark a link used without storing anything (its questionnaire was answered through another way)."""
    db.session.execute(sa.update(MemberLink).where(MemberLink.id == link.id).values(used_at=utcnow(), draft=None))


def session_page(session: TherapySession) -> dict:
    """What the session page shows: each member's newest link state, the corrections, the planned questionnaires."""
    newest: dict[int, MemberLink] = {}
    for link in db.session.scalars(
        sa.select(MemberLink).where(MemberLink.session_id == session.id).order_by(MemberLink.created_at)
    ):
        newest[link.member_id] = link
    changes = db.session.scalars(
        sa.select(ResponseChange).where(ResponseChange.session_id == session.id).order_by(ResponseChange.changed_at)
    ).all()
    planned = sorted({a.instrument for a in session.attendance if a.present and a.instrument})
    return {"link_state": {m: state(link) for m, link in newest.items()}, "changes": changes, "planned": planned}


def make_links(session: TherapySession) -> list[tuple[MemberLink, str]]:
    """Links for a session's attendees, valid for the installation's ``MEMBER_LINK_DAYS``.

    The session page and the tablet round both make their links here.
    """
    return create_links(session, current_app.config["MEMBER_LINK_DAYS"])
