"""Which questionnaire a member fills in at a session: the project's default plan (pure).

The full ``alliance16`` every third session from session 3 on, the quick ``check4`` at the
others; children always the quick check, which is written for them.
"""

FULL, QUICK = "alliance16", "check4"


def default_instrument(role: str, session_number: int) -> str:
    """The questionnaire for a member with ``role`` at session ``session_number``."""
    if role != "child" and session_number >= 3 and session_number % 3 == 0:
        return FULL
    return QUICK
