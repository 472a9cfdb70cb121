"""A clinic with enough families for the expected trajectory (metrics.md section 10), as a long CSV to import.

``clinic_csv`` writes ``families`` families of three members (mother, father, youth) with the quick
check at sessions 1..``sessions``: at least 30 points per session number from 10 families on. In
family ``LOW-1`` the father (``F``) answers 1 on every item at the last two sessions, far below
everyone else (5 to 10): below expected at two consecutive points.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

HEADER = ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]
MEMBERS = (("M", "mother"), ("F", "father"), ("Y", "youth"))
ITEMS = ("bond", "goals_tasks", "safety", "shared_purpose")
LOW_FAMILY = "LOW-1"


def clinic_csv(
    path: Path, families: int = 12, sessions: int = 6, seed: int = 20, start=dt.date(2026, 6, 1), prefix: str = "CL"
) -> Path:
    """Write the clinic's answers to ``path`` (the long CSV of metrics.md section 3) and return it.

    ``prefix`` names the families after ``LOW-1`` (``CL-02``, ...); another prefix makes other families, all
    of them ordinary (no ``LOW-1``).
    """
    rng = random.Random(seed)
    codes = [f"{prefix}-{i:02d}" for i in range(2, families + 1)]
    codes = [LOW_FAMILY, *codes] if prefix == "CL" else [f"{prefix}-01", *codes]
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for code in codes:
            for session in range(1, sessions + 1):
                date = start + dt.timedelta(days=14 * session)
                for member, role in MEMBERS:
                    low = code == LOW_FAMILY and member == "F" and session > sessions - 2
                    for item in ITEMS:
                        value = 1 if low else rng.randint(8, 9)
                        out.writerow([code, member, role, session, date, "self", "therapist", "check4", item, value])
    return path
