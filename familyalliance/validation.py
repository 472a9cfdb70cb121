"""Checks on item answers, shared by every way answers come in: forms, member links, import.

Pure: no Flask, no database. Each problem names the line (when there is one) and the
field, and says what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .instruments import Instrument
from .vocab import INFORMANTS, TARGETS

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
