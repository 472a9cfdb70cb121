"""Questionnaire requests: one per member, session, questionnaire and target, fulfilled exactly once.

Every way of answering goes through here: personal links (:func:`make_links`, :func:`find`,
:func:`submit`), the tablet round (:func:`submit` with mode ``round``), paper forms and the
therapist's grid (:func:`save_grid`); the import answers its forms' requests in bulk
(``services.importer``). A send that cannot be stored raises :class:`RequestClosed` with the
reason, which the member is shown in their language: nothing is dropped without a word.

A link's token is 32 random bytes (``secrets.token_urlsafe``); only its SHA-256 is stored. Making
links again gives an open request a new token; the older one then says a newer link was sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from familyalliance.core import validation
from familyalliance.core.instruments import Instrument
from familyalliance.core.requests import ANSWERABLE, request_state
from familyalliance.services import responses
from familyalliance.services.errors import OperationError
from familyalliance.services.responses import AnswersRejected, store_answers
from familyalliance.store import scores, summaries
from familyalliance.store.db import db
from familyalliance.store.models import (
    Attendance,
    QuestionnaireRequest,
    RequestToken,
    Response,
    ResponseChange,
    TherapySession,
    User,
    utcnow,
)
from familyalliance.store.registry import installed_instruments

#: Why a link or a send cannot be used, beyond the request's own states.
UNKNOWN = "unknown"
REPLACED = "replaced"


class RequestClosed(OperationError):
    """The request cannot take answers; ``reason`` is a state (answered, expired, withdrawn) or ``replaced``."""

    def __init__(self, reason: str, request: QuestionnaireRequest | None = None):
        super().__init__(f"The questionnaire cannot be answered: {reason}.")
        self.reason = reason
        self.request = request


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def state(request: QuestionnaireRequest, now: dt.datetime | None = None) -> str:
    """The request's state (``core.requests.STATES``)."""
    return request_state(
        request.answered_at, request.withdrawn_at, request.expires_at, bool(request.draft), now or utcnow()
    )


def for_session(session: TherapySession) -> list[QuestionnaireRequest]:
    """The session's requests, by member and questionnaire."""
    return list(
        db.session.scalars(
            sa.select(QuestionnaireRequest)
            .where(QuestionnaireRequest.session_id == session.id)
            .order_by(QuestionnaireRequest.member_id, QuestionnaireRequest.instrument)
        )
    )


def _get_or_create(session: TherapySession, member_id: int, instrument: str) -> QuestionnaireRequest:
    """The request of a member for a questionnaire at the session, made when new."""
    found = db.session.scalar(
        sa.select(QuestionnaireRequest).where(
            QuestionnaireRequest.session_id == session.id,
            QuestionnaireRequest.member_id == member_id,
            QuestionnaireRequest.instrument == instrument,
            QuestionnaireRequest.target == session.target,
        )
    )
    if found is None:
        found = QuestionnaireRequest(
            family_id=session.family_id,
            session_id=session.id,
            member_id=member_id,
            instrument=instrument,
            target=session.target,
        )
        db.session.add(found)
        db.session.flush()
    return found


def sync_session(session: TherapySession, instruments: Mapping[str, Instrument] | None = None) -> None:
    """Make the session's requests follow its attendance: one per member present with a planned questionnaire.

    A request no longer planned (the member is absent, another questionnaire is planned, the
    ratings are about another target) and not answered is withdrawn; planned again, it is open again.
    The therapist's own ratings (observer instruments) are not planned per attendee: left alone.
    """
    instruments = instruments if instruments is not None else installed_instruments()
    planned = {
        (a.member_id, a.instrument)
        for a in db.session.scalars(
            sa.select(Attendance).where(Attendance.session_id == session.id, Attendance.present.is_(True))
        )
        if a.instrument
    }
    now = utcnow()
    for member_id, instrument in planned:
        request = _get_or_create(session, member_id, instrument)
        request.withdrawn_at = None
    for request in for_session(session):
        self_report = instruments.get(request.instrument) is None or instruments[request.instrument].informant == "self"
        wanted = (request.member_id, request.instrument) in planned and request.target == session.target
        if self_report and not wanted and request.answered_at is None and request.withdrawn_at is None:
            request.withdrawn_at = now
    db.session.flush()


