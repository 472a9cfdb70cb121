"""The long CSV's optional ``mode`` column in the pure layer: its checks, the long table, its writers and codebook.

metrics.md section 3: a file has the ten-column header or the eleven-column one ending in
``mode``; a mode is one of ``vocab.MODES`` or empty (unknown). The ``long`` export writes all
eleven columns, streamed or built, with the same bytes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from familyalliance.core import codebook, exports, vocab
from familyalliance.core.analytics import DEFAULTS
from familyalliance.core.instruments import builtin_instruments
from familyalliance.core.validation import (
    LONG_HEADER,
    LONG_HEADER_WITH_MODE,
    check_long_chunk,
    header_problem,
    mode_conflict,
)

INSTRUMENTS = builtin_instruments()
ITEMS = ("bond", "goals_tasks", "safety", "shared_purpose")


def chunk(modes: list[str] | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Valid check4 rows of one form each (member M<i>), with these modes (no mode column when None)."""
    count = len(modes) if modes is not None else 3
    rows = [
        ["F1", f"M{i}", "mother", "1", "2026-01-05", "self", "therapist", "check4", "bond", "5"] for i in range(count)
    ]
    frame = pd.DataFrame(rows, columns=LONG_HEADER)
    if modes is not None:
        frame["mode"] = modes
    return frame, np.arange(2, 2 + count)


def test_header_with_or_without_mode():
    assert [*LONG_HEADER, "mode"] == LONG_HEADER_WITH_MODE
    assert header_problem(LONG_HEADER) is None and header_problem(LONG_HEADER_WITH_MODE) is None
    for wrong in ([*LONG_HEADER, "Mode"], [*LONG_HEADER, "mode", "extra"], ["mode", *LONG_HEADER], LONG_HEADER[:-1]):
        assert header_problem(wrong).startswith(
            f"the header must be exactly {','.join(LONG_HEADER)} (optionally followed by ,mode); found "
        )
    assert header_problem(None).startswith("the file is empty; expected the header")


def test_every_mode_and_empty_pass():
    assert check_long_chunk(*chunk([*vocab.MODES, ""]), INSTRUMENTS) == []
    assert check_long_chunk(*chunk(None), INSTRUMENTS) == []


@pytest.mark.parametrize("bad", ["email", "LINK", " link", "link ", "paper,grid", "unknown", "0"])
def test_a_bad_mode_is_named_with_its_line(bad):
    problems = check_long_chunk(*chunk(["link", bad, "grid"]), INSTRUMENTS)
    assert [(p.line, p.field) for p in problems] == [(3, "mode")]
    assert problems[0].message == (
        f"{bad!r} is not a mode; use one of link, round, paper, grid, import, or leave it empty when unknown"
    )


def test_the_words_of_two_modes():
    problem = mode_conflict("F1/M1/1/self/therapist/check4", "link", 2, "", 9)
    assert str(problem) == (
        "line 9, mode: form F1/M1/1/self/therapist/check4 has mode 'link' on line 2; one mode per form, "
        "this line says empty (unknown)"
    )


def answers(with_mode: bool = True) -> pd.DataFrame:
    """A long answers table as ``queries.responses_frame`` gives it, forms in every mode (None: unknown)."""
    modes = [*vocab.MODES, None]
    rows = []
    for i, mode in enumerate(modes):
        for item in ITEMS:
            value = None if item == "safety" else i % 11
            member = "-M0" if i == 0 else f"M{i}"  # a code a spreadsheet would run
            row = ["F1", member, "mother", 1 + i % 2, dt.date(2026, 1, 5 + 7 * (i % 2))]
            rows.append([*row, "self", "therapist", "check4", item, value, mode])
    frame = pd.DataFrame(rows[::-1], columns=LONG_HEADER_WITH_MODE)  # out of order: build sorts
    frame["value"] = pd.array(frame["value"], dtype="Int64")
    return frame if with_mode else frame.drop(columns="mode")


