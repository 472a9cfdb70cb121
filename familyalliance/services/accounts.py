"""Accounts and teams: creating them, passwords (Argon2id hashing and the rules), roles, locks.

Services flush but leave committing to the caller, so a caller can group several in one transaction.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from familyalliance.core import vocab
from familyalliance.core.passwords import MAX_LENGTH, MIN_LENGTH, new_session_token, weakness
from familyalliance.services import policy
from familyalliance.services.errors import OperationError
from familyalliance.store.db import db
from familyalliance.store.models import (
    Team,
    User,
    utcnow,
)


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    """Return an Argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash``."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Return whether the hash was made with other parameters than the current ones."""
    return _hasher().check_needs_rehash(password_hash)


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


def teams() -> list[Team]:
    """Every team, by name."""
    return list(db.session.scalars(sa.select(Team).order_by(Team.name)))


def team(team_id: int | None) -> Team | None:
    """The team with ``team_id`` (None for none)."""
    return db.session.get(Team, team_id) if team_id else None


def managed_accounts(manager: User) -> list[User]:
    """The accounts ``manager`` manages (``policy.managed_users``), by email."""
    return list(db.session.scalars(policy.managed_users(manager).order_by(User.email)))


def managed_account(manager: User, user_id: int) -> User | None:
    """The account ``user_id`` if ``manager`` manages it, else None."""
    return db.session.scalar(policy.managed_users(manager).where(User.id == user_id))


_dummy_hash: str | None = None


def _spend_a_hash(password: str) -> None:
    """Verify against a throw-away hash: a refused login takes as long as a checked one."""
    global _dummy_hash
    _dummy_hash = _dummy_hash or hash_password("not a password of anyone")
    verify_password(_dummy_hash, password)


def count_failure(user: User, now: dt.datetime | None = None) -> str:
    """Count a wrong password (or second factor's code): ``wrong``, or ``locked_now`` when it locked the account.

    Commits: the count must stand whatever the request does next.
    """
    # Counted in the database in one statement, so concurrent attempts on several workers all count.
    db.session.execute(sa.update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    db.session.refresh(user)
    reason = "wrong"
    if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
        user.locked_until = (now or utcnow()) + dt.timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
        user.failed_logins = 0
        reason = "locked_now"
    db.session.commit()
    return reason


def authenticate(email: str, password: str) -> tuple[User | None, str]:
    """The account of ``email`` (None when there is none) and what the password did with it.

    The outcome is ``ok`` (log in), or ``unknown``, ``locked``, ``wrong``, ``locked_now`` (this
    failure locked the account) or ``inactive``. Commits the failure count.
    """
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        _spend_a_hash(password)
        return None, "unknown"
    now = utcnow()
    if user.locked(now):
        _spend_a_hash(password)
        return user, "locked"
    if not verify_password(user.password_hash, password):
        return user, count_failure(user, now)
    if not user.active:
        return user, "inactive"
    if not user.two_factor_on:  # with a second factor its code ends the count: wrong codes count as well
        user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.commit()
    return user, "ok"
