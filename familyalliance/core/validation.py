"""Checks on item answers, shared by every way answers come in: forms, member links, import.

Pure: no Flask, no database. Each problem names the line (when there is one) and the
field, and says what is allowed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from familyalliance.core.catalog import N_, gettext
from familyalliance.core.instruments import Instrument
from familyalliance.core.vocab import CODE_PATTERN, INFORMANTS, MODES, ROLES, TARGETS

#: A whole number in ASCII digits (``\d`` would take any script's digits, which the import's reader cannot parse).
INTEGER = re.compile(r"^[+-]?[0-9]+$")
#: Digits an answer may have (leading zeros aside): far beyond every scale, and never thousands, which int() refuses.
MAX_DIGITS = 18


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input.

    ``message`` is the English wording of the import and the command line, naming codes and lines.
    A problem a person can meet in a form (a value off the scale) also has a ``wording`` from the
    message catalog, which :meth:`text` gives in the page's language without codes.
    """

    field: str
    message: str
    line: int | None = None
    #: The catalog message and its values, or None when ``message`` is the only wording.
    wording: tuple[str, tuple[tuple[str, object], ...]] | None = dataclasses.field(default=None, compare=False)

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"

    def text(self, language: str) -> str:
        """The problem for a person, in ``language`` (``message`` when there is no such wording)."""
        if self.wording is None:
            return self.message
        message, values = self.wording
        return gettext(message, language) % dict(values)


#: What a person is told about a value that the questionnaire's scale does not take (``value`` as given).
NOT_WHOLE = N_("“%(value)s” is not a whole number. Give a whole number from %(low)s to %(high)s, or leave it empty.")
OUTSIDE = N_("%(value)s is outside the scale. Give a whole number from %(low)s to %(high)s, or leave it empty.")
#: The same as a browser says it while typing, where the text typed cannot be read back.
NOT_WHOLE_TYPED = N_("Not a whole number. Give a whole number from %(low)s to %(high)s, or leave it empty.")


def scale_number(definition: Instrument, value: int) -> str:
    """A point of the scale as people read it: with a plus sign on a scale that has negative points (+3)."""
    return f"+{value}" if definition.scale_min < 0 and value > 0 else str(value)


def scale_values(definition: Instrument) -> dict[str, str]:
    """The ends of the scale, for the messages above (``low`` and ``high``)."""
    low, high = definition.scale_min, definition.scale_max
    return {"low": scale_number(definition, low), "high": scale_number(definition, high)}


def _read(raw: object) -> tuple[int | None, str | None, str]:
    """A submitted value as (int or None for unanswered, what is wrong, the value as a message quotes it).

    What is wrong: None, ``"not_whole"``, or ``"too_long"`` (more digits than any scale has).
    """
    if raw is None:
        return None, None, ""
    if isinstance(raw, bool):
        return None, "not_whole", repr(raw)
    if isinstance(raw, int):
        return raw, None, str(raw)
    if isinstance(raw, float):
        return (int(raw), None, repr(raw)) if raw.is_integer() else (None, "not_whole", repr(raw))
    text = str(raw).strip()
    if text == "":
        return None, None, ""
    if not INTEGER.fullmatch(text):
        return None, "not_whole", text
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > MAX_DIGITS:
        return None, "too_long", text
    return int(digits) * (-1 if text.startswith("-") else 1), None, text


def parse_value(raw: object) -> tuple[int | None, str | None]:
    """Turn a submitted value into an int (None for unanswered); return (value, error)."""
    value, wrong, _ = _read(raw)
    if wrong == "not_whole":
        quoted = repr(raw) if isinstance(raw, bool | float) else repr(str(raw).strip())
        return None, f"{quoted} is not a whole number"
    if wrong == "too_long":
        text = str(raw).strip()
        digits = text.lstrip("+-").lstrip("0") or "0"
        return None, f"{text[:MAX_DIGITS]!r}... ({len(digits)} digits) is outside the scale"
    return value, None


# The words of each problem, shared by the one-answer and the whole-file checks.