def make_links(session: TherapySession, days: int | None = None) -> list[tuple[QuestionnaireRequest, str]]:
    """A new link for every request of the session the members can still answer; (request, token) pairs.

    An answered or withdrawn request gets none. A request that had a link gets a new token, and
    its older link says a newer one was sent. The tokens exist only in the returned pairs: show
    them now, they cannot be read back. Links work ``MEMBER_LINK_DAYS`` unless ``days`` says otherwise.
    """
    sync_session(session)
    days = days if days is not None else current_app.config["MEMBER_LINK_DAYS"]
    now = utcnow()
    made = []
    instruments = installed_instruments()
    for request in for_session(session):
        if request.answered_at is not None or request.withdrawn_at is not None:
            continue
        if request.instrument in instruments and instruments[request.instrument].informant != "self":
            continue
        db.session.execute(
            sa.update(RequestToken)
            .where(RequestToken.request_id == request.id, RequestToken.replaced_at.is_(None))
            .values(replaced_at=now)
        )
        token = secrets.token_urlsafe(32)
        db.session.add(RequestToken(token_hash=token_hash(token), request_id=request.id, created_at=now))
        request.expires_at = now + dt.timedelta(days=days)
        made.append((request, token))
    db.session.flush()
    summaries.touch([session.family_id])  # the caseload's reminder flag and the family page follow links
    return made


def find(token: str) -> tuple[QuestionnaireRequest | None, str]:
    """The request a link opens, and its state: ``open`` or ``in_progress`` (it may be answered), else why not:
    ``unknown``, ``replaced`` (a newer link was sent), ``answered``, ``expired`` or ``withdrawn``."""
    found = db.session.get(RequestToken, token_hash(token))
    if found is None:
        return None, UNKNOWN
    request = found.request
    current = state(request)
    if current in ANSWERABLE and found.replaced_at is not None:
        return request, REPLACED
    return request, current


def save_draft(
    request: QuestionnaireRequest, answers: Mapping[str, object], instruments: Mapping[str, Instrument]
) -> dict:
    """Keep the answers given so far with the request; returns {item: problem} for values that were not kept.

    Only items of the request's questionnaire, with values the questionnaire allows, are kept.
    """
    instrument = instruments[request.instrument]
    draft = json.loads(request.draft) if request.draft else {}
    problems = {}
    for item, raw in answers.items():
        if instrument.item(item) is None:
            problems[item] = f"{item!r} is not an item of {instrument.code}"
            continue
        value, found = validation.check_answer(
            instruments, instrument.informant, request.target, instrument.code, item, raw
        )
        if found:
            problems[item] = "; ".join(p.message for p in found)
        elif value is None:
            draft.pop(item, None)
        else:
            draft[item] = value
    if draft != (json.loads(request.draft) if request.draft else {}):  # nothing kept: nothing written
        request.draft = json.dumps(draft, sort_keys=True)
    return problems


def draft_values(request: QuestionnaireRequest) -> dict[str, str]:
    """The draft as the form shows it: item code -> text."""
    return {item: str(value) for item, value in (json.loads(request.draft) if request.draft else {}).items()}


def _form_key(request: QuestionnaireRequest, instrument: Instrument) -> dict:
    return {
        "family_id": request.family_id,
        "member_id": request.member_id,
        "session_id": request.session_id,
        "informant": instrument.informant,
        "target": request.target,
        "instrument": instrument.code,
    }