def test_long_table_has_mode_last():
    assert exports.COLUMNS["long"] == LONG_HEADER_WITH_MODE
    table = exports.build("long", answers(), INSTRUMENTS, DEFAULTS)
    assert list(table.columns) == LONG_HEADER_WITH_MODE
    assert table.groupby("member")["mode"].first().fillna("").to_dict() == {
        "-M0": "link",
        "M1": "round",
        "M2": "paper",
        "M3": "grid",
        "M4": "import",
        "M5": "",
    }
    without = exports.build("long", answers(with_mode=False), INSTRUMENTS, DEFAULTS)
    assert list(without.columns) == LONG_HEADER_WITH_MODE and without["mode"].isna().all()


def test_streamed_and_built_long_csv_are_the_same_bytes(tmp_path):
    table = exports.build("long", answers(), INSTRUMENTS, DEFAULTS)
    built = tmp_path / "built.csv"
    exports.write_csv(table, built)
    streamed = tmp_path / "streamed.csv"
    rows = [
        tuple(None if pd.isna(v) else (int(v) if c == "value" else v) for c, v in zip(table.columns, r, strict=True))
        for r in table.itertuples(index=False, name=None)
    ]
    exports.write_long_csv(rows, streamed)
    assert streamed.read_bytes() == built.read_bytes()
    lines = built.read_text().splitlines()
    assert lines[0] == ",".join(LONG_HEADER_WITH_MODE)
    assert lines[1] == "F1,'-M0,mother,1,2026-01-05,self,therapist,check4,bond,0,link"
    assert lines[-1] == "F1,M5,mother,2,2026-01-12,self,therapist,check4,shared_purpose,5,"


def test_pseudonymised_long_table_keeps_the_modes():
    table = exports.build("long", answers(), INSTRUMENTS, DEFAULTS)
    pseudo = exports.Pseudonymiser(b"key").apply(table)
    assert list(pseudo.columns) == LONG_HEADER_WITH_MODE
    assert sorted(pseudo["mode"].fillna("")) == sorted(table["mode"].fillna(""))


def test_codebook_labels_the_modes():
    (variable,) = codebook.variables(["mode"])
    assert (variable.kind, variable.measure) == ("category", "nominal")
    assert list(variable.values) == list(vocab.MODES)
    assert variable.value_labels("en") == {
        "link": "by personal link",
        "round": "in the round on one device",
        "paper": "typed in from paper",
        "grid": "the therapist's grid",
        "import": "imported",
    }
    assert variable.labelled("en") == "How the form was given; empty when unknown"
    rows = codebook.codebook_rows(LONG_HEADER_WITH_MODE, INSTRUMENTS)
    assert [row["variable"] for row in rows] == LONG_HEADER_WITH_MODE


def test_long_sav_and_xlsx_carry_the_mode(tmp_path):
    import pyreadstat
    from openpyxl import load_workbook

    table = exports.build("long", answers(), INSTRUMENTS, DEFAULTS)
    exports.write_sav(table, tmp_path / "long.sav", INSTRUMENTS)
    frame, meta = pyreadstat.read_sav(str(tmp_path / "long.sav"))
    assert meta.column_names == LONG_HEADER_WITH_MODE
    codes = [0.0 if pd.isna(m) else float(vocab.MODES.index(m) + 1) for m in table["mode"]]
    assert frame["mode"].fillna(0).tolist() == codes
    assert meta.variable_value_labels["mode"][1.0] == "by personal link"
    exports.write_xlsx(table, tmp_path / "long.xlsx", INSTRUMENTS, [("export", "long")])
    data = list(load_workbook(tmp_path / "long.xlsx")["data"].values)
    assert list(data[0]) == LONG_HEADER_WITH_MODE
    assert [row[-1] for row in data[1:]] == [None if pd.isna(m) else m for m in table["mode"]]
