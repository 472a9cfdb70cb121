"""Storing answers: validated rows in bulk, and the grids of paper forms and the therapist's view.

Services take plain arguments and do the database work; they flush but leave committing to
the caller, so a caller can group several in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from familyalliance.core import validation
from familyalliance.core.instruments import Instrument
from familyalliance.services.errors import OperationError
from familyalliance.store import bulk, scores, summaries
from familyalliance.store.db import db
from familyalliance.store.models import (
    Response,
    ResponseChange,
    TherapySession,
    User,
)


class AnswersRejected(OperationError):
    """Answers that failed validation; ``problems`` says what and where. Nothing was stored."""

    def __init__(self, problems: list[validation.Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


COPY_COLUMNS = ("family_id", "member_id", "session_id", "informant", "target", "instrument", "item", "value")


def store_responses(rows: Iterable[Mapping], instruments: Mapping[str, Instrument] | None = None) -> int:
    """Insert response rows (dicts of Response columns) and their forms' scores in the current transaction;
    return how many rows.

    Through ``bulk.insert``: COPY on PostgreSQL, executemany on SQLite. The response
    store's key refuses a second answer for the same (family, member, session, informant,
    target, instrument, item) with an IntegrityError.
    """
    values = [tuple(row.get(column) for column in COPY_COLUMNS) for row in rows]
    bulk.insert(db.session.connection(), "response", COPY_COLUMNS, values)
    summaries.touch(row[0] for row in values)
    scores.rescore_forms({row[:6] for row in values}, instruments)
    return len(values)


RESPONSE_KEY = ("family_id", "member_id", "session_id", "informant", "target", "instrument", "item")


def store_answers(rows: Iterable[Mapping], instruments: Mapping[str, Instrument]) -> int:
    """Validate answers (Response columns; ``value`` as submitted) and store them all, or none.

    Every row is checked with the shared validation (instrument, informant, item, value on
    the scale, one answer per key); any problem raises AnswersRejected before anything is
    written. Returns the number of rows stored.
    """
    clean, problems = [], []
    for row in rows:
        value, found = validation.check_answer(
            instruments, row["informant"], row["target"], row["instrument"], row["item"], row["value"], row.get("line")
        )
        problems.extend(found)
        clean.append({key: row[key] for key in RESPONSE_KEY} | {"value": value})
    problems.extend(validation.duplicate_keys((tuple(r[k] for k in RESPONSE_KEY), None) for r in clean))
    if problems:
        raise AnswersRejected(problems)
    return store_responses(clean, instruments)


class GridRejected(OperationError):
    """Cells of an entry grid that failed validation: {(member id, item code): problems}. Nothing was stored.

    ``errors`` words each cell's problems in English with codes (logs, the command line);
    :meth:`messages` words them for the person at the grid, in the page's language.
    """

    def __init__(self, problems: dict[tuple[int, str], list[validation.Problem]]):
        super().__init__(f"{len(problems)} cell(s) refused")
        self.problems = problems
        self.errors = {cell: "; ".join(p.message for p in found) for cell, found in problems.items()}

    def messages(self, language: str) -> dict[tuple[int, str], str]:
        """Each refused cell's problems in ``language``: {(member id, item code): message}."""
        return {cell: " ".join(p.text(language) for p in found) for cell, found in self.problems.items()}


class GridConflict(OperationError):
    """Cells someone else changed after the grid was shown: {(member id, item code): value now stored}.

    Nothing was stored; the grid is shown again with the stored values, to check and send again.
    """

    def __init__(self, conflicts: dict[tuple[int, str], str]):
        super().__init__(f"{len(conflicts)} cell(s) changed by someone else")
        self.conflicts = conflicts


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def save_grid(
    session: TherapySession,
    instrument: Instrument,
    cells: Mapping[tuple[int, str], str],
    user: User | None,
    instruments: Mapping[str, Instrument],
    shown: Mapping[tuple[int, str], str] | None = None,
) -> tuple[int, int]:
    """Store a grid of answers (paper forms typed in, or the therapist's observations) for one session.

    ``cells`` maps (member id, item code) to the text typed; ``shown`` to the text the grid
    showed when it was opened (default: what is stored now). Only cells the user changed
    are written, so two people saving the same grid at once each keep their own changes.
    A changed cell whose stored value is no longer the one shown (someone else saved it
    meanwhile) raises GridConflict, and nothing is written.

    A member's row with nothing stored is stored whole once any of its cells is filled in
    (empty cells: unanswered). A stored answer that changes is corrected and the change kept
    in ``response_change`` with who and when. Everything is checked first; any invalid cell
    raises GridRejected and nothing is written. Returns (answers added, answers corrected).
    """
    informant, target = instrument.informant, session.target
    errors: dict[tuple[int, str], list[validation.Problem]] = {}
    parsed: dict[tuple[int, str], int | None] = {}
    for (member_id, item), raw in cells.items():
        value, problems = validation.check_answer(instruments, informant, target, instrument.code, item, raw)
        if problems:
            errors[(member_id, item)] = problems
        parsed[(member_id, item)] = value
    if errors:
        raise GridRejected(errors)
    key = {
        "family_id": session.family_id,
        "session_id": session.id,
        "informant": informant,
        "target": target,
        "instrument": instrument.code,
    }
    # Locked until the transaction ends (PostgreSQL), so a concurrent save waits and then sees these values.
    stored = {
        (r.member_id, r.item): r for r in db.session.scalars(sa.select(Response).filter_by(**key).with_for_update())
    }
    now = {cell: _text(stored[cell].value) if cell in stored else "" for cell in cells}
    before = now if shown is None else {cell: (shown.get(cell) or "").strip() for cell in cells}
    edited = {cell for cell in cells if _text(parsed[cell]) != before[cell]}
    conflicts = {cell: now[cell] for cell in edited if now[cell] != before[cell]}
    if conflicts:
        raise GridConflict(conflicts)
    added = corrected = 0
    new_rows, corrected_members = [], set()
    for member_id in sorted({member_id for member_id, _ in edited}):
        for item in instrument.items:
            cell = (member_id, item.code)
            answer = stored.get(cell)
            value = parsed.get(cell)
            if answer is None:
                new_rows.append(key | {"member_id": member_id, "item": item.code, "value": value})
            elif cell in edited:
                db.session.add(
                    ResponseChange(
                        **key,
                        member_id=member_id,
                        item=item.code,
                        old_value=answer.value,
                        new_value=value,
                        changed_by_id=user.id if user else None,
                    )
                )
                answer.value = value
                corrected += 1
                corrected_members.add(member_id)
    if new_rows:
        added = store_responses(new_rows, instruments)
    db.session.flush()
    if corrected:
        summaries.touch([session.family_id])
        forms = {(session.family_id, m, session.id, informant, target, instrument.code) for m in corrected_members}
        scores.rescore_forms(forms, instruments)
    return added, corrected


def grid_answers(session: TherapySession, instrument: Instrument) -> dict[tuple[int, str], str]:
    """The answers stored for one grid: (member id, item code) -> text (empty: unanswered)."""
    return {
        (r.member_id, r.item): "" if r.value is None else str(r.value)
        for r in db.session.scalars(
            sa.select(Response).filter_by(
                family_id=session.family_id, session_id=session.id, instrument=instrument.code, target=session.target
            )
        )
    }