def submit(
    request: QuestionnaireRequest,
    answers: Mapping[str, object],
    instruments: Mapping[str, Instrument],
    mode: str,
) -> int:
    """Store a member's answers to a request (every item; unanswered ones empty) and mark it answered.

    Raises ``responses.AnswersRejected`` (nothing stored, the request still open) when an answer is
    invalid, and RequestClosed with the reason when the request was answered meanwhile (another
    device, a paper form) or withdrawn: nothing is stored then (a link past its date is refused
    before, by :func:`find`; the round in the room is not bound to it). The request
    is marked answered in the same transaction as the answers, by a conditional update, so two
    devices sending at once store one form and the other is told it is in. Answers to a reopened
    request replace the earlier ones, each change kept as a correction by whoever reopened it.
    """
    instrument = instruments[request.instrument]
    rows = [
        _form_key(request, instrument) | {"item": item.code, "value": answers.get(item.code), "line": number}
        for number, item in enumerate(instrument.items, start=1)
    ]
    # Validate first: a refused value leaves the request open, with nothing stored.
    values = _validated(rows, instruments)
    now = utcnow()
    taken = db.session.execute(
        sa.update(QuestionnaireRequest)
        .where(
            QuestionnaireRequest.id == request.id,
            QuestionnaireRequest.answered_at.is_(None),
            QuestionnaireRequest.withdrawn_at.is_(None),
        )
        .values(answered_at=now, answered_mode=mode, answered_by_id=None, draft=None)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        db.session.refresh(request)
        raise RequestClosed(state(request), request)
    stored = {
        r.item: r
        for r in db.session.scalars(sa.select(Response).filter_by(**_form_key(request, instrument)).with_for_update())
    }
    if not stored:
        try:
            count = store_answers(rows, instruments)
        except sa.exc.IntegrityError:  # the same form stored by another path at the same moment
            raise RequestClosed("answered", request) from None
        db.session.refresh(request)
        return count
    # A reopened request: the new answers correct the stored ones, and the history keeps both.
    for item, value in values.items():
        answer = stored.get(item)
        if answer is not None and answer.value != value:
            db.session.add(
                ResponseChange(
                    **_form_key(request, instrument),
                    item=item,
                    old_value=answer.value,
                    new_value=value,
                    changed_by_id=request.reopened_by_id,
                )
            )
            answer.value = value
    summaries.touch([request.family_id])
    form = _form_key(request, instrument)
    scores.rescore_forms([tuple(form[name] for name in scores.FORM_KEY)], instruments)
    db.session.refresh(request)
    return len(values)


def _validated(rows: list[dict], instruments: Mapping[str, Instrument]) -> dict[str, int | None]:
    """Each row's item and checked value; raises AnswersRejected on any problem (nothing stored)."""
    values, problems = {}, []
    for row in rows:
        value, found = validation.check_answer(
            instruments, row["informant"], row["target"], row["instrument"], row["item"], row["value"], row.get("line")
        )
        problems.extend(found)
        values[row["item"]] = value
    if problems:
        raise AnswersRejected(problems)
    return values


def reopen(request: QuestionnaireRequest, user: User) -> None:
    """Let a member answer an answered request again (the therapist's explicit step; who and when are kept)."""
    if request.answered_at is None:
        raise OperationError("This questionnaire is not answered yet.")
    now = utcnow()
    request.answered_at = None
    request.answered_mode = None
    request.answered_by_id = None
    request.withdrawn_at = None
    request.reopened_at = now
    request.reopened_by_id = user.id
    request.expires_at = None  # a new link is needed; the old one no longer opens it
    db.session.execute(
        sa.update(RequestToken)
        .where(RequestToken.request_id == request.id, RequestToken.replaced_at.is_(None))
        .values(replaced_at=now)
    )
    db.session.flush()
    summaries.touch([request.family_id])


def save_grid(
    session: TherapySession,
    instrument: Instrument,
    cells: Mapping[tuple[int, str], str],
    user: User | None,
    instruments: Mapping[str, Instrument],
    shown: Mapping[tuple[int, str], str] | None = None,
) -> tuple[int, int]:
    """Store a grid (``responses.save_grid``) and mark the requests it answered: (answers added, corrected).

    A member whose form the grid stored now has their request answered, by paper (a self-report
    typed in) or by the therapist's grid; a request answered before (by link, in the round) keeps
    how it was answered, and the grid's changes to it are corrections.
    """
    before = responses.grid_answers(session, instrument) if shown is None else shown
    # Only rows the user typed in answer a request: saving a grid unchanged does not close a reopened one.
    typed = {
        member_id
        for (member_id, item), text in cells.items()
        if text.strip() != (before.get((member_id, item)) or "").strip()
    }
    added, corrected = responses.save_grid(session, instrument, cells, user, instruments, shown)
    stored = set(
        db.session.scalars(
            sa.select(Response.member_id)
            .where(
                Response.session_id == session.id,
                Response.instrument == instrument.code,
                Response.target == session.target,
                Response.member_id.in_(typed),
            )
            .distinct()
        )
    )
    _fulfil(session, stored, instrument, user)
    return added, corrected


def _fulfil(session: TherapySession, member_ids: Iterable[int], instrument: Instrument, user: User | None) -> None:
    """Mark the requests of members whose answers a grid stored as answered (paper, or the therapist's grid)."""
    mode = "grid" if instrument.informant == "therapist" else "paper"
    now = utcnow()
    answered = False
    for member_id in member_ids:
        request = _get_or_create(session, member_id, instrument.code)
        if request.answered_at is None:
            answered = True
            request.answered_at = now
            request.answered_mode = mode
            request.answered_by_id = user.id if user else None
            request.withdrawn_at = None
            request.draft = None
    if answered:  # the caseload's flag and the family page show which questionnaires are in
        summaries.touch([session.family_id])
    db.session.flush()


def newest_link_made() -> sa.ScalarSelect:
    """When a request's newest link was made (correlated to ``QuestionnaireRequest``)."""
    return (
        sa.select(sa.func.max(RequestToken.created_at))
        .where(RequestToken.request_id == QuestionnaireRequest.id)
        .scalar_subquery()
    )


def link_last_day(expires_at: dt.datetime) -> dt.date:
    """The last whole day a link works, in the clinic's time zone (it stops at a time of day after it).

    The one date every page and message gives for a link: the session page, the family page, the e-mail.
    """
    moment = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=dt.UTC)
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return (moment.astimezone(zone) - dt.timedelta(days=1)).date()


