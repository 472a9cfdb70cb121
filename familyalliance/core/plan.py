"""Which questionnaire a member fills in at a session: the plan (pure).

By default the full ``alliance16`` at the first session (the intake) and every third session
after it (1, 4, 7, ...), and the quick ``check4`` at the others; children always the quick
check, which is written for them. A family can have the full questionnaire every
``full_every`` sessions instead (always from session 1 on), or never (0).
"""

FULL, QUICK = "alliance16", "check4"
DEFAULT_FULL_EVERY = 3


def default_instrument(role: str, session_number: int, full_every: int = DEFAULT_FULL_EVERY) -> str:
    """The questionnaire for a member with ``role`` at session ``session_number``."""
    if role != "child" and full_every > 0 and (session_number - 1) % full_every == 0:
        return FULL
    return QUICK