def _not_allowed(value: str, allowed: tuple[str, ...]) -> str:
    return f"{value!r} is not allowed; use {' or '.join(allowed)}"


def _unknown_instrument(code: str, instruments: Mapping[str, Instrument]) -> str:
    return f"unknown instrument {code!r}; installed: {', '.join(sorted(instruments))}"


def _wrong_informant(definition: Instrument, informant: str) -> str:
    return f"{definition.code} is filled in by informant {definition.informant!r}, not {informant!r}"


def _not_an_item(definition: Instrument, item: str) -> str:
    return f"{item!r} is not an item of {definition.code}; its items are {', '.join(definition.item_codes)}"


def _value_problem(definition: Instrument, raw: object) -> str | None:
    """What is wrong with a submitted value for this instrument, or None."""
    parsed, error = parse_value(raw)
    if error:
        return f"{error}; {definition.code} takes {_scale(definition)}"
    if parsed is not None and not definition.scale_min <= parsed <= definition.scale_max:
        return f"{parsed} is outside the scale; {definition.code} takes {_scale(definition)}"
    return None


def _value_wording(definition: Instrument, raw: object) -> tuple[str, tuple[tuple[str, object], ...]] | None:
    """What is wrong with a value, for a person: the catalog message and its values, or None."""
    value, wrong, text = _read(raw)
    if wrong == "too_long":
        text = f"{text[:MAX_DIGITS]}…"
    elif wrong is None and (value is None or definition.scale_min <= value <= definition.scale_max):
        return None
    message = NOT_WHOLE if wrong == "not_whole" else OUTSIDE
    return message, tuple({"value": text, **scale_values(definition)}.items())


def value_message(definition: Instrument, raw: object, language: str) -> str | None:
    """What is wrong with a value for this instrument, worded for a person in ``language``; None when fine."""
    wording = _value_wording(definition, raw)
    return None if wording is None else gettext(wording[0], language) % dict(wording[1])


def check_answer(
    instruments: Mapping[str, Instrument],
    informant: str,
    target: str,
    instrument: str,
    item: str,
    value: object,
    line: int | None = None,
) -> tuple[int | None, list[Problem]]:
    """Check one answer; return its parsed value and the problems (empty when fine).

    A value off the scale is the one problem a person can meet in a form: it carries a wording for
    people (:meth:`Problem.text`) beside the import's.
    """
    problems = []
    if informant not in INFORMANTS:
        problems.append(Problem("informant", _not_allowed(informant, INFORMANTS), line))
    if target not in TARGETS:
        problems.append(Problem("target", _not_allowed(target, TARGETS), line))
    definition = instruments.get(instrument)
    if definition is None:
        problems.append(Problem("instrument", _unknown_instrument(instrument, instruments), line))
        return None, problems
    if informant in INFORMANTS and informant != definition.informant:
        problems.append(Problem("informant", _wrong_informant(definition, informant), line))
    if definition.item(item) is None:
        problems.append(Problem("item", _not_an_item(definition, item), line))
    message = _value_problem(definition, value)
    if message:
        problems.append(Problem("value", message, line, _value_wording(definition, value)))
        return None, problems
    return parse_value(value)[0], problems


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
#: The optional eleventh column: how the form was given (``vocab.MODES``), empty when unknown.
MODE = "mode"
#: The header with the mode column, as the ``long`` export writes it; the import takes either.
LONG_HEADER_WITH_MODE = [*LONG_HEADER, MODE]
LONG_HEADERS = (LONG_HEADER, LONG_HEADER_WITH_MODE)
#: The columns that name one form (one member's questionnaire at one session); its items share one mode.
FORM_KEY = ["family", "member", "session", "informant", "target", "instrument"]
DATE = r"^\d{4}-\d{2}-\d{2}$"


def header_problem(header: list[str] | None) -> str | None:
    """What is wrong with a long CSV's header row, or None when it is one of ``LONG_HEADERS``."""
    if header is None:
        return f"the file is empty; expected the header {','.join(LONG_HEADER)} (optionally followed by ,{MODE})"
    if header in LONG_HEADERS:
        return None
    return (
        f"the header must be exactly {','.join(LONG_HEADER)} (optionally followed by ,{MODE}); found {','.join(header)}"
    )