def reminder_cutoff(now: dt.datetime | None = None, days: int | None = None) -> dt.datetime:
    """Links made before this moment are past their reminder: ``REMINDER_DAYS`` whole days (UTC) after the day made.

    Whole days, so the caseload's flag moves once a day (its cached page is kept per day) and the
    reminders of one day all see the same links.
    """
    now = now or utcnow()
    days = days if days is not None else current_app.config["REMINDER_DAYS"]
    midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - dt.timedelta(days=days - 1)


def past_reminder(now: dt.datetime | None = None, days: int | None = None) -> sa.Select:
    """The requests still to answer, with a working link, that got a reminder or whose newest link was made
    ``REMINDER_DAYS`` or more ago."""
    now = now or utcnow()
    return sa.select(QuestionnaireRequest).where(
        QuestionnaireRequest.answered_at.is_(None),
        QuestionnaireRequest.withdrawn_at.is_(None),
        QuestionnaireRequest.expires_at > now,
        sa.or_(
            QuestionnaireRequest.reminded_at.is_not(None),
            newest_link_made() < reminder_cutoff(now, days),
        ),
    )


def families_past_reminder(now: dt.datetime | None = None) -> sa.Select:
    """The ids of families with a request open past its reminder (the caseload's flag)."""
    return past_reminder(now).with_only_columns(QuestionnaireRequest.family_id).distinct()


def latest_session_states(family_id: int) -> tuple[TherapySession | None, list[tuple[QuestionnaireRequest, str]]]:
    """The family's latest session with requests, and its members' requests with their states."""
    latest = db.session.scalar(
        sa.select(TherapySession)
        .join(QuestionnaireRequest, QuestionnaireRequest.session_id == TherapySession.id)
        .where(TherapySession.family_id == family_id)
        .order_by(TherapySession.number.desc())
        .limit(1)
    )
    if latest is None:
        return None, []
    now = utcnow()
    return latest, [(r, state(r, now)) for r in for_session(latest)]


def session_page(session: TherapySession) -> dict:
    """What the session page shows: each attendee's requests with their states, the corrections, the grids."""
    requests = for_session(session)
    now = utcnow()
    changes = db.session.scalars(
        sa.select(ResponseChange).where(ResponseChange.session_id == session.id).order_by(ResponseChange.changed_at)
    ).all()
    planned = sorted({a.instrument for a in session.attendance if a.present and a.instrument})
    return {
        "requests": [(r, state(r, now)) for r in requests],
        "changes": changes,
        "planned": planned,
    }
