"""The audit log: who viewed which family, who changed or exported what, when and from where.

Entries go to ``audit_event`` (``models.AuditEvent``), a table with no link to the clinical
tables and no clinical content. It is append-only, enforced by the database: triggers
made by the migration refuse every UPDATE and DELETE (and, on PostgreSQL, TRUNCATE), whoever asks.

Two ways in:

- every request a logged-in user makes to a page of one family (a URL with the case
  code) is logged after it is answered (``family.view`` for reading, ``family.change``
  for a form sent), with the answer's status, so refused attempts are logged too;
- the views call :func:`record` for everything else: logging in and out, failed logins and
  lockouts, exports, imports, account changes, erasure, and reading the log itself.

A failure to write the entry fails the request: no access goes unrecorded.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from flask import Response, g, has_request_context, request
from flask_login import current_user

from familyalliance.core import exports, vocab
from familyalliance.store.db import begin_write, db
from familyalliance.store.models import AuditEvent, Family, User, utcnow

#: The columns of the CSV export, in order.
CSV_COLUMNS = ("id", "at", "user_email", "user_role", "action", "family_code", "endpoint", "status", "ip", "detail")


def _event(
    action: str,
    *,
    family: Family | None = None,
    family_id: int | None = None,
    family_code: str | None = None,
    detail: dict | None = None,
    status: int | None = None,
    user: User | None = None,
) -> AuditEvent:
    """A new entry for ``user`` (default: the current user) and the current request, not yet added."""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    return AuditEvent(
        at=utcnow(),
        user_id=user.id if user else None,
        user_email=user.email if user else None,
        user_role=user.role if user else None,
        action=action,
        family_id=family.id if family is not None else family_id,
        family_code=family.code if family is not None else family_code,
        endpoint=request.endpoint if has_request_context() else None,
        status=status,
        ip=request.remote_addr if has_request_context() else None,
        detail=detail or {},
    )


def record(action: str, **facts) -> AuditEvent:
    """Add an entry to the session, committed with the caller's work (``facts``: see ``_event``)."""
    event = _event(action, **facts)
    db.session.add(event)
    return event


def record_now(action: str, **facts) -> None:
    """Record an entry in a transaction of its own, whatever the caller's transaction holds.

    The entry is made first (reading the account), then written as the new transaction's
    first statement: on SQLite no stale read can stand in the way of the write.
    """
    event = _event(action, **facts)
    begin_write()
    db.session.add(event)
    db.session.commit()


def skip_family_log() -> None:
    """Tell the after-request log that the view recorded this request itself (e.g. an erasure)."""
    g.audit_done = True


def log_family_request(response: Response) -> Response:
    """After a request to one family's page: log who read or changed it, with the answer's status."""
    code = (request.view_args or {}).get("code")
    if code is None or g.get("audit_done") or not current_user.is_authenticated:
        return response
    action = "family.view" if request.method in ("GET", "HEAD") else "family.change"
    if not vocab.is_valid_code(code):  # a case code no family can have: logged without it
        record_now(action, detail={"code": "not a valid case code"}, status=response.status_code)
        return response
    family_id = g.get("family_id")  # set by access.family_or_404; a refused request looks it up
    if family_id is None:
        family_id = db.session.scalar(sa.select(Family.id).where(Family.code == code))
    record_now(action, family_id=family_id, family_code=code, status=response.status_code)
    return response


def filtered(
    email: str | None = None,
    family_code: str | None = None,
    action: str | None = None,
    since=None,
    until=None,
) -> sa.Select:
    """The entries matching the admin's filters, newest first."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if email:
        query = query.where(AuditEvent.user_email == email.strip().lower())
    if family_code:
        query = query.where(AuditEvent.family_code == family_code.strip())
    if action:
        query = query.where(AuditEvent.action == action)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return query


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The entries as CSV text, line by line (for a streamed download)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for event in events:
        writer.writerow([_csv_cell(getattr(event, column)) for column in CSV_COLUMNS])
        yield flush()


def _csv_cell(value) -> str:
    """A cell as text, never read as a formula by a spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return exports.neutralise(text)


def actions() -> list[str]:
    """The actions found in the log, for the admin's filter."""
    return list(db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
