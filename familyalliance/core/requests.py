"""The state of a questionnaire request: one member's questionnaire at one session, about one target.

A request is what every way of answering fulfils: a personal link, the tablet round, a paper
form typed in, the therapist's grid, the import. Its state is computed here, once, from what is
stored, and every page, prompt and export reads it from here.
"""

from __future__ import annotations

import datetime as dt

#: The states, in the order a request passes through them.
STATES = ("open", "in_progress", "answered", "expired", "withdrawn")
#: States in which the member can still answer.
ANSWERABLE = ("open", "in_progress")


def request_state(
    answered_at: dt.datetime | None,
    withdrawn_at: dt.datetime | None,
    expires_at: dt.datetime | None,
    has_draft: bool,
    now: dt.datetime,
) -> str:
    """``answered`` once answered (whatever else holds), ``withdrawn``, ``expired`` (its link is past its
    date), ``in_progress`` (a draft is kept) or ``open``."""
    if answered_at is not None:
        return "answered"
    if withdrawn_at is not None:
        return "withdrawn"
    if expires_at is not None and _aware(expires_at) <= now:
        return "expired"
    return "in_progress" if has_draft else "open"


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC datetimes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
