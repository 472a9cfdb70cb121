"""Mutations of the data model: plain arguments in, database work done, no request state.

Views and CLI commands call these; they flush but leave committing to the caller, so a
caller can group several operations in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from . import bulk, plan, summaries, validation, vocab
from .extensions import db
from .instruments import DefinitionError, Instrument, builtin_instruments, parse_definition
from .models import (
    Attendance,
    Family,
    InstrumentDefinition,
    Member,
    MemberLink,
    Response,
    ResponseChange,
    Team,
    TherapySession,
    User,
)
from .passwords import MAX_LENGTH, MIN_LENGTH, hash_password, new_session_token, weakness


class OperationError(ValueError):
    """A request that cannot be carried out, with a message fit for the user."""


class AnswersRejected(OperationError):
    """Answers that failed validation; ``problems`` says what and where. Nothing was stored."""

    def __init__(self, problems: list[validation.Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def get_or_create_team(name: str) -> Team:
    """Return the team called ``name``, creating it when new."""
    name = name.strip()
    if not name:
        raise OperationError("A team name cannot be empty.")
    team = db.session.scalar(sa.select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name)
        db.session.add(team)
        db.session.flush()
    return team


def create_user(email: str, password: str, role: str, team_name: str | None = None) -> User:
    """Create an account; the email is normalised and must be unique."""
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise OperationError(f"Invalid email address: {exc}") from None
    if role not in vocab.USER_ROLES:
        raise OperationError(f"Unknown role {role!r}; choose one of {', '.join(vocab.USER_ROLES)}.")
    check_password(password, email)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise OperationError(f"An account for {email} already exists.")
    team = get_or_create_team(team_name) if team_name else None
    user = User(email=email, password_hash=hash_password(password), role=role, team=team)
    db.session.add(user)
    db.session.flush()
    return user


#: What the command line says about a password that may not be used.
PASSWORD_PROBLEMS = {
    "too_short": f"The password must have at least {MIN_LENGTH} characters.",
    "too_long": f"The password may have at most {MAX_LENGTH} characters.",
    "guessable": "The password is too easy to guess; use a longer one, for example a few unrelated words.",
}


def check_password(password: str, email: str) -> None:
    """Raise OperationError when ``password`` does not meet the rules (``passwords.weakness``)."""
    problem = weakness(password, email)
    if problem:
        raise OperationError(PASSWORD_PROBLEMS[problem])


def set_password(user: User, password: str) -> None:
    """Give ``user`` a new password (unchecked: check it first); ends the account's other sessions and unlocks it."""
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()
    user.failed_logins = 0
    user.locked_until = None


def update_user(user: User, role: str, team: Team | None, active: bool) -> None:
    """Change an account's role, team and whether it may log in; a change ends its sessions."""
    if (user.role, user.team_id, user.active) != (role, team.id if team else None, active):
        user.session_token = new_session_token()
    user.role = role
    user.team = team
    user.active = active
    db.session.flush()


def unlock_user(user: User) -> None:
    """Lift a lockout after too many failed logins."""
    user.failed_logins = 0
    user.locked_until = None


def create_family(
    code: str, start_date: dt.date, therapists: Iterable[User], team: Team | None, status: str = "active"
) -> Family:
    """Open a family with its assigned therapists."""
    family = Family(
        code=code,
        start_date=start_date,
        status=status,
        team=team,
        therapists=list(therapists),
        closed_on=dt.date.today() if status == "closed" else None,
    )
    db.session.add(family)
    db.session.flush()
    return family


def update_family(
    family: Family,
    code: str,
    start_date: dt.date,
    status: str,
    therapists: Iterable[User],
    full_every: int = plan.DEFAULT_FULL_EVERY,
) -> None:
    """Change a family's case data, questionnaire plan and assigned therapists."""
    family.code = code
    family.start_date = start_date
    if status == "closed" and family.status != "closed":
        family.closed_on = dt.date.today()
    elif status != "closed":
        family.closed_on = None
    family.status = status
    family.full_every = full_every
    family.therapists = list(therapists)
    db.session.flush()
    summaries.touch([family.id])  # the caseload shows status and therapists


def erase_family(family: Family) -> dict[str, int]:
    """Remove a family and every trace of it: members, sessions, attendance, answers, corrections,
    drafts and member links, the stored summary and the therapists' assignment.

    One DELETE of the family row; the database removes the rest through its ON DELETE CASCADE
    foreign keys, in the caller's transaction. Returns how many rows of each kind went (no content).
    """
    counted = {
        "members": Member,
        "sessions": TherapySession,
        "answers": Response,
        "corrections": ResponseChange,
        "links": MemberLink,
    }
    counts = {
        name: db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.family_id == family.id))
        for name, model in counted.items()
    }
    db.session.execute(sa.delete(Family).where(Family.id == family.id))
    return counts


