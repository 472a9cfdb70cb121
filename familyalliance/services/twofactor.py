"""The second factor of staff logins: TOTP codes (RFC 6238, ``pyotp``) and single-use recovery codes.

- The secret is made when the user sets the factor up and stays in the account; it is shown
  (as a QR code and as text) only until the first code confirms it.
- A code is accepted for the current time step or one either side (clock drift), and only for
  a step later than the last one accepted: the step is raised in one conditional UPDATE, so a
  code used once (on any worker) is refused ever after.
- Ten recovery codes (60 random bits each) are shown once; only their SHA-256 is kept, and each
  is spent by a conditional UPDATE, so it logs in once.
- Which roles must have a second factor: ``TWO_FACTOR_ROLES`` (config.py).

Services flush but leave committing to the caller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
import sqlalchemy as sa
from flask import current_app

from familyalliance.core import vocab
from familyalliance.core.passwords import new_session_token
from familyalliance.store.db import db
from familyalliance.store.models import RecoveryCode, User, utcnow

#: How many recovery codes a user gets at a time.
RECOVERY_CODES = 10
#: The name an authenticator app shows beside the account.
ISSUER = "familyalliance"
#: Time steps either side of now that still count (30 s each: a phone's clock a little off).
VALID_WINDOW = 1


def configured_roles(value) -> frozenset[str]:
    """The roles of a ``TWO_FACTOR_ROLES`` value (a list, or names joined by commas); unknown names are an error."""
    if isinstance(value, str):
        value = value.split(",")
    roles = frozenset(name.strip() for name in value or () if name and name.strip())
    unknown = roles - set(vocab.USER_ROLES)
    if unknown:
        raise ValueError(f"TWO_FACTOR_ROLES names unknown roles {sorted(unknown)}; choose from {vocab.USER_ROLES}")
    return roles


def required(user: User) -> bool:
    """Whether ``user``'s role must log in with a second factor (``TWO_FACTOR_ROLES``)."""
    return user.role in configured_roles(current_app.config["TWO_FACTOR_ROLES"])


def pending_secret(user: User) -> str:
    """The secret to set the factor up with: the one made before (a reload keeps what was scanned), or a new one."""
    if user.two_factor_on:
        raise ValueError("the second factor is set up already")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
        db.session.flush()
    return user.totp_secret


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG (no script, no request off the server)."""
    return segno.make(uri, error="m").svg_inline(scale=4)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type and to read aloud."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (of now and its neighbours) whose code is ``code``, or None."""
    totp = pyotp.TOTP(secret)
    step = int(now // totp.interval)  # RFC 6238's T: Unix time over the 30 s interval
    found = None
    for candidate in range(step - VALID_WINDOW, step + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            found = candidate  # no early return: every candidate is compared, in the same time
    return found


def normalise(code: str) -> str:
    """A typed code without spaces and dashes, lower case."""
    return "".join(code.split()).replace("-", "").lower()


def is_totp_code(code: str) -> bool:
    """Whether a typed code has the form of an app's code (six digits) rather than a recovery code."""
    code = normalise(code)
    return len(code) == 6 and code.isascii() and code.isdigit()


def _use_step(user: User, secret: str, code: str, now: float) -> str:
    """``ok`` when ``code`` is the app's code of a step not used before (the step is stored), else why not."""
    step = _matching_step(secret, normalise(code), now)
    if step is None:
        return "wrong"
    taken = db.session.execute(
        sa.update(User)
        .where(User.id == user.id, sa.or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return "reused"
    user.totp_last_step = step
    return "ok"


def check_code(user: User, code: str, now: float | None = None) -> str:
    """Check a code of the user's set-up factor: ``ok`` (this code's step is now spent), ``wrong`` or ``reused``."""
    if not user.two_factor_on:
        return "wrong"
    return _use_step(user, user.totp_secret, code, time.time() if now is None else now)


def confirm_setup(user: User, code: str, now: float | None = None) -> list[str] | None:
    """Turn the factor on when ``code`` matches the pending secret: the new recovery codes, else None."""
    if user.two_factor_on or not user.totp_secret:
        return None
    user.totp_last_step = None
    if _use_step(user, user.totp_secret, code, time.time() if now is None else now) != "ok":
        return None
    user.two_factor_since = utcnow()
    user.failed_logins = 0
    return new_recovery_codes(user)


def _hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def _new_code() -> str:
    """12 characters of base32 (60 random bits), shown as three groups of four."""
    text = base64.b32encode(secrets.token_bytes(8)).decode().lower()[:12]
    return "-".join(text[i : i + 4] for i in range(0, 12, 4))


def new_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes for ``user`` (returned once, to be shown); the older ones no longer count."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in codes)
    db.session.flush()
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one of the user's unused recovery codes (one conditional UPDATE: it logs in once, even at once)."""
    if not user.two_factor_on:
        return False
    spent = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount == 1


def recovery_codes_left(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def reset(user: User) -> bool:
    """Remove the user's second factor (a lost phone): secret, step and codes; they set it up again at login.

    Returns whether there was anything to remove. The account's sessions end (a new session token).
    """
    had = user.totp_secret is not None or user.two_factor_since is not None
    user.totp_secret = None
    user.two_factor_since = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    if had:
        user.session_token = new_session_token()
    db.session.flush()
    return had
