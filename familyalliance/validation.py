"""Checks on item answers, shared by every way answers come in: forms, member links, import.

Pure: no Flask, no database. Each problem names the line (when there is one) and the
field, and says what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .instruments import Instrument
from .vocab import CODE_PATTERN, INFORMANTS, ROLES, TARGETS

INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input."""

    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"


def parse_value(raw: object) -> tuple[int | None, str | None]:
    """Turn a submitted value into an int (None for unanswered); return (value, error)."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return None, f"{raw!r} is not a whole number"
    if isinstance(raw, int):
        return raw, None
    if isinstance(raw, float):
        return (int(raw), None) if raw.is_integer() else (None, f"{raw!r} is not a whole number")
    text = str(raw).strip()
    if text == "":
        return None, None
    if not INTEGER.fullmatch(text):
        return None, f"{text!r} is not a whole number"
    return int(text), None


def check_answer(
    instruments: Mapping[str, Instrument],
    informant: str,
    target: str,
    instrument: str,
    item: str,
    value: object,
    line: int | None = None,
) -> tuple[int | None, list[Problem]]:
    """Check one answer; return its parsed value and the problems (empty when fine)."""
    problems = []
    if informant not in INFORMANTS:
        problems.append(Problem("informant", f"{informant!r} is not allowed; use {' or '.join(INFORMANTS)}", line))
    if target not in TARGETS:
        problems.append(Problem("target", f"{target!r} is not allowed; use {' or '.join(TARGETS)}", line))
    definition = instruments.get(instrument)
    if definition is None:
        known = ", ".join(sorted(instruments))
        problems.append(Problem("instrument", f"unknown instrument {instrument!r}; installed: {known}", line))
        return None, problems
    if informant in INFORMANTS and informant != definition.informant:
        problems.append(
            Problem(
                "informant", f"{instrument} is filled in by informant {definition.informant!r}, not {informant!r}", line
            )
        )
    if definition.item(item) is None:
        problems.append(
            Problem(
                "item",
                f"{item!r} is not an item of {instrument}; its items are {', '.join(definition.item_codes)}",
                line,
            )
        )
    parsed, error = parse_value(value)
    if error:
        problems.append(Problem("value", f"{error}; {instrument} takes {_scale(definition)}", line))
    elif parsed is not None and not definition.scale_min <= parsed <= definition.scale_max:
        problems.append(
            Problem("value", f"{parsed} is outside the scale; {instrument} takes {_scale(definition)}", line)
        )
    return parsed, problems


def _scale(definition: Instrument) -> str:
    return f"a whole number from {definition.scale_min} to {definition.scale_max}, or empty for unanswered"


def duplicate_keys(keyed: Iterable[tuple[tuple, int | None]]) -> list[Problem]:
    """One problem for every (key, line) whose key was seen before: one answer per response key."""
    first_seen: dict[tuple, int | None] = {}
    problems = []
    for key, line in keyed:
        if key in first_seen:
            earlier = f" (first on line {first_seen[key]})" if first_seen[key] is not None else ""
            problems.append(Problem("item", f"a second answer for {'/'.join(map(str, key))}{earlier}", line))
        else:
            first_seen[key] = line
    return problems


# --- The long CSV, checked a chunk of rows at a time (metrics.md section 3) -------------------

LONG_HEADER = ["family", "member", "role", "session", "date", "informant", "target", "instrument", "item", "value"]
DATE = r"^\d{4}-\d{2}-\d{2}$"


def check_long_chunk(chunk: pd.DataFrame, lines: np.ndarray, instruments: Mapping[str, Instrument]) -> list[Problem]:
    """Check rows of the long CSV (all columns text) against the contract; one Problem per fault.

    The same rules as :func:`check_answer`, applied to whole columns at once. Cross-row rules
    (one date per session, one role per member, one answer per key) are the caller's.
    """
    problems: list[Problem] = []

    def flag(mask, field: str, message) -> None:
        for i in np.flatnonzero(np.asarray(mask)):
            text = message(i) if callable(message) else message
            problems.append(Problem(field, text, int(lines[i])))

    col = {name: chunk[name].to_numpy(dtype=object) for name in LONG_HEADER}
    for name in ("family", "member"):
        ok = chunk[name].str.fullmatch(CODE_PATTERN.pattern)
        flag(~ok, name, lambda i, n=name: f"{col[n][i]!r} is not a valid code; use 1 to 64 letters, digits, '-', "
                                          "'_' or '.'")  # fmt: skip
    flag(~chunk["role"].isin(ROLES), "role", lambda i: f"{col['role'][i]!r} is not a role; use one of "
                                                       f"{', '.join(ROLES)}")  # fmt: skip
    session_ok = chunk["session"].str.fullmatch(r"\d{1,9}") & (pd.to_numeric(chunk["session"], errors="coerce") >= 1)
    flag(~session_ok, "session", lambda i: f"{col['session'][i]!r} is not a session number; use a whole number "
                                           "from 1")  # fmt: skip
    dates = pd.to_datetime(chunk["date"].where(chunk["date"].str.fullmatch(DATE)), format="%Y-%m-%d", errors="coerce")
    flag(dates.isna(), "date", lambda i: f"{col['date'][i]!r} is not a date; use YYYY-MM-DD")
    flag(~chunk["informant"].isin(INFORMANTS), "informant",
         lambda i: f"{col['informant'][i]!r} is not allowed; use {' or '.join(INFORMANTS)}")  # fmt: skip
    flag(~chunk["target"].isin(TARGETS), "target",
         lambda i: f"{col['target'][i]!r} is not allowed; use {' or '.join(TARGETS)}")  # fmt: skip

    known = chunk["instrument"].isin(list(instruments))
    flag(~known, "instrument", lambda i: f"unknown instrument {col['instrument'][i]!r}; installed: "
                                         f"{', '.join(sorted(instruments))}")  # fmt: skip
    expected = chunk["instrument"].map({c: inst.informant for c, inst in instruments.items()})
    flag(known & chunk["informant"].isin(INFORMANTS) & (chunk["informant"] != expected), "informant",
         lambda i: f"{col['instrument'][i]} is filled in by informant {expected.iloc[i]!r}, not "
                   f"{col['informant'][i]!r}")  # fmt: skip
    pairs = {f"{c}\t{item}" for c, inst in instruments.items() for item in inst.item_codes}
    item_ok = (chunk["instrument"] + "\t" + chunk["item"]).isin(pairs)
    flag(known & ~item_ok, "item", lambda i: f"{col['item'][i]!r} is not an item of {col['instrument'][i]}; its "
         f"items are {', '.join(instruments[col['instrument'][i]].item_codes)}")  # fmt: skip

    value = chunk["value"]
    answered = value != ""
    numeric = value.str.fullmatch(INTEGER.pattern)
    flag(answered & ~numeric, "value", lambda i: f"{col['value'][i]!r} is not a whole number; "
         + (f"{col['instrument'][i]} takes {_scale(instruments[col['instrument'][i]])}" if known.iloc[i]
            else "use a whole number, or leave it empty for unanswered"))  # fmt: skip
    number = pd.to_numeric(value.where(answered & numeric), errors="coerce")
    low = chunk["instrument"].map({c: inst.scale_min for c, inst in instruments.items()})
    high = chunk["instrument"].map({c: inst.scale_max for c, inst in instruments.items()})
    flag(known & number.notna() & ((number < low) | (number > high)), "value",
         lambda i: f"{int(number.iloc[i])} is outside the scale; {col['instrument'][i]} takes "
                   f"{_scale(instruments[col['instrument'][i]])}")  # fmt: skip
    problems.sort(key=lambda p: p.line or 0)
    return problems
