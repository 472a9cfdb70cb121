"""Checks on item answers, shared by every way answers come in: forms, member links, import.

Pure: no Flask, no database. Each problem names the line (when there is one) and the
field, and says what is allowed.
"""

from __future__ import annotations

import datetime as dt
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


def _valid(series: pd.Series, accept) -> np.ndarray:
    """Rows whose value ``accept`` allows, deciding once per distinct value (columns repeat heavily)."""
    allowed = [value for value in series.unique() if accept(value)]
    return series.isin(allowed).to_numpy()


def _is_session(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 9 and int(text) >= 1


def _is_date(text: str) -> bool:
    if not re.fullmatch(DATE, text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_long_chunk(chunk: pd.DataFrame, lines: np.ndarray, instruments: Mapping[str, Instrument]) -> list[Problem]:
    """Check rows of the long CSV (all columns text) against the contract; one Problem per fault.

    The same rules as :func:`check_answer`, applied to whole columns at once (each distinct
    value is judged once). Cross-row rules (one date per session, one role per member, one
    answer per key) are the caller's.
    """
    problems: list[Problem] = []

    class _Cells:
        """Cell text by column and row, looked up only for the rows that have a problem."""

        def __getitem__(self, name: str):
            return _Column(chunk[name])

    class _Column:
        def __init__(self, series: pd.Series):
            self.series = series

        def __getitem__(self, i):
            if isinstance(i, np.ndarray):
                return self.series.to_numpy(dtype=object)[i]
            return self.series.iloc[int(i)]

    col = _Cells()

    def flag(ok: np.ndarray, field: str, message) -> None:
        for i in np.flatnonzero(~ok):
            problems.append(Problem(field, message(i), int(lines[i])))

    for name in ("family", "member"):
        flag(
            _valid(chunk[name], lambda v: bool(CODE_PATTERN.fullmatch(v))),
            name,
            lambda i, n=name: f"{col[n][i]!r} is not a valid code; use 1 to 64 letters, digits, '-', '_' or '.'",
        )
    flag(
        chunk["role"].isin(ROLES).to_numpy(),
        "role",
        lambda i: f"{col['role'][i]!r} is not a role; use one of {', '.join(ROLES)}",
    )
    flag(
        _valid(chunk["session"], _is_session),
        "session",
        lambda i: f"{col['session'][i]!r} is not a session number; use a whole number from 1",
    )
    flag(_valid(chunk["date"], _is_date), "date", lambda i: f"{col['date'][i]!r} is not a date; use YYYY-MM-DD")
    informant_ok = chunk["informant"].isin(INFORMANTS).to_numpy()
    flag(informant_ok, "informant", lambda i: f"{col['informant'][i]!r} is not allowed; use {' or '.join(INFORMANTS)}")
    flag(
        chunk["target"].isin(TARGETS).to_numpy(),
        "target",
        lambda i: f"{col['target'][i]!r} is not allowed; use {' or '.join(TARGETS)}",
    )

    known = chunk["instrument"].isin(list(instruments)).to_numpy()
    flag(
        known,
        "instrument",
        lambda i: f"unknown instrument {col['instrument'][i]!r}; installed: {', '.join(sorted(instruments))}",
    )
    informant_fits = np.ones(len(chunk), dtype=bool)
    item_fits = np.ones(len(chunk), dtype=bool)
    value_fits = np.ones(len(chunk), dtype=bool)
    value_reason = np.empty(len(chunk), dtype=object)
    for code in chunk["instrument"][known].unique():
        inst = instruments[code]
        rows = (chunk["instrument"] == code).to_numpy()
        informant_fits[rows] = ~informant_ok[rows] | (chunk["informant"][rows] == inst.informant).to_numpy()
        item_fits[rows] = chunk["item"][rows].isin(inst.item_codes).to_numpy()
        judged = {}
        for text in chunk["value"][rows].unique():
            value, error = parse_value(text)
            if error:
                judged[text] = f"{error}; {code} takes {_scale(inst)}"
            elif value is not None and not inst.scale_min <= value <= inst.scale_max:
                judged[text] = f"{value} is outside the scale; {code} takes {_scale(inst)}"
        if judged:
            bad = rows & chunk["value"].isin(list(judged)).to_numpy()
            value_fits[bad] = False
            value_reason[bad] = [judged[v] for v in col["value"][bad]]
    flag(informant_fits, "informant",
         lambda i: f"{col['instrument'][i]} is filled in by informant {instruments[col['instrument'][i]].informant!r}, "
                   f"not {col['informant'][i]!r}")  # fmt: skip
    flag(item_fits, "item", lambda i: f"{col['item'][i]!r} is not an item of {col['instrument'][i]}; its items are "
                                      f"{', '.join(instruments[col['instrument'][i]].item_codes)}")  # fmt: skip
    flag(value_fits, "value", lambda i: value_reason[i])
    # Without a known instrument the value can only be checked for being a whole number.
    unknown_values = (
        ~known & (chunk["value"] != "").to_numpy() & ~_valid(chunk["value"], lambda v: bool(INTEGER.fullmatch(v)))
    )
    flag(
        ~unknown_values,
        "value",
        lambda i: f"{col['value'][i]!r} is not a whole number; use a whole number, or leave it empty for unanswered",
    )
    problems.sort(key=lambda p: p.line or 0)
    return problems
