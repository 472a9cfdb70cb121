"""Personal API tokens: an account makes, lists and revokes its own, for the FHIR API (``/fhir/R4``).

A token is 256 random bits (``fa_`` and 43 URL-safe characters), shown once when it is made; the
database keeps only its SHA-256, which suffices for a secret that cannot be guessed (no password
behind it to try a dictionary on). A token reaches what its account may see (``services.policy``),
no more; it stops working when revoked, and while its account is deactivated. Services flush;
the caller commits (and records the audit entry).
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from familyalliance.store.db import db
from familyalliance.store.models import ApiToken, User, utcnow

#: What every token starts with: it tells a leaked secret for what it is (and secret scanners can find it).
PREFIX = "fa_"
#: The longest name a token can be given.
NAME_MAX_LENGTH = 80
#: Reasons :func:`authenticate` refuses a token.
MISSING, UNKNOWN, REVOKED, INACTIVE = "missing", "unknown", "revoked", "inactive"


def digest(token: str) -> str:
    """The SHA-256 (hex) the database keeps of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(user: User, name: str) -> tuple[ApiToken, str]:
    """Make a token for ``user`` named ``name``; return its row and the token, which is never shown again."""
    token = PREFIX + secrets.token_urlsafe(32)
    made = ApiToken(user_id=user.id, name=name.strip()[:NAME_MAX_LENGTH], token_hash=digest(token), created_at=utcnow())
    db.session.add(made)
    db.session.flush()
    return made, token


def tokens_of(user: User) -> list[ApiToken]:
    """The account's tokens in use (not revoked), newest first."""
    query = (
        sa.select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return list(db.session.scalars(query))


def revoke(user: User, token_id: int) -> ApiToken | None:
    """Revoke one of the account's own tokens; None when it has no such token in use."""
    token = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if token is None:
        return None
    token.revoked_at = utcnow()
    db.session.flush()
    return token


def authenticate(token: str | None) -> tuple[ApiToken | None, str]:
    """The token in use and its account's; else None and why (``MISSING``, ``UNKNOWN``, ``REVOKED``, ``INACTIVE``)."""
    if not token:
        return None, MISSING
    found = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if found is None:
        return None, UNKNOWN
    if found.revoked_at is not None:
        return None, REVOKED
    if not found.user.active:
        return None, INACTIVE
    return found, "ok"


def mark_used(token: ApiToken) -> None:
    """Note that a call used ``token`` now."""
    token.last_used_at = utcnow()
    db.session.flush()