def add_member(family: Family, **fields) -> Member:
    """Add a member to ``family``; ``fields`` are Member columns."""
    member = Member(family=family, **fields)
    db.session.add(member)
    db.session.flush()
    summaries.touch([family.id])
    return member


def update_member(member: Member, **fields) -> None:
    """Change a member's columns."""
    for name, value in fields.items():
        setattr(member, name, value)
    db.session.flush()
    summaries.touch([member.family_id])


def record_session(
    family: Family,
    number: int,
    date: dt.date,
    present_member_ids: Iterable[int],
    session: TherapySession | None = None,
    target: str = "therapist",
) -> TherapySession:
    """Create (or, given ``session``, update) a session with one attendance row per member.

    Each member present gets the questionnaire of the default plan (``plan.default_instrument``).
    """
    if session is None:
        session = TherapySession(family=family, number=number, date=date, target=target)
        db.session.add(session)
    else:
        session.number = number
        session.date = date
        session.target = target
    db.session.flush()
    present = set(present_member_ids)
    known = {a.member_id: a for a in session.attendance}
    for member in family.members:
        instrument = plan.default_instrument(member.role, number, family.full_every) if member.id in present else None
        if member.id in known:
            known[member.id].present = member.id in present
            known[member.id].instrument = instrument
        else:
            session.attendance.append(
                Attendance(
                    member_id=member.id, family_id=family.id, present=member.id in present, instrument=instrument
                )
            )
    db.session.flush()
    summaries.touch([family.id])
    return session


COPY_COLUMNS = ("family_id", "member_id", "session_id", "informant", "target", "instrument", "item", "value")


def store_responses(rows: Iterable[Mapping]) -> int:
    """Insert response rows (dicts of Response columns) in the current transaction; return how many.

    Through ``bulk.insert``: COPY on PostgreSQL, executemany on SQLite. The response
    store's key refuses a second answer for the same (family, member, session, informant,
    target, instrument, item) with an IntegrityError.
    """
    values = [tuple(row.get(column) for column in COPY_COLUMNS) for row in rows]
    bulk.insert(db.session.connection(), "response", COPY_COLUMNS, values)
    summaries.touch(row[0] for row in values)
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
    return store_responses(clean)


def install_instrument(text: str, replace: bool = False) -> Instrument:
    """Validate a definition file's text and install it as a custom instrument.

    Refused, changing nothing: an invalid definition (DefinitionError), a built-in code,
    and a code already installed, unless ``replace`` is given and no response uses it yet.
    """
    instrument = parse_definition(text)
    if instrument.code in builtin_instruments():
        raise DefinitionError([f"code: {instrument.code!r} is a built-in instrument; choose another code"])
    existing = db.session.get(InstrumentDefinition, instrument.code)
    if existing is not None:
        if not replace:
            raise DefinitionError(
                [
                    f"code: {instrument.code!r} is already installed (version {existing.version}); "
                    "use --replace, or a new code for a changed instrument"
                ]
            )
        used = db.session.scalar(sa.select(Response.family_id).where(Response.instrument == instrument.code).limit(1))
        if used is not None:
            raise DefinitionError(
                [
                    f"code: responses already use {instrument.code!r}; give the changed instrument a new code "
                    "so the old answers stay interpretable"
                ]
            )
        existing.version = instrument.version
        existing.definition = text
    else:
        db.session.add(InstrumentDefinition(code=instrument.code, version=instrument.version, definition=text))
    db.session.flush()
    return instrument


class GridRejected(OperationError):
    """Cells of an entry grid that failed validation: {(member id, item code): message}. Nothing was stored."""

    def __init__(self, errors: dict[tuple[int, str], str]):
        super().__init__(f"{len(errors)} cell(s) refused")
        self.errors = errors


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
    errors: dict[tuple[int, str], str] = {}
    parsed: dict[tuple[int, str], int | None] = {}
    for (member_id, item), raw in cells.items():
        value, problems = validation.check_answer(instruments, informant, target, instrument.code, item, raw)
        if problems:
            errors[(member_id, item)] = "; ".join(p.message for p in problems)
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
    new_rows = []
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
    if new_rows:
        added = store_responses(new_rows)
    db.session.flush()
    if corrected:
        summaries.touch([session.family_id])
    return added, corrected
