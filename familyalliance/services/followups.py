"""The therapist's follow-up of ruptures: when a rupture was discussed with the family, and a short note.

A rupture is computed from the scores (metrics.md section 7), never stored; its follow-up
(``models.RuptureFollowUp``) names it by its key, (member, session, informant, target,
dimension) within the family. The data say whether a rupture is open, repaired or
unrepaired; the follow-up says what the therapist did about it. Both stand side by side,
neither changes the other.

The note is clinical content: it is shown to the family's team only, erased with the family
(ON DELETE CASCADE), and never exported: the exports are built from the answers alone.

Saving raises the family's revision (``summaries.touch``) in the same transaction, so the
caseload summary and the cached family page that show the follow-up are built again.
Services flush but leave committing to the caller.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

import sqlalchemy as sa

from familyalliance.core import analytics, vocab
from familyalliance.services.errors import OperationError
from familyalliance.store import queries, summaries
from familyalliance.store.db import db
from familyalliance.store.models import (
    FOLLOW_UP_NOTE_MAX_LENGTH,
    RUPTURE_DIMENSIONS,
    Family,
    Member,
    RuptureFollowUp,
    TherapySession,
    User,
    utcnow,
)

#: The longest note, in characters (line breaks count as one).
NOTE_MAX_LENGTH = FOLLOW_UP_NOTE_MAX_LENGTH
#: The dimensions a rupture can be in: the four and the total (``analytics.SCORE_DIMENSIONS``).
DIMENSIONS = RUPTURE_DIMENSIONS

#: Control characters a note may hold: the line breaks and tabs of a text area.
_NOTE_WHITESPACE = frozenset("\n\t")


def check_key(informant: str, target: str, dimension: str) -> None:
    """Raise OperationError unless informant, target and dimension are words of the vocabulary."""
    if informant not in vocab.INFORMANTS:
        raise OperationError(f"Unknown informant {informant!r}; choose one of {', '.join(vocab.INFORMANTS)}.")
    if target not in vocab.TARGETS:
        raise OperationError(f"Unknown target {target!r}; choose one of {', '.join(vocab.TARGETS)}.")
    if dimension not in DIMENSIONS:
        raise OperationError(f"Unknown dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}.")


def clean_note(note: str | None) -> str | None:
    """The note as stored: line breaks as ``\\n``, surrounding blanks removed, None when empty.

    Raises OperationError for a note longer than ``NOTE_MAX_LENGTH`` characters or one with
    control characters other than line breaks and tabs (PostgreSQL cannot store NUL).
    """
    text = (note or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return None
    if len(text) > NOTE_MAX_LENGTH:
        raise OperationError(f"The note has {len(text)} characters; at most {NOTE_MAX_LENGTH} are kept.")
    if any(unicodedata.category(c) == "Cc" and c not in _NOTE_WHITESPACE for c in text):
        raise OperationError("The note holds control characters.")
    return text


def find(
    family: Family, member: Member, session: TherapySession, informant: str, target: str, dimension: str
) -> RuptureFollowUp | None:
    """The follow-up of one rupture, if there is one."""
    return db.session.scalar(
        sa.select(RuptureFollowUp).where(
            RuptureFollowUp.family_id == family.id,
            RuptureFollowUp.member_id == member.id,
            RuptureFollowUp.session_id == session.id,
            RuptureFollowUp.informant == informant,
            RuptureFollowUp.target == target,
            RuptureFollowUp.dimension == dimension,
        )
    )


def save(
    family: Family,
    member: Member,
    session: TherapySession,
    informant: str,
    target: str,
    dimension: str,
    discussed_on: dt.date | None,
    note: str | None,
    user: User | None,
) -> RuptureFollowUp | None:
    """Record (or change) the follow-up of one rupture; without a date and without a note, remove it.

    Returns the follow-up as stored, or None when there is none left. Raises OperationError
    for a word outside the vocabulary, a member or session of another family, a date in the
    future or a note that is too long; nothing changes then. Raises the family's revision
    when anything changed.
    """
    check_key(informant, target, dimension)
    if member.family_id != family.id or session.family_id != family.id:
        raise OperationError("The member and the session must be of this family.")
    if discussed_on is not None and discussed_on > dt.date.today():
        raise OperationError("The date it was discussed cannot be in the future.")
    note = clean_note(note)
    existing = find(family, member, session, informant, target, dimension)
    if discussed_on is None and note is None:
        if existing is not None:
            db.session.delete(existing)
            db.session.flush()
            summaries.touch([family.id])
        return None
    values = {
        "discussed_on": discussed_on,
        "note": note,
        "updated_by_id": user.id if user is not None else None,
        "updated_at": utcnow(),
    }
    if existing is None:
        existing = _insert(family, member, session, informant, target, dimension, values)
    elif existing.discussed_on == discussed_on and existing.note == note:
        return existing  # nothing changed: who saved it last and the revision stay as they were
    for name, value in values.items():
        setattr(existing, name, value)
    db.session.flush()
    summaries.touch([family.id])
    return existing


def rupture_status(
    family: Family,
    member: Member,
    session: TherapySession,
    informant: str,
    target: str,
    dimension: str,
    settings: analytics.Settings,
) -> str | None:
    """What the data say of this rupture: ``open``, ``repaired`` or ``unrepaired``; None when they show none here.

    Read from the family's one analysis (``queries.analysis``), the rupture table every page shows, so the follow-up's
    page never says otherwise than the dashboard and the caseload.
    """
    breaks = queries.analysis([family.id], settings).ruptures
    here = breaks[
        (breaks["member"] == member.code)
        & (breaks["session"] == session.number)
        & (breaks["informant"] == informant)
        & (breaks["target"] == target)
        & (breaks["dimension"] == dimension)
    ]
    return None if here.empty else str(here["status"].iloc[0])


def _insert(
    family: Family,
    member: Member,
    session: TherapySession,
    informant: str,
    target: str,
    dimension: str,
    values: dict,
) -> RuptureFollowUp:
    """A new follow-up row; when a colleague saved the same rupture's a moment ago (PostgreSQL), theirs.

    Then the caller writes this save's values over theirs: the last save wins, as with an update.
    """
    row = RuptureFollowUp(
        family_id=family.id,
        member_id=member.id,
        session_id=session.id,
        informant=informant,
        target=target,
        dimension=dimension,
        **values,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except sa.exc.IntegrityError:
        return find(family, member, session, informant, target, dimension)
    return row