def mode_text(mode: str) -> str:
    """A mode as a problem names it: quoted, or ``empty (unknown)``."""
    return repr(mode) if mode else "empty (unknown)"


def mode_conflict(form: str, first_mode: str, first_line: int, mode: str, line: int) -> Problem:
    """The problem of a line whose mode differs from the mode its form has on an earlier line."""
    return Problem(
        MODE,
        f"form {form} has mode {mode_text(first_mode)} on line {first_line}; one mode per form, "
        f"this line says {mode_text(mode)}",
        line,
    )


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
    value is judged once). A chunk with the ``mode`` column has each mode checked too. Cross-row
    rules (one date per session, one role per member, one answer per key, one mode per form) are
    the caller's (:func:`mode_conflict` words the last).
    """
    problems: list[Problem] = []

    def cell(name: str, i: int) -> str:
        """The text of one cell, looked up only for rows with a problem."""
        return chunk[name].iloc[int(i)]

    def flag(ok: np.ndarray, field: str, message) -> None:
        for i in np.flatnonzero(~ok):
            problems.append(Problem(field, message(i), int(lines[i])))

    for name in ("family", "member"):
        flag(
            _valid(chunk[name], lambda v: bool(CODE_PATTERN.fullmatch(v))),
            name,
            lambda i, n=name: f"{cell(n, i)!r} is not a valid code; use 1 to 64 letters, digits, '-', '_' or '.'",
        )
    flag(
        chunk["role"].isin(ROLES).to_numpy(),
        "role",
        lambda i: f"{cell('role', i)!r} is not a role; use one of {', '.join(ROLES)}",
    )
    flag(
        _valid(chunk["session"], _is_session),
        "session",
        lambda i: f"{cell('session', i)!r} is not a session number; use a whole number from 1",
    )
    flag(_valid(chunk["date"], _is_date), "date", lambda i: f"{cell('date', i)!r} is not a date; use YYYY-MM-DD")
    informant_ok = chunk["informant"].isin(INFORMANTS).to_numpy()
    flag(informant_ok, "informant", lambda i: _not_allowed(cell("informant", i), INFORMANTS))
    flag(
        chunk["target"].isin(TARGETS).to_numpy(),
        "target",
        lambda i: _not_allowed(cell("target", i), TARGETS),
    )

    known = chunk["instrument"].isin(list(instruments)).to_numpy()
    flag(
        known,
        "instrument",
        lambda i: _unknown_instrument(cell("instrument", i), instruments),
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
        judged = {text: _value_problem(inst, text) for text in chunk["value"][rows].unique()}
        judged = {text: message for text, message in judged.items() if message}
        if judged:
            bad = rows & chunk["value"].isin(list(judged)).to_numpy()
            value_fits[bad] = False
            value_reason[bad] = [judged[v] for v in chunk["value"].to_numpy(dtype=object)[bad]]
    flag(
        informant_fits,
        "informant",
        lambda i: _wrong_informant(instruments[cell("instrument", i)], cell("informant", i)),
    )
    flag(item_fits, "item", lambda i: _not_an_item(instruments[cell("instrument", i)], cell("item", i)))
    flag(value_fits, "value", lambda i: value_reason[i])
    # Without a known instrument the value can only be checked for being a whole number.
    unknown_values = (
        ~known & (chunk["value"] != "").to_numpy() & ~_valid(chunk["value"], lambda v: bool(INTEGER.fullmatch(v)))
    )
    flag(
        ~unknown_values,
        "value",
        lambda i: f"{cell('value', i)!r} is not a whole number; use a whole number, or leave it empty for unanswered",
    )
    if MODE in chunk.columns:
        flag(
            _valid(chunk[MODE], lambda v: v == "" or v in MODES),
            MODE,
            lambda i: f"{cell(MODE, i)!r} is not a mode; use one of {', '.join(MODES)}, or leave it empty when unknown",
        )
    problems.sort(key=lambda p: p.line or 0)
    return problems
