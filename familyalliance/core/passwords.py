"""Passwords: the rules a new password must meet (hashing is ``services.accounts``'s, with the configured cost).

The rules follow NIST SP 800-63B: length counts, composition rules do not. A new password
has at least ``MIN_LENGTH`` characters and must not be easy to guess: zxcvbn (Dropbox's
estimator, with its lists of common passwords, words and names) must rate it ``MIN_SCORE``
(4, its top grade), with the account's email, the app's name and common Dutch words counted
as guessable (zxcvbn's own lists are English).
"""

from __future__ import annotations

import secrets

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 4

#: Words a Dutch-speaking clinic's passwords are made of, which zxcvbn does not know.
_DUTCH_WORDS = """
wachtwoord welkom familie gezin kinderen kind vader moeder zomer winter lente herfst
januari februari maart april mei juni juli augustus september oktober november december
maandag dinsdag woensdag donderdag vrijdag zaterdag zondag therapie therapeut jeugdzorg
zorg alliantie hallo geheim voetbal amsterdam rotterdam utrecht nederland vlaanderen belgie
"""
DUTCH_WORDS = tuple(_DUTCH_WORDS.split())


def new_session_token() -> str:
    """A fresh token for ``User.session_token``."""
    return secrets.token_hex(16)


def weakness(password: str, email: str = "") -> str | None:
    """Why ``password`` may not be used (``too_short``, ``too_long``, ``guessable``), or None when it may."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    local, _, domain = email.lower().partition("@")
    guessable = [email.lower(), local, domain, *domain.split("."), "familyalliance", "family", "alliance", *DUTCH_WORDS]
    if zxcvbn(password, user_inputs=[word for word in guessable if word])["score"] < MIN_SCORE:
        return "guessable"
    return None
